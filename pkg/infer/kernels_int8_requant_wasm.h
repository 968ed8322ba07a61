// Requantization in wasm SIMD128, shared by requant16 and dotPairs: see
// kernels_int8_requant_simd_wasm.go for the arithmetic and requantConsts
// for the constants at R5.

// REQUANT_SETUP loads the block's shared constants from R5: V8 bias and V9
// k (i64x2 splats), R6 S, V10 512 (i16x8), V11 lo and V12 hi (u8x16).
#define REQUANT_SETUP \
	Get R5; I32WrapI64; I64Load $192; I64x2Splat; Set V8; \
	Get R5; I32WrapI64; I64Load $200; Set R6; \
	Get R5; I32WrapI64; I64Load $208; I64x2Splat; Set V9; \
	I32Const $512; I16x8Splat; Set V10; \
	Get R5; I32WrapI64; V128Load $216; Set V11; \
	Get R5; I32WrapI64; V128Load $232; Set V12

// REQUANT_QUAD requantizes the int32x4 accumulators of channels 4i..4i+3
// on the stack into dst, as int32 lanes holding v+512 (v before the output
// clamp): clamp to ±bound, times 2^(S−S_c), i64x2.extmul by M, + bias,
// logical shift by S, − k. Each 64-bit lane then holds a number in [254,
// 1025], so its high word is 0, and i16x8.narrow_i32x4_s of the two halves
// leaves the four as int32 lanes, in order. Uses V13, V14.
#define REQUANT_QUAD(i, dst) \
	Get R5; I32WrapI64; V128Load $(16*i); \
	I32x4MinS; \
	Get R5; I32WrapI64; V128Load $(16*i); \
	I32x4Neg; \
	I32x4MaxS; \
	Get R5; I32WrapI64; V128Load $(64+16*i); \
	I32x4Mul; \
	Set V13; \
	Get R5; I32WrapI64; V128Load $(128+16*i); \
	Set V14; \
	Get V13; Get V14; I64x2ExtmulLowI32x4S; \
	Get V8; I64x2Add; \
	Get R6; I32WrapI64; I64x2ShrU; \
	Get V9; I64x2Sub; \
	Get V13; Get V14; I64x2ExtmulHighI32x4S; \
	Get V8; I64x2Add; \
	Get R6; I32WrapI64; I64x2ShrU; \
	Get V9; I64x2Sub; \
	I16x8NarrowI32x4S; \
	Set dst

// REQUANT_STORE packs the quads q0..q3 (channels 0–15, from REQUANT_QUAD)
// into 16 bytes at the address in the i64 register addr: int16 v, then
// bytes saturated to [0, 255] and clamped to [lo, hi] ⊂ [0, 255], which is
// the same as clamping v to [lo, hi].
#define REQUANT_STORE(q0, q1, q2, q3, addr) \
	Get addr; I32WrapI64; \
	Get q0; Get q1; I16x8NarrowI32x4S; Get V10; I16x8Sub; \
	Get q2; Get q3; I16x8NarrowI32x4S; Get V10; I16x8Sub; \
	I8x16NarrowI16x8U; \
	Get V11; I8x16MaxU; \
	Get V12; I8x16MinU; \
	V128Store $0
