//go:build goexperiment.simd && wasm

#include "textflag.h"

// QUAD requantizes channels 4i..4i+3 of the row at R2 with the block at R5
// into dst, as int32 lanes holding v+512 (v before the output clamp):
// clamp to ±bound, times 2^(S−S_c), i64x2.extmul by M, + bias, logical
// shift by S (R6), − k. Each 64-bit lane then holds a number in [254,
// 1025], so its high word is 0, and i16x8.narrow_i32x4_s of the two halves
// leaves the four as int32 lanes, in order.
#define QUAD(i, dst) \
	Get R2; I32WrapI64; V128Load $(16*i); \
	Get R5; I32WrapI64; V128Load $(16*i); \
	I32x4MinS; \
	Get R5; I32WrapI64; V128Load $(64+16*i); \
	I32x4MaxS; \
	Get R5; I32WrapI64; V128Load $(128+16*i); \
	I32x4Mul; \
	Set V13; \
	Get R5; I32WrapI64; V128Load $(192+16*i); \
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

// func requant16(out *uint8, outStride int, acc *int32, accStride int, np int, k *requantConsts)
//
// R0: out, R1: outStride, R2: acc, R3: accStride (bytes), R4: rows left,
// R5: the block's constants (requantConsts), R6: S. V8: bias, V9: k (i64x2
// splats), V10: 512 (i16x8), V11, V12: lo, hi (u8x16).
TEXT ·requant16(SB), NOSPLIT, $0-48
	MOVD out+0(FP), R0
	MOVD outStride+8(FP), R1
	MOVD acc+16(FP), R2
	MOVD accStride+24(FP), R3
	MOVD np+32(FP), R4
	MOVD k+40(FP), R5

	Get R5
	I32WrapI64
	I64Load $256
	I64x2Splat
	Set V8
	Get R5
	I32WrapI64
	I64Load $264
	Set R6
	Get R5
	I32WrapI64
	I64Load $272
	I64x2Splat
	Set V9
	I32Const $512
	I16x8Splat
	Set V10
	Get R5
	I32WrapI64
	V128Load $280
	Set V11
	Get R5
	I32WrapI64
	V128Load $296
	Set V12

	Block
	Loop
		Get R4
		I64Eqz
		BrIf $1

		QUAD(0, V0)
		QUAD(1, V1)
		QUAD(2, V2)
		QUAD(3, V3)

		// Channels 0–7 and 8–15 as int16 v, then bytes saturated to
		// [0, 255] and clamped to [lo, hi] ⊂ [0, 255]: the same as
		// clamping v to [lo, hi].
		Get R0
		I32WrapI64
		Get V0
		Get V1
		I16x8NarrowI32x4S
		Get V10
		I16x8Sub
		Get V2
		Get V3
		I16x8NarrowI32x4S
		Get V10
		I16x8Sub
		I8x16NarrowI16x8U
		Get V11
		I8x16MaxU
		Get V12
		I8x16MinU
		V128Store $0

		Get R0
		Get R1
		I64Add
		Set R0
		Get R2
		Get R3
		I64Add
		Set R2
		Get R4
		I64Const $1
		I64Sub
		Set R4
		Br $0
	End
	End
	RET
