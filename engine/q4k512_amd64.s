//go:build amd64

#include "textflag.h"
#include "avx512_amd64.h"
#include "kquant_amd64.h"

// The AVX-512BW decode product of Q4_K rows with Q8_K activations
// (q4kQ8KRows512). Per super-block the 128 bytes of nibbles are two ZMM
// loads; masking and shifting give four vectors of 64 quants, each holding
// two sub-blocks of 32 — (0, 2), (1, 3), (4, 6), (5, 7) — which meet the
// activations permuted into the same order (q8kActs.qp) in VPMADDUBSW; each
// 16-bit pair sum is multiplied by its sub-block's scale in VPMADDWD, so
// int32 lane L (0…15) of the block's sum holds, exactly, the scaled
// products of elements 4(L mod 8)…4(L mod 8)+3 of sub-blocks 0, 1, 4, 5
// (L < 8) or 2, 3, 6, 7 (L ≥ 8). Each lane is folded into a float32
// accumulator by one FMA with d_w·d_a; the minimums m_j·bsum_j go into eight
// lanes by FMA with dmin_w·d_a. out = reduce16(acc) − hsum8(accm).
// dotQ4KL16 in matmul_generic.go is the twin.

// The VPSHUFB controls that spread the eight 16-bit scales (broadcast to
// each 128-bit lane) over the four quant vectors: vector v takes scale a_v
// in its low 256 bits and b_v in its high 256 bits.
DATA q4kScaleShuf<>+0(SB)/8, $0x8000800080008000
DATA q4kScaleShuf<>+8(SB)/8, $0x8000800080008000
DATA q4kScaleShuf<>+16(SB)/8, $0x8000800080008000
DATA q4kScaleShuf<>+24(SB)/8, $0x8000800080008000
DATA q4kScaleShuf<>+32(SB)/8, $0x8004800480048004
DATA q4kScaleShuf<>+40(SB)/8, $0x8004800480048004
DATA q4kScaleShuf<>+48(SB)/8, $0x8004800480048004
DATA q4kScaleShuf<>+56(SB)/8, $0x8004800480048004
DATA q4kScaleShuf<>+64(SB)/8, $0x8002800280028002
DATA q4kScaleShuf<>+72(SB)/8, $0x8002800280028002
DATA q4kScaleShuf<>+80(SB)/8, $0x8002800280028002
DATA q4kScaleShuf<>+88(SB)/8, $0x8002800280028002
DATA q4kScaleShuf<>+96(SB)/8, $0x8006800680068006
DATA q4kScaleShuf<>+104(SB)/8, $0x8006800680068006
DATA q4kScaleShuf<>+112(SB)/8, $0x8006800680068006
DATA q4kScaleShuf<>+120(SB)/8, $0x8006800680068006
DATA q4kScaleShuf<>+128(SB)/8, $0x8008800880088008
DATA q4kScaleShuf<>+136(SB)/8, $0x8008800880088008
DATA q4kScaleShuf<>+144(SB)/8, $0x8008800880088008
DATA q4kScaleShuf<>+152(SB)/8, $0x8008800880088008
DATA q4kScaleShuf<>+160(SB)/8, $0x800c800c800c800c
DATA q4kScaleShuf<>+168(SB)/8, $0x800c800c800c800c
DATA q4kScaleShuf<>+176(SB)/8, $0x800c800c800c800c
DATA q4kScaleShuf<>+184(SB)/8, $0x800c800c800c800c
DATA q4kScaleShuf<>+192(SB)/8, $0x800a800a800a800a
DATA q4kScaleShuf<>+200(SB)/8, $0x800a800a800a800a
DATA q4kScaleShuf<>+208(SB)/8, $0x800a800a800a800a
DATA q4kScaleShuf<>+216(SB)/8, $0x800a800a800a800a
DATA q4kScaleShuf<>+224(SB)/8, $0x800e800e800e800e
DATA q4kScaleShuf<>+232(SB)/8, $0x800e800e800e800e
DATA q4kScaleShuf<>+240(SB)/8, $0x800e800e800e800e
DATA q4kScaleShuf<>+248(SB)/8, $0x800e800e800e800e
GLOBL q4kScaleShuf<>(SB), RODATA|NOPTR, $256

// func q4kQ8KRows512(nb int, w *byte, ldw int, rows int, qp *int8, d *float32, bsum *int32, out *float32, pf int)
TEXT ·q4kQ8KRows512(SB), NOSPLIT, $16-72
	MOVQ rows+24(FP), AX
	MOVQ AX, 0(SP)
	MOVQ out+56(FP), AX
	MOVQ AX, 8(SP)
	MOVQ w+8(FP), R8
	MOVQ pf+64(FP), R12
	MOVL $0x0f0f0f0f, AX
	VPBROADCASTD AX, Z31
	VMOVDQU64 q4kScaleShuf<>+0(SB), Z27
	VMOVDQU64 q4kScaleShuf<>+64(SB), Z28
	VMOVDQU64 q4kScaleShuf<>+128(SB), Z29
	VMOVDQU64 q4kScaleShuf<>+192(SB), Z30

k4row:
	MOVQ 0(SP), AX
	TESTQ AX, AX
	JZ   k4done
	MOVQ R8, SI
	MOVQ qp+32(FP), DI
	MOVQ d+40(FP), R11
	MOVQ bsum+48(FP), R13
	MOVQ nb+0(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Y1, Y1, Y1
	TESTQ CX, CX
	JZ   k4rowend

k4block:
	PREFETCHT0 (SI)(R12*1)
	PREFETCHT0 64(SI)(R12*1)
	PREFETCHT0 128(SI)(R12*1)
	// Scales and minimums as ggml unpacks them (get_scale_min_k4), in
	// registers: AX = sc0…sc7, BX = m0…m7, one byte each.
	Q4K_SCALES_GPR
	VMOVQ AX, X2
	VPMOVZXBW X2, X2
	VSHUFI32X4 $0, Z2, Z2, Z2
	VMOVQ BX, X3
	VPMOVZXBD X3, Y3
	VPMULLD (R13), Y3, Y3
	VCVTDQ2PS Y3, Y3
	// d_w·d_a and dmin_w·d_a.
	MOVWLZX (SI), AX
	VMOVD   AX, X4
	VCVTPH2PS X4, X4
	VMULSS  (R11), X4, X4
	VBROADCASTSS X4, Z4
	MOVWLZX 2(SI), AX
	VMOVD   AX, X5
	VCVTPH2PS X5, X5
	VMULSS  (R11), X5, X5
	VBROADCASTSS X5, Y5
	VFMADD231PS Y5, Y3, Y1
	// Quants.
	VMOVDQU64 16(SI), Z6
	VMOVDQU64 80(SI), Z7
	VPSRLW $4, Z6, Z8
	VPSRLW $4, Z7, Z9
	VPANDQ Z31, Z6, Z6
	VPANDQ Z31, Z7, Z7
	VPANDQ Z31, Z8, Z8
	VPANDQ Z31, Z9, Z9
	VPMADDUBSW 0(DI), Z6, Z6
	VPMADDUBSW 64(DI), Z8, Z8
	VPMADDUBSW 128(DI), Z7, Z7
	VPMADDUBSW 192(DI), Z9, Z9
	VPSHUFB Z27, Z2, Z10
	VPSHUFB Z28, Z2, Z11
	VPSHUFB Z29, Z2, Z12
	VPSHUFB Z30, Z2, Z13
	VPMADDWD Z10, Z6, Z6
	VPMADDWD Z11, Z8, Z8
	VPMADDWD Z12, Z7, Z7
	VPMADDWD Z13, Z9, Z9
	VPADDD Z8, Z6, Z6
	VPADDD Z9, Z7, Z7
	VPADDD Z7, Z6, Z6
	VCVTDQ2PS Z6, Z6
	VFMADD231PS Z4, Z6, Z0

	ADDQ $144, SI
	ADDQ $256, DI
	ADDQ $4, R11
	ADDQ $32, R13
	DECQ CX
	JNZ  k4block

k4rowend:
	// reduce16(acc) − hsum8(accm).
	REDUCE16_X0
	VEXTRACTF128 $1, Y1, X6
	VADDPS X6, X1, X1
	VMOVHLPS X1, X1, X6
	VADDPS X6, X1, X1
	VMOVSHDUP X1, X6
	VADDSS X6, X1, X1
	VSUBSS X1, X0, X0
	MOVQ 8(SP), AX
	VMOVSS X0, (AX)
	ADDQ $4, AX
	MOVQ AX, 8(SP)
	ADDQ ldw+16(FP), R8
	DECQ 0(SP)
	JMP  k4row

k4done:
	VZEROUPPER
	RET

// func q4kDeq512(nb int, src *byte, dst *float32)
// Dequantizes nb Q4_K blocks as q4kAVX does (the same operations: dj =
// float(scale_j)·d, mj = float(min_j)·dmin, dst = dj·q − mj, each rounded),
// sixteen values at a time, the scales unpacked in registers. Frame: 0(SP)
// the eight dj, 32(SP) the eight mj.
TEXT ·q4kDeq512(SB), NOSPLIT, $64-24
	MOVQ nb+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ dst+16(FP), DI
	MOVL $15, AX
	VPBROADCASTD AX, Z31
	TESTQ CX, CX
	JZ   kdqdone

kdqblock:
	MOVWLZX (SI), AX
	VMOVD   AX, X6
	VCVTPH2PS X6, X6
	VBROADCASTSS X6, Y6
	MOVWLZX 2(SI), AX
	VMOVD   AX, X7
	VCVTPH2PS X7, X7
	VBROADCASTSS X7, Y7
	Q4K_SCALES_GPR
	VMOVQ AX, X2
	VPMOVZXBD X2, Y2
	VCVTDQ2PS Y2, Y2
	VMULPS Y6, Y2, Y2
	VMOVUPS Y2, 0(SP)
	VMOVQ BX, X3
	VPMOVZXBD X3, Y3
	VCVTDQ2PS Y3, Y3
	VMULPS Y7, Y3, Y3
	VMOVUPS Y3, 32(SP)

	LEAQ 16(SI), R8
	XORQ DX, DX

kdqgroup:
	VBROADCASTSS 0(SP)(DX*8), Z11
	VBROADCASTSS 32(SP)(DX*8), Z12
	VBROADCASTSS 4(SP)(DX*8), Z13
	VBROADCASTSS 36(SP)(DX*8), Z14
	VPMOVZXBD 0(R8), Z0
	VPMOVZXBD 16(R8), Z3
	VPANDD    Z31, Z0, Z1
	VPSRLD    $4, Z0, Z2
	VPANDD    Z31, Z3, Z4
	VPSRLD    $4, Z3, Z5
	VCVTDQ2PS Z1, Z1
	VCVTDQ2PS Z2, Z2
	VCVTDQ2PS Z4, Z4
	VCVTDQ2PS Z5, Z5
	VMULPS    Z11, Z1, Z1
	VSUBPS    Z12, Z1, Z1
	VMULPS    Z11, Z4, Z4
	VSUBPS    Z12, Z4, Z4
	VMULPS    Z13, Z2, Z2
	VSUBPS    Z14, Z2, Z2
	VMULPS    Z13, Z5, Z5
	VSUBPS    Z14, Z5, Z5
	VMOVUPS   Z1, 0(DI)
	VMOVUPS   Z4, 64(DI)
	VMOVUPS   Z2, 128(DI)
	VMOVUPS   Z5, 192(DI)
	ADDQ $32, R8
	ADDQ $256, DI
	INCQ DX
	CMPQ DX, $4
	JL   kdqgroup

	ADDQ $144, SI
	DECQ CX
	JNZ  kdqblock

kdqdone:
	VZEROUPPER
	RET
