//go:build amd64

#include "textflag.h"

// The weights·V product of attention, in the layout V is cached in (rows of
// d values): acc[i][j] += Σ_r s[i][r]·v[r][j], one FMA per (r, j) in order
// of r, each lane j of a 64-column chunk its own chain. pvAccGo in
// matmul_generic.go is the twin.

// PVFMA folds row r of V's 64-column chunk (Z16…Z19) into four rows of
// accumulators with the weights broadcast in Z20…Z23.
#define PVFMA(w, a0, a1, a2, a3) \
	VFMADD231PS Z16, w, a0; \
	VFMADD231PS Z17, w, a1; \
	VFMADD231PS Z18, w, a2; \
	VFMADD231PS Z19, w, a3

// func pvAcc4x64AVX512(used int, s *float32, lds int, v *float32, ldv int, acc *float32, ldacc int)
// Four rows of weights (lds floats apart) against used rows of V (ldv floats
// apart), one 64-column chunk: acc rows ldacc floats apart.
TEXT ·pvAcc4x64AVX512(SB), NOSPLIT, $0-56
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
	LEAQ (AX)(R10*1), BX
	LEAQ (BX)(R10*1), R11
	VMOVUPS 0(DX), Z0
	VMOVUPS 64(DX), Z1
	VMOVUPS 128(DX), Z2
	VMOVUPS 192(DX), Z3
	VMOVUPS 0(AX), Z4
	VMOVUPS 64(AX), Z5
	VMOVUPS 128(AX), Z6
	VMOVUPS 192(AX), Z7
	VMOVUPS 0(BX), Z8
	VMOVUPS 64(BX), Z9
	VMOVUPS 128(BX), Z10
	VMOVUPS 192(BX), Z11
	VMOVUPS 0(R11), Z12
	VMOVUPS 64(R11), Z13
	VMOVUPS 128(R11), Z14
	VMOVUPS 192(R11), Z15
	LEAQ (SI)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	TESTQ CX, CX
	JZ   pv4store

pv4loop:
	VMOVUPS 0(DI), Z16
	VMOVUPS 64(DI), Z17
	VMOVUPS 128(DI), Z18
	VMOVUPS 192(DI), Z19
	VBROADCASTSS (SI), Z20
	VBROADCASTSS (R11), Z21
	VBROADCASTSS (R12), Z22
	VBROADCASTSS (R13), Z23
	PVFMA(Z20, Z0, Z1, Z2, Z3)
	PVFMA(Z21, Z4, Z5, Z6, Z7)
	PVFMA(Z22, Z8, Z9, Z10, Z11)
	PVFMA(Z23, Z12, Z13, Z14, Z15)
	ADDQ $4, SI
	ADDQ $4, R11
	ADDQ $4, R12
	ADDQ $4, R13
	ADDQ R9, DI
	DECQ CX
	JNZ  pv4loop

pv4store:
	LEAQ (BX)(R10*1), R11
	VMOVUPS Z0, 0(DX)
	VMOVUPS Z1, 64(DX)
	VMOVUPS Z2, 128(DX)
	VMOVUPS Z3, 192(DX)
	VMOVUPS Z4, 0(AX)
	VMOVUPS Z5, 64(AX)
	VMOVUPS Z6, 128(AX)
	VMOVUPS Z7, 192(AX)
	VMOVUPS Z8, 0(BX)
	VMOVUPS Z9, 64(BX)
	VMOVUPS Z10, 128(BX)
	VMOVUPS Z11, 192(BX)
	VMOVUPS Z12, 0(R11)
	VMOVUPS Z13, 64(R11)
	VMOVUPS Z14, 128(R11)
	VMOVUPS Z15, 192(R11)
	VZEROUPPER
	RET

// func pvAcc1x64AVX512(used int, s *float32, v *float32, ldv int, acc *float32)
// One row of weights, one 64-column chunk.
TEXT ·pvAcc1x64AVX512(SB), NOSPLIT, $0-40
	MOVQ used+0(FP), CX
	MOVQ s+8(FP), SI
	MOVQ v+16(FP), DI
	MOVQ ldv+24(FP), R9
	SHLQ $2, R9
	MOVQ acc+32(FP), DX
	VMOVUPS 0(DX), Z0
	VMOVUPS 64(DX), Z1
	VMOVUPS 128(DX), Z2
	VMOVUPS 192(DX), Z3
	TESTQ CX, CX
	JZ   pv1store

pv1loop:
	VMOVUPS 0(DI), Z16
	VMOVUPS 64(DI), Z17
	VMOVUPS 128(DI), Z18
	VMOVUPS 192(DI), Z19
	VBROADCASTSS (SI), Z20
	PVFMA(Z20, Z0, Z1, Z2, Z3)
	ADDQ $4, SI
	ADDQ R9, DI
	DECQ CX
	JNZ  pv1loop

pv1store:
	VMOVUPS Z0, 0(DX)
	VMOVUPS Z1, 64(DX)
	VMOVUPS Z2, 128(DX)
	VMOVUPS Z3, 192(DX)
	VZEROUPPER
	RET
