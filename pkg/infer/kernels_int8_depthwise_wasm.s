//go:build goexperiment.simd && wasm

#include "textflag.h"
#include "kernels_int8_requant_wasm.h"

// DW_PIXEL adds one window cell's products for one pixel to its
// accumulators a0–a3: the cell's address is at addrs, the block's bytes
// at that plus R10 (widened to int16 in V10, V11; R11 scratch), the tap's
// weights in V8, V9.
#define DW_PIXEL(addrs, a0, a1, a2, a3) \
	Get addrs; I32WrapI64; I64Load $0; Get R10; I64Add; Set R11; \
	Get R11; I32WrapI64; V128Load $0; Set V11; \
	Get V11; I16x8ExtendLowI8x16U; Set V10; \
	Get V11; I16x8ExtendHighI8x16U; Set V11; \
	Get a0; Get V10; Get V8; I32x4ExtmulLowI16x8S; I32x4Add; Set a0; \
	Get a1; Get V10; Get V8; I32x4ExtmulHighI16x8S; I32x4Add; Set a1; \
	Get a2; Get V11; Get V9; I32x4ExtmulLowI16x8S; I32x4Add; Set a2; \
	Get a3; Get V11; Get V9; I32x4ExtmulHighI16x8S; I32x4Add; Set a3

// func depthwiseBlocks(addrs *[2][depthwiseMaxTaps]uintptr, taps int, w *int8, c int, folded *int32, vec *requantConsts, b, nb int, y0, y1 *uint8, acc *[2][16]int32) int
//
// For blocks b..nb−1 of 16 channels, the depthwise dot products of two
// pixels whose window cells start at addrs[0][t] and addrs[1][t] (a
// padding cell at a row of zero points), plus folded, requantized with
// vec[b] into y0 + 16b and, unless y1 is nil, y1 + 16b. It stops at the
// first block vec leaves to the scalar loop (shift 0), with that block's
// accumulators in acc, and returns its index; nb once all are done.
//
// Inputs and weights are widened to int16 (the assembler does not encode
// v128.load8x8's memory argument), and i32x4.extmul makes the exact
// products.
// V0–V3: pixel 0's accumulators (channels 0–3, …, 12–15), V4–V7: pixel
// 1's; V8, V9: the tap's weights (channels 0–7, 8–15); V10, V11: a pixel's
// inputs. R1, R2 walk addrs, R3 counts taps down, R4 walks w by c, R9 is
// the block, R10 its byte offset 16b, R11 an input address.
TEXT ·depthwiseBlocks(SB), NOSPLIT, $0-96
	MOVD b+48(FP), R9

	Block
	Loop
		Get R9
		MOVD nb+56(FP), R0
		Get R0
		I64GeS
		BrIf $1

		Get R9
		I64Const $16
		I64Mul
		Set R10

		// Accumulators start at folded[16b:].
		MOVD folded+32(FP), R0
		Get R0
		Get R10
		I64Const $4
		I64Mul
		I64Add
		Set R0
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

		MOVD addrs+0(FP), R1
		Get R1
		I64Const $(8*64)
		I64Add
		Set R2
		MOVD taps+8(FP), R3
		MOVD w+16(FP), R4
		Get R4
		Get R10
		I64Add
		Set R4

		Block
		Loop
			Get R3
			I64Eqz
			BrIf $1

			Get R4
			I32WrapI64
			V128Load $0
			Set V9
			Get V9
			I16x8ExtendLowI8x16S
			Set V8
			Get V9
			I16x8ExtendHighI8x16S
			Set V9

			DW_PIXEL(R1, V0, V1, V2, V3)
			DW_PIXEL(R2, V4, V5, V6, V7)

			Get R1
			I64Const $8
			I64Add
			Set R1
			Get R2
			I64Const $8
			I64Add
			Set R2
			MOVD c+24(FP), R0
			Get R4
			Get R0
			I64Add
			Set R4
			Get R3
			I64Const $1
			I64Sub
			Set R3
			Br $0
		End
		End

		// R5: vec[b] (requantConsts are 264 bytes).
		MOVD vec+40(FP), R5
		Get R5
		Get R9
		I64Const $264
		I64Mul
		I64Add
		Set R5
		Get R5
		I32WrapI64
		I64Load $200
		I64Eqz
		If
			// Left to the scalar loop: hand back the accumulators.
			MOVD acc+80(FP), R0
			STORE_PAIR_ACC
			MOVD R9, ret+88(FP)
			RET
		End

		MOVD y0+64(FP), R7
		Get R7
		Get R10
		I64Add
		Set R7
		MOVD y1+72(FP), R8
		Get R8
		I64Eqz
		I32Eqz
		If
			Get R8
			Get R10
			I64Add
			Set R8
		End
		REQUANT_PAIR

		Get R9
		I64Const $1
		I64Add
		Set R9
		Br $0
	End
	End

	MOVD R9, ret+88(FP)
	RET
