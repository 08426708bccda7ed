//go:build amd64

#include "textflag.h"

// func dequantNibblesAVX(x *float32, src *byte, h int, halfS float32)
// x[j] = float32(lo nibble of src[j])·halfS and x[h+j] = float32(hi nibble
// of src[j])·halfS for j < h (a multiple of 8), nibbles as 4-bit two's
// complement: dequantPacked's Go loop for nibble rows.
TEXT ·dequantNibblesAVX(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         h+16(FP), CX
	VBROADCASTSS halfS+24(FP), Y8
	LEAQ         (DI)(CX*4), DX // x[h:]
	SHRQ         $3, CX
	JZ           dnDone

dnLoop:
	VPMOVZXBD (SI), Y0
	VPSLLD    $28, Y0, Y1
	VPSRAD    $28, Y1, Y1
	VPSLLD    $24, Y0, Y2
	VPSRAD    $28, Y2, Y2
	VCVTDQ2PS Y1, Y1
	VCVTDQ2PS Y2, Y2
	VMULPS    Y8, Y1, Y1
	VMULPS    Y8, Y2, Y2
	VMOVUPS   Y1, (DI)
	VMOVUPS   Y2, (DX)
	ADDQ      $8, SI
	ADDQ      $32, DI
	ADDQ      $32, DX
	DECQ      CX
	JNZ       dnLoop

dnDone:
	VZEROUPPER
	RET

// func dequantInt8AVX(x *float32, src *byte, n int, halfS float32)
// x[i] = float32(int8(src[i]))·halfS for i < n (a multiple of 8).
TEXT ·dequantInt8AVX(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS halfS+24(FP), Y8
	SHRQ         $3, CX
	JZ           d8Done

d8Loop:
	VPMOVSXBD (SI), Y0
	VCVTDQ2PS Y0, Y0
	VMULPS    Y8, Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $8, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       d8Loop

d8Done:
	VZEROUPPER
	RET
