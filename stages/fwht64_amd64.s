//go:build amd64

#include "textflag.h"

// In-register inverse Walsh–Hadamard transforms of one 64-vector (the Go
// twin is Hadamard.InverseScratch: fwht, then the product with pre). The
// vector lives in Y0…Y7 throughout: stages 1, 2, 4 inside each register as
// fwhtUnit8AVX computes them, then 8, 16, 32 across registers, each
// butterfly (u+v, u−v) on the same operands as fwht, in the same order of
// stages, so the results are bit-identical.

// UNIT applies stages 1, 2, 4 to register R (temps Y12…Y14).
#define UNIT(R) \
	VPERMILPS  $0xB1, R, Y12 \
	VADDPS     Y12, R, Y13   \
	VSUBPS     R, Y12, Y14   \
	VBLENDPS   $0xAA, Y14, Y13, R \
	VPERMILPS  $0x4E, R, Y12 \
	VADDPS     Y12, R, Y13   \
	VSUBPS     R, Y12, Y14   \
	VBLENDPS   $0xCC, Y14, Y13, R \
	VPERM2F128 $0x01, R, R, Y12 \
	VADDPS     Y12, R, Y13   \
	VSUBPS     R, Y12, Y14   \
	VBLENDPS   $0xF0, Y14, Y13, R

// BFLY sets (A, B) to (A+B, A−B) (temp Y12).
#define BFLY(A, B) \
	VADDPS B, A, Y12 \
	VSUBPS B, A, B   \
	VMOVAPS Y12, A

// FWHT64 transforms Y0…Y7, multiplies by pre (DX) and stores to DI.
#define FWHT64 \
	UNIT(Y0) \
	UNIT(Y1) \
	UNIT(Y2) \
	UNIT(Y3) \
	UNIT(Y4) \
	UNIT(Y5) \
	UNIT(Y6) \
	UNIT(Y7) \
	BFLY(Y0, Y1) \
	BFLY(Y2, Y3) \
	BFLY(Y4, Y5) \
	BFLY(Y6, Y7) \
	BFLY(Y0, Y2) \
	BFLY(Y1, Y3) \
	BFLY(Y4, Y6) \
	BFLY(Y5, Y7) \
	BFLY(Y0, Y4) \
	BFLY(Y1, Y5) \
	BFLY(Y2, Y6) \
	BFLY(Y3, Y7) \
	VMULPS  (DX), Y0, Y0 \
	VMULPS  32(DX), Y1, Y1 \
	VMULPS  64(DX), Y2, Y2 \
	VMULPS  96(DX), Y3, Y3 \
	VMULPS  128(DX), Y4, Y4 \
	VMULPS  160(DX), Y5, Y5 \
	VMULPS  192(DX), Y6, Y6 \
	VMULPS  224(DX), Y7, Y7 \
	VMOVUPS Y0, (DI) \
	VMOVUPS Y1, 32(DI) \
	VMOVUPS Y2, 64(DI) \
	VMOVUPS Y3, 96(DI) \
	VMOVUPS Y4, 128(DI) \
	VMOVUPS Y5, 160(DI) \
	VMOVUPS Y6, 192(DI) \
	VMOVUPS Y7, 224(DI)

// func fwht64AVX(dst, src, pre *float32)
// dst[i] = (fwht(src))[i]·pre[i] for i < 64.
TEXT ·fwht64AVX(SB), NOSPLIT, $0-24
	MOVQ    dst+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVQ    pre+16(FP), DX
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMOVUPS 128(SI), Y4
	VMOVUPS 160(SI), Y5
	VMOVUPS 192(SI), Y6
	VMOVUPS 224(SI), Y7
	FWHT64
	VZEROUPPER
	RET

// NIB dequantizes 8 nibble pairs at OFF(SI) into LO (codes j) and HI
// (codes 32+j): sign-extended, converted, times halfS (Y15).
#define NIB(OFF, LO, HI) \
	VPMOVZXBD OFF(SI), Y12 \
	VPSLLD    $28, Y12, LO \
	VPSRAD    $28, LO, LO \
	VPSLLD    $24, Y12, HI \
	VPSRAD    $28, HI, HI \
	VCVTDQ2PS LO, LO \
	VCVTDQ2PS HI, HI \
	VMULPS    Y15, LO, LO \
	VMULPS    Y15, HI, HI

// func nibbleFWHT64AVX(dst *float32, src *byte, halfS float32, pre *float32)
// dequantNibblesAVX of one 32-byte nibble row (64 codes) followed by
// fwht64AVX, without the round trip through memory.
TEXT ·nibbleFWHT64AVX(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	VBROADCASTSS halfS+16(FP), Y15
	MOVQ         pre+24(FP), DX
	NIB(0, Y0, Y4)
	NIB(8, Y1, Y5)
	NIB(16, Y2, Y6)
	NIB(24, Y3, Y7)
	FWHT64
	VZEROUPPER
	RET
