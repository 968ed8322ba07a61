//go:build goexperiment.simd && wasm

#include "textflag.h"
#include "kernels_int8_requant_wasm.h"

// func requant16(out *uint8, outStride int, acc *int32, accStride int, np int, k *requantConsts)
//
// R0: out, R1: outStride, R2: acc, R3: accStride (bytes), R4: rows left,
// R5: the block's constants; V0–V3: a row's quads.
TEXT ·requant16(SB), NOSPLIT, $0-48
	MOVD out+0(FP), R0
	MOVD outStride+8(FP), R1
	MOVD acc+16(FP), R2
	MOVD accStride+24(FP), R3
	MOVD np+32(FP), R4
	MOVD k+40(FP), R5
	REQUANT_SETUP

	Block
	Loop
		Get R4
		I64Eqz
		BrIf $1

		Get R2; I32WrapI64; V128Load $0
		REQUANT_QUAD(0, V0)
		Get R2; I32WrapI64; V128Load $16
		REQUANT_QUAD(1, V1)
		Get R2; I32WrapI64; V128Load $32
		REQUANT_QUAD(2, V2)
		Get R2; I32WrapI64; V128Load $48
		REQUANT_QUAD(3, V3)
		REQUANT_STORE(V0, V1, V2, V3, R0)

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

// func requant16w(out *uint16, outStride int, acc *int32, accStride int, np int, k *requantConstsWide)
//
// requant16 for 12-bit outputs: the same registers, both strides in bytes.
TEXT ·requant16w(SB), NOSPLIT, $0-48
	MOVD out+0(FP), R0
	MOVD outStride+8(FP), R1
	MOVD acc+16(FP), R2
	MOVD accStride+24(FP), R3
	MOVD np+32(FP), R4
	MOVD k+40(FP), R5
	REQUANT_SETUP_WIDE

	Block
	Loop
		Get R4
		I64Eqz
		BrIf $1

		Get R2; I32WrapI64; V128Load $0
		REQUANT_QUAD(0, V0)
		Get R2; I32WrapI64; V128Load $16
		REQUANT_QUAD(1, V1)
		Get R2; I32WrapI64; V128Load $32
		REQUANT_QUAD(2, V2)
		Get R2; I32WrapI64; V128Load $48
		REQUANT_QUAD(3, V3)
		REQUANT_STORE_WIDE(V0, V1, V2, V3, R0)

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
