//go:build amd64

#include "textflag.h"

// In-register inverse Walsh–Hadamard transforms of one 64- or 128-vector
// (the Go twin is Hadamard.InverseScratch: fwht, then the product with
// pre). A 64-vector lives in Y0…Y7 throughout: stages 1, 2, 4 inside each
// register as fwhtUnit8AVX computes them, then 8, 16, 32 across registers;
// a 128-vector is two of those, then stage 64. Each butterfly (u+v, u−v)
// has the operands fwht gives it, in the same order of stages, so the
// results are bit-identical.

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

// STAGES64 applies stages 1 … 32 to the 64-vector in Y0…Y7.
#define STAGES64 \
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
	BFLY(Y3, Y7)

// STORE64 stores Y0…Y7 to DI.
#define STORE64 \
	VMOVUPS Y0, (DI) \
	VMOVUPS Y1, 32(DI) \
	VMOVUPS Y2, 64(DI) \
	VMOVUPS Y3, 96(DI) \
	VMOVUPS Y4, 128(DI) \
	VMOVUPS Y5, 160(DI) \
	VMOVUPS Y6, 192(DI) \
	VMOVUPS Y7, 224(DI)

// FWHT64 transforms Y0…Y7, multiplies by pre (DX) and stores to DI.
#define FWHT64 \
	STAGES64 \
	VMULPS  (DX), Y0, Y0 \
	VMULPS  32(DX), Y1, Y1 \
	VMULPS  64(DX), Y2, Y2 \
	VMULPS  96(DX), Y3, Y3 \
	VMULPS  128(DX), Y4, Y4 \
	VMULPS  160(DX), Y5, Y5 \
	VMULPS  192(DX), Y6, Y6 \
	VMULPS  224(DX), Y7, Y7 \
	STORE64

// LAST128(R, OFF): stage 64 of a 128-vector whose first half (stages 1 …
// 32 done) is at DI and whose second half is in registers: u = OFF(DI),
// v = R give (u+v)·pre[OFF/4] at OFF(DI) and (u−v)·pre[64+OFF/4] at
// 256+OFF(DI) (temps Y8…Y10).
#define LAST128(R, OFF) \
	VMOVUPS OFF(DI), Y8 \
	VADDPS  R, Y8, Y9 \
	VSUBPS  R, Y8, Y10 \
	VMULPS  OFF(DX), Y9, Y9 \
	VMULPS  OFF+256(DX), Y10, Y10 \
	VMOVUPS Y9, OFF(DI) \
	VMOVUPS Y10, OFF+256(DI)

// FINISH128 is LAST128 over the whole second half in Y0…Y7.
#define FINISH128 \
	LAST128(Y0, 0) \
	LAST128(Y1, 32) \
	LAST128(Y2, 64) \
	LAST128(Y3, 96) \
	LAST128(Y4, 128) \
	LAST128(Y5, 160) \
	LAST128(Y6, 192) \
	LAST128(Y7, 224)

// LOAD64 loads the 64 floats at OFF(SI) into Y0…Y7.
#define LOAD64(OFF) \
	VMOVUPS OFF+0(SI), Y0 \
	VMOVUPS OFF+32(SI), Y1 \
	VMOVUPS OFF+64(SI), Y2 \
	VMOVUPS OFF+96(SI), Y3 \
	VMOVUPS OFF+128(SI), Y4 \
	VMOVUPS OFF+160(SI), Y5 \
	VMOVUPS OFF+192(SI), Y6 \
	VMOVUPS OFF+224(SI), Y7

// func fwht64AVX(dst, src, pre *float32)
// dst[i] = (fwht(src))[i]·pre[i] for i < 64.
TEXT ·fwht64AVX(SB), NOSPLIT, $0-24
	MOVQ    dst+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVQ    pre+16(FP), DX
	LOAD64(0)
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

// func fwht128AVX(dst, src, pre *float32)
// dst[i] = fwht(src)[i]·pre[i] for i < 128: each half in registers through
// stage 32 (the first half parked in dst), then stage 64 and the product.
TEXT ·fwht128AVX(SB), NOSPLIT, $0-24
	MOVQ    dst+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVQ    pre+16(FP), DX
	LOAD64(0)
	STAGES64
	STORE64
	LOAD64(256)
	STAGES64
	FINISH128
	VZEROUPPER
	RET

// NIBLO and NIBHI dequantize the low or high nibbles of the 8 bytes at
// OFF(SI) into R (halfS in Y15).
#define NIBLO(OFF, R) \
	VPMOVZXBD OFF(SI), Y12 \
	VPSLLD    $28, Y12, R \
	VPSRAD    $28, R, R \
	VCVTDQ2PS R, R \
	VMULPS    Y15, R, R

#define NIBHI(OFF, R) \
	VPMOVZXBD OFF(SI), Y12 \
	VPSLLD    $24, Y12, R \
	VPSRAD    $28, R, R \
	VCVTDQ2PS R, R \
	VMULPS    Y15, R, R

// func nibbleFWHT128AVX(dst *float32, src *byte, halfS float32, pre *float32)
// dequantNibblesAVX of one 64-byte nibble row (128 codes: the low nibbles
// the first half, the high nibbles the second) followed by fwht128AVX.
TEXT ·nibbleFWHT128AVX(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	VBROADCASTSS halfS+16(FP), Y15
	MOVQ         pre+24(FP), DX
	NIBLO(0, Y0)
	NIBLO(8, Y1)
	NIBLO(16, Y2)
	NIBLO(24, Y3)
	NIBLO(32, Y4)
	NIBLO(40, Y5)
	NIBLO(48, Y6)
	NIBLO(56, Y7)
	STAGES64
	STORE64
	NIBHI(0, Y0)
	NIBHI(8, Y1)
	NIBHI(16, Y2)
	NIBHI(24, Y3)
	NIBHI(32, Y4)
	NIBHI(40, Y5)
	NIBHI(48, Y6)
	NIBHI(56, Y7)
	STAGES64
	FINISH128
	VZEROUPPER
	RET
