//go:build goexperiment.simd && wasm

#include "textflag.h"
#include "kernels_int8_requant_wasm.h"

// func dotPairs(acc *[2][16]int32, rows *convRow, n int, w *int8, bias *[16]int32, k *requantConsts, y0, y1 *uint8, wide int)
//
// With k nil it stores the accumulators in acc; otherwise it requantizes
// them with the block's constants k (as requant16 does) into the 16 bytes
// at y0 and, unless y1 is nil, at y1: no second call, no trip through acc.
// With wide 1, k is a *requantConstsWide and y0, y1 hold 16 uint16s (as
// requant16w).
//
// V0–V3: pixel 0's accumulators (channels 0–3, 4–7, 8–11, 12–15),
// V4–V7: pixel 1's; V8, V9: the pair's 32 weight bytes; V10–V13: them
// widened to int16 (channels 0–3, …, 12–15, the two rows side by side);
// V14: a pixel's two inputs splatted. R1 walks rows (12 bytes each), R2
// counts down, R4 is the pair's weight address.
TEXT ·dotPairs(SB), NOSPLIT, $0-72
	MOVD bias+32(FP), R0
	Get R0
	I32WrapI64
	V128Load $0
	Set V0
	Get R0
	I32WrapI64
	V128Load $16
	Set V1
	Get R0
	I32WrapI64
	V128Load $32
	Set V2
	Get R0
	I32WrapI64
	V128Load $48
	Set V3
	Get V0
	Set V4
	Get V1
	Set V5
	Get V2
	Set V6
	Get V3
	Set V7

	MOVD rows+8(FP), R1
	MOVD n+16(FP), R2
	MOVD w+24(FP), R3

	Block
	Loop
		Get R2
		I64Eqz
		BrIf $1

		Get R1
		I32WrapI64
		I64Load32S $0
		Get R3
		I64Add
		Set R4

		Get R4
		I32WrapI64
		V128Load $0
		Set V8
		Get R4
		I32WrapI64
		V128Load $16
		Set V9
		Get V8
		I16x8ExtendLowI8x16S
		Set V10
		Get V8
		I16x8ExtendHighI8x16S
		Set V11
		Get V9
		I16x8ExtendLowI8x16S
		Set V12
		Get V9
		I16x8ExtendHighI8x16S
		Set V13

		// Pixel 0.
		Get R1
		I32WrapI64
		I32Load $4
		I32x4Splat
		Set V14
		Get V0
		Get V10
		Get V14
		I32x4DotI16x8S
		I32x4Add
		Set V0
		Get V1
		Get V11
		Get V14
		I32x4DotI16x8S
		I32x4Add
		Set V1
		Get V2
		Get V12
		Get V14
		I32x4DotI16x8S
		I32x4Add
		Set V2
		Get V3
		Get V13
		Get V14
		I32x4DotI16x8S
		I32x4Add
		Set V3

		// Pixel 1.
		Get R1
		I32WrapI64
		I32Load $8
		I32x4Splat
		Set V14
		Get V4
		Get V10
		Get V14
		I32x4DotI16x8S
		I32x4Add
		Set V4
		Get V5
		Get V11
		Get V14
		I32x4DotI16x8S
		I32x4Add
		Set V5
		Get V6
		Get V12
		Get V14
		I32x4DotI16x8S
		I32x4Add
		Set V6
		Get V7
		Get V13
		Get V14
		I32x4DotI16x8S
		I32x4Add
		Set V7

		Get R1
		I64Const $12
		I64Add
		Set R1
		Get R2
		I64Const $1
		I64Sub
		Set R2
		Br $0
	End
	End

	MOVD k+40(FP), R5
	Get R5
	I64Eqz
	I32Eqz
	If
		MOVD y0+48(FP), R7
		MOVD y1+56(FP), R8
		MOVD wide+64(FP), R9
		Get R9
		I64Eqz
		If
			REQUANT_PAIR
		Else
			REQUANT_PAIR_WIDE
		End
		RET
	End

	MOVD acc+0(FP), R0
	STORE_PAIR_ACC
	RET
