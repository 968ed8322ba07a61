// Requantization in wasm SIMD128, shared by requant16, dotPairs and
// depthwiseBlocks: see kernels_int8_requant_simd_wasm.go for the arithmetic
// and requantConsts for the constants at R5. The block kernels keep two
// pixels' accumulators in V0–V3 and V4–V7 (16 channels each).

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

// REQUANT_PIXEL requantizes one pixel's accumulators a0–a3 (channels
// 0–3, …, 12–15) with the constants at R5 (after REQUANT_SETUP) into the 16
// bytes at the address in addr.
#define REQUANT_PIXEL(a0, a1, a2, a3, addr) \
	Get a0; REQUANT_QUAD(0, a0); \
	Get a1; REQUANT_QUAD(1, a1); \
	Get a2; REQUANT_QUAD(2, a2); \
	Get a3; REQUANT_QUAD(3, a3); \
	REQUANT_STORE(a0, a1, a2, a3, addr)

// REQUANT_PAIR requantizes a block kernel's accumulators with the
// constants at R5: V0–V3 into the 16 bytes at R7 and, unless R8 is 0,
// V4–V7 into those at R8.
#define REQUANT_PAIR \
	REQUANT_SETUP; \
	REQUANT_PIXEL(V0, V1, V2, V3, R7); \
	Get R8; I64Eqz; I32Eqz; \
	If; \
		REQUANT_PIXEL(V4, V5, V6, V7, R8); \
	End

// STORE_PAIR_ACC stores a block kernel's accumulators V0–V7 as int32s to
// the 128 bytes at R0 (a store's offset immediate is not encoded by the
// assembler: addresses are added up).
#define STORE_PAIR_ACC \
	Get R0; I32WrapI64; Get V0; V128Store $0; \
	Get R0; I32WrapI64; I32Const $16; I32Add; Get V1; V128Store $0; \
	Get R0; I32WrapI64; I32Const $32; I32Add; Get V2; V128Store $0; \
	Get R0; I32WrapI64; I32Const $48; I32Add; Get V3; V128Store $0; \
	Get R0; I32WrapI64; I32Const $64; I32Add; Get V4; V128Store $0; \
	Get R0; I32WrapI64; I32Const $80; I32Add; Get V5; V128Store $0; \
	Get R0; I32WrapI64; I32Const $96; I32Add; Get V6; V128Store $0; \
	Get R0; I32WrapI64; I32Const $112; I32Add; Get V7; V128Store $0

// REQUANT_SETUP_WIDE is REQUANT_SETUP for requantConstsWide: V8 bias, R6
// S, V9 k, V10 8192 (i16x8), V11 lo and V12 hi (i16x8).
#define REQUANT_SETUP_WIDE \
	Get R5; I32WrapI64; I64Load $192; I64x2Splat; Set V8; \
	Get R5; I32WrapI64; I64Load $200; Set R6; \
	Get R5; I32WrapI64; I64Load $208; I64x2Splat; Set V9; \
	I32Const $8192; I16x8Splat; Set V10; \
	Get R5; I32WrapI64; I32Load $216; I16x8Splat; Set V11; \
	Get R5; I32WrapI64; I32Load $220; I16x8Splat; Set V12

// REQUANT_STORE_WIDE stores the quads q0..q3 (channels 0–15, from
// REQUANT_QUAD, holding v+8192) as 16 int16s v clamped to [lo, hi] at the
// address in addr: channels 0–7, then 8–15 16 bytes on.
#define REQUANT_STORE_WIDE(q0, q1, q2, q3, addr) \
	Get addr; I32WrapI64; \
	Get q0; Get q1; I16x8NarrowI32x4S; Get V10; I16x8Sub; \
	Get V11; I16x8MaxS; \
	Get V12; I16x8MinS; \
	V128Store $0; \
	Get addr; I32WrapI64; I32Const $16; I32Add; \
	Get q2; Get q3; I16x8NarrowI32x4S; Get V10; I16x8Sub; \
	Get V11; I16x8MaxS; \
	Get V12; I16x8MinS; \
	V128Store $0

// REQUANT_PAIR_WIDE is REQUANT_PAIR with the requantConstsWide at R5:
// V0–V3 into the 16 uint16s at R7 and, unless R8 is 0, V4–V7 into those
// at R8.
#define REQUANT_PAIR_WIDE \
	REQUANT_SETUP_WIDE; \
	Get V0; REQUANT_QUAD(0, V0); \
	Get V1; REQUANT_QUAD(1, V1); \
	Get V2; REQUANT_QUAD(2, V2); \
	Get V3; REQUANT_QUAD(3, V3); \
	REQUANT_STORE_WIDE(V0, V1, V2, V3, R7); \
	Get R8; I64Eqz; I32Eqz; \
	If; \
		Get V4; REQUANT_QUAD(0, V4); \
		Get V5; REQUANT_QUAD(1, V5); \
		Get V6; REQUANT_QUAD(2, V6); \
		Get V7; REQUANT_QUAD(3, V7); \
		REQUANT_STORE_WIDE(V4, V5, V6, V7, R8); \
	End
