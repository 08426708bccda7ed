//go:build amd64

#include "textflag.h"

// AVX2 forms of the attention kernels of pv512_amd64.s and
// softmax512_amd64.s: the weights·V product straight from V's rows (one FMA
// chain per output, in order of r: the twin pvAccGo's order, so the same
// bits) and the scale-and-maximum of a score row (twin scaleMaxGo).

// PV2FMA folds row r of V's 32-column chunk (Y8…Y11) into four
// accumulators with the weight broadcast in w.
#define PV2FMA(w, a0, a1, a2, a3) \
	VFMADD231PS Y8, w, a0; \
	VFMADD231PS Y9, w, a1; \
	VFMADD231PS Y10, w, a2; \
	VFMADD231PS Y11, w, a3

// func pvAcc2x32AVX(used int, s *float32, lds int, v *float32, ldv int, acc *float32, ldacc int)
// Two rows of weights (lds floats apart) against used rows of V (ldv floats
// apart), one 32-column chunk: acc rows ldacc floats apart.
TEXT ·pvAcc2x32AVX(SB), NOSPLIT, $0-56
	MOVQ used+0(FP), CX
	MOVQ s+8(FP), SI
	MOVQ lds+16(FP), R8
	SHLQ $2, R8
	MOVQ v+24(FP), DI
	MOVQ ldv+32(FP), R9
	SHLQ $2, R9
	MOVQ acc+40(FP), DX
	MOVQ ldacc+48(FP), R10
	SHLQ $2, R10
	LEAQ (DX)(R10*1), AX
	LEAQ (SI)(R8*1), R11
	VMOVUPS 0(DX), Y0
	VMOVUPS 32(DX), Y1
	VMOVUPS 64(DX), Y2
	VMOVUPS 96(DX), Y3
	VMOVUPS 0(AX), Y4
	VMOVUPS 32(AX), Y5
	VMOVUPS 64(AX), Y6
	VMOVUPS 96(AX), Y7
	TESTQ CX, CX
	JZ   pa2store

pa2loop:
	VMOVUPS 0(DI), Y8
	VMOVUPS 32(DI), Y9
	VMOVUPS 64(DI), Y10
	VMOVUPS 96(DI), Y11
	VBROADCASTSS (SI), Y12
	VBROADCASTSS (R11), Y13
	PV2FMA(Y12, Y0, Y1, Y2, Y3)
	PV2FMA(Y13, Y4, Y5, Y6, Y7)
	ADDQ $4, SI
	ADDQ $4, R11
	ADDQ R9, DI
	DECQ CX
	JNZ  pa2loop

pa2store:
	VMOVUPS Y0, 0(DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	VMOVUPS Y4, 0(AX)
	VMOVUPS Y5, 32(AX)
	VMOVUPS Y6, 64(AX)
	VMOVUPS Y7, 96(AX)
	VZEROUPPER
	RET

// func pvAcc1x32AVX(used int, s *float32, v *float32, ldv int, acc *float32)
// One row of weights, one 32-column chunk.
TEXT ·pvAcc1x32AVX(SB), NOSPLIT, $0-40
	MOVQ used+0(FP), CX
	MOVQ s+8(FP), SI
	MOVQ v+16(FP), DI
	MOVQ ldv+24(FP), R9
	SHLQ $2, R9
	MOVQ acc+32(FP), DX
	VMOVUPS 0(DX), Y0
	VMOVUPS 32(DX), Y1
	VMOVUPS 64(DX), Y2
	VMOVUPS 96(DX), Y3
	TESTQ CX, CX
	JZ   pa1store

pa1loop:
	VMOVUPS 0(DI), Y8
	VMOVUPS 32(DI), Y9
	VMOVUPS 64(DI), Y10
	VMOVUPS 96(DI), Y11
	VBROADCASTSS (SI), Y12
	PV2FMA(Y12, Y0, Y1, Y2, Y3)
	ADDQ $4, SI
	ADDQ R9, DI
	DECQ CX
	JNZ  pa1loop

pa1store:
	VMOVUPS Y0, 0(DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	VZEROUPPER
	RET

// func scaleMaxAVX(n int, x *float32, scale float32) float32
// x[i] *= scale for i < n (a multiple of 8, at least 8), and returns the
// largest product.
TEXT ·scaleMaxAVX(SB), NOSPLIT, $0-28
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	VBROADCASTSS scale+16(FP), Y1
	MOVL $0xff800000, AX
	VMOVD AX, X0
	VPBROADCASTD X0, Y0          // running maximum, −Inf
	SHRQ $3, CX
	JZ   smareduce

smaloop:
	VMULPS (SI), Y1, Y2
	VMOVUPS Y2, (SI)
	VMAXPS Y2, Y0, Y0
	ADDQ $32, SI
	DECQ CX
	JNZ  smaloop

smareduce:
	VEXTRACTF128 $1, Y0, X2
	VMAXPS X2, X0, X0
	VPERMILPS $0x4e, X0, X2
	VMAXPS X2, X0, X0
	VPERMILPS $0xb1, X0, X2
	VMAXPS X2, X0, X0
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET
