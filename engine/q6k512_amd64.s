//go:build amd64

#include "textflag.h"
#include "avx512_amd64.h"

// The AVX-512BW decode product of Q6_K rows with Q8_K activations
// (q6kQ8KRows512). Each half super-block of 128 quants is two vectors of
// 64 unsigned 6-bit quants in the activations' natural order: the low
// nibbles of ql[0:64] with bits 0–1 / 2–3 of qh[0:32] (elements 0…63), and
// the high nibbles with bits 4–5 / 6–7 (elements 64…127). VPMADDUBSW meets
// them with the int8 activations; VPMADDWD multiplies each 16-bit pair sum
// by its 16-element group's scale (128-bit lane i of a vector is group i),
// so int32 lane L (0…15) holds, exactly, the scaled products of elements
// 4L…4L+3 of each 64-element vector. The −32 offset is taken off as
// 32·Σ_g sc_g·bsum16_g, in lanes 0…7 (lane j: groups 2j and 2j+1). Each lane
// is folded into a float32 accumulator by one FMA with d_w·d_a; the result
// is reduce16. dotQ6KL16 in matmul_generic.go is the twin.

// VPSHUFB controls: 128-bit lane i takes 16-bit scale i (first table) or
// 4+i (second) of the eight broadcast to every lane.
DATA q6kScaleShuf<>+0(SB)/8, $0x0100010001000100
DATA q6kScaleShuf<>+8(SB)/8, $0x0100010001000100
DATA q6kScaleShuf<>+16(SB)/8, $0x0302030203020302
DATA q6kScaleShuf<>+24(SB)/8, $0x0302030203020302
DATA q6kScaleShuf<>+32(SB)/8, $0x0504050405040504
DATA q6kScaleShuf<>+40(SB)/8, $0x0504050405040504
DATA q6kScaleShuf<>+48(SB)/8, $0x0706070607060706
DATA q6kScaleShuf<>+56(SB)/8, $0x0706070607060706
DATA q6kScaleShuf<>+64(SB)/8, $0x0908090809080908
DATA q6kScaleShuf<>+72(SB)/8, $0x0908090809080908
DATA q6kScaleShuf<>+80(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q6kScaleShuf<>+88(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q6kScaleShuf<>+96(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q6kScaleShuf<>+104(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q6kScaleShuf<>+112(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q6kScaleShuf<>+120(SB)/8, $0x0f0e0f0e0f0e0f0e
GLOBL q6kScaleShuf<>(SB), RODATA|NOPTR, $128

// Q6HALF adds to Z17 the scaled sums of one half super-block: ql at
// ql(SI), qh at qh(SI), activations at act(DI), the scale vectors of its two
// quant vectors in sa and sb.
#define Q6HALF(ql, qh, act, sa, sb) \
	VMOVDQU64  ql(SI), Z11; \
	VMOVDQU    qh(SI), Y12; \
	VPSRLW     $2, Y12, Y13; \
	VINSERTI64X4 $1, Y13, Z12, Z14; \
	VPSRLW     $4, Y12, Y13; \
	VPSRLW     $6, Y12, Y15; \
	VINSERTI64X4 $1, Y15, Z13, Z15; \
	VPANDQ     Z30, Z14, Z14; \
	VPSLLW     $4, Z14, Z14; \
	VPANDQ     Z30, Z15, Z15; \
	VPSLLW     $4, Z15, Z15; \
	VPSRLW     $4, Z11, Z16; \
	VPANDQ     Z31, Z11, Z11; \
	VPANDQ     Z31, Z16, Z16; \
	VPORQ      Z14, Z11, Z11; \
	VPORQ      Z15, Z16, Z16; \
	VPMADDUBSW act(DI), Z11, Z11; \
	VPMADDUBSW act+64(DI), Z16, Z16; \
	VPMADDWD   sa, Z11, Z11; \
	VPMADDWD   sb, Z16, Z16; \
	VPADDD     Z11, Z17, Z17; \
	VPADDD     Z16, Z17, Z17

// func q6kQ8KRows512(nb int, w *byte, ldw int, rows int, q *int8, d *float32, bsum16 *int16, out *float32, pf int)
TEXT ·q6kQ8KRows512(SB), NOSPLIT, $16-72
	MOVQ rows+24(FP), AX
	MOVQ AX, 0(SP)
	MOVQ out+56(FP), AX
	MOVQ AX, 8(SP)
	MOVQ w+8(FP), R8
	MOVQ pf+64(FP), R12
	MOVL $0x0f0f0f0f, AX
	VPBROADCASTD AX, Z31
	MOVL $0x03030303, AX
	VPBROADCASTD AX, Z30
	VMOVDQU64 q6kScaleShuf<>+0(SB), Z28
	VMOVDQU64 q6kScaleShuf<>+64(SB), Z29

k6row:
	MOVQ 0(SP), AX
	TESTQ AX, AX
	JZ   k6done
	MOVQ R8, SI
	MOVQ q+32(FP), DI
	MOVQ d+40(FP), R11
	MOVQ bsum16+48(FP), R13
	MOVQ nb+0(FP), CX
	VXORPS Z0, Z0, Z0
	TESTQ CX, CX
	JZ   k6rowend

k6block:
	PREFETCHT0 (SI)(R12*1)
	PREFETCHT0 64(SI)(R12*1)
	PREFETCHT0 128(SI)(R12*1)
	PREFETCHT0 192(SI)(R12*1)
	MOVWLZX 208(SI), AX
	VMOVD   AX, X4
	VCVTPH2PS X4, X4
	VMULSS  (R11), X4, X4
	VBROADCASTSS X4, Z4
	// Scales: 16 int8 → 16-bit; the offset correction 32·Σ sc·bsum16.
	VPMOVSXBW 192(SI), Y2
	VPMADDWD (R13), Y2, Y3
	VPSLLD $5, Y3, Y3
	VSHUFI32X4 $0x00, Z2, Z2, Z5
	VSHUFI32X4 $0x55, Z2, Z2, Z6
	VPSHUFB Z28, Z5, Z7
	VPSHUFB Z29, Z5, Z8
	VPSHUFB Z28, Z6, Z9
	VPSHUFB Z29, Z6, Z10
	VPXORQ Z17, Z17, Z17
	Q6HALF(0, 128, 0, Z7, Z8)
	Q6HALF(64, 160, 128, Z9, Z10)
	VPSUBD Z3, Z17, Z17
	VCVTDQ2PS Z17, Z17
	VFMADD231PS Z4, Z17, Z0

	ADDQ $210, SI
	ADDQ $256, DI
	ADDQ $4, R11
	ADDQ $32, R13
	DECQ CX
	JNZ  k6block

k6rowend:
	REDUCE16_X0
	MOVQ 8(SP), AX
	VMOVSS X0, (AX)
	ADDQ $4, AX
	MOVQ AX, 8(SP)
	ADDQ ldw+16(FP), R8
	DECQ 0(SP)
	JMP  k6row

k6done:
	VZEROUPPER
	RET
