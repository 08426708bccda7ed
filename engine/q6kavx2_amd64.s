//go:build amd64

#include "textflag.h"

// The AVX2 decode product of Q6_K rows with Q8_K activations
// (q6kQ8KRowsAVX2). Per super-block each 32-value chunk c of the 6-bit
// quants is rebuilt unsigned (u = q+32, 0…63) from ql and qh as ggml's
// dequantize_row_q6_K lays them out; VPMADDUBSW with the activations gives
// 16-bit pair sums, and VPMADDWD with the chunk's two group scales (words
// 0…7 the first group's, 8…15 the second's) gives int32 lane L holding,
// exactly, sc_g × Σ u·a over elements 4L…4L+3 of the chunk. The −32 offset
// comes off through the activations' 16-value sums: lane j loses
// 32·(sc_2j·bsum16_2j + sc_2j+1·bsum16_2j+1). Each block's lanes are folded
// into float32 by one FMA with d_w·d_a; out = hsum8. dotQ6KL8 in
// matmul_generic.go is the twin.

// VPSHUFB controls: chunk k (mod 4) of a half takes word 2k of the scales
// (duplicated to both 128-bit lanes) in its low lane and word 2k+1 in its
// high lane.
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

// Q6CHUNK(U, A, SHUF, SRC) adds chunk U's lanes to Y1: U (32 unsigned
// quants) times the activations at A(DI), by the scales SHUF picks from
// SRC. Clobbers U and Y9.
#define Q6CHUNK(U, A, SHUF, SRC) \
	VPMADDUBSW A(DI), U, U \
	VPSHUFB    SHUF, SRC, Y9 \
	VPMADDWD   Y9, U, U \
	VPADDD     U, Y1, Y1

// Q6HALF(QL, QH, A, LO, HI) rebuilds the four chunks of the half whose
// ql bytes start at QL(SI) and qh bytes at QH(SI), and adds them (their
// activations from A(DI), their scales from LO for chunks 0, 1 and from HI
// for chunks 2, 3 of the half... see the callers).
#define Q6HALF(QL, QH, A, SRC) \
	VMOVDQU QL(SI), Y2 \
	VMOVDQU QL+32(SI), Y3 \
	VMOVDQU QH(SI), Y4 \
	VPAND   Y15, Y2, Y5 \
	VPSLLW  $4, Y4, Y6 \
	VPAND   Y14, Y6, Y6 \
	VPOR    Y6, Y5, Y5 \
	Q6CHUNK(Y5, A, Y10, SRC) \
	VPAND   Y15, Y3, Y5 \
	VPSLLW  $2, Y4, Y6 \
	VPAND   Y14, Y6, Y6 \
	VPOR    Y6, Y5, Y5 \
	Q6CHUNK(Y5, A+32, Y11, SRC) \
	VPSRLW  $4, Y2, Y5 \
	VPAND   Y15, Y5, Y5 \
	VPAND   Y14, Y4, Y6 \
	VPOR    Y6, Y5, Y5 \
	Q6CHUNK(Y5, A+64, Y12, SRC) \
	VPSRLW  $4, Y3, Y5 \
	VPAND   Y15, Y5, Y5 \
	VPSRLW  $2, Y4, Y6 \
	VPAND   Y14, Y6, Y6 \
	VPOR    Y6, Y5, Y5 \
	Q6CHUNK(Y5, A+96, Y13, SRC)

// func q6kQ8KRowsAVX2(nb int, w *byte, ldw int, rows int, q *int8, d *float32, bsum16 *int16, out *float32, pf int)
TEXT ·q6kQ8KRowsAVX2(SB), NOSPLIT, $16-72
	MOVQ rows+24(FP), AX
	MOVQ AX, 0(SP)
	MOVQ out+56(FP), AX
	MOVQ AX, 8(SP)
	MOVQ w+8(FP), R8
	MOVQ pf+64(FP), R12
	MOVL $0x0f0f0f0f, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15
	MOVL $0x30303030, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
	VMOVDQU q6kScaleShuf<>+0(SB), Y10
	VMOVDQU q6kScaleShuf<>+32(SB), Y11
	VMOVDQU q6kScaleShuf<>+64(SB), Y12
	VMOVDQU q6kScaleShuf<>+96(SB), Y13

q6arow:
	MOVQ 0(SP), AX
	TESTQ AX, AX
	JZ   q6adone
	MOVQ R8, SI
	MOVQ q+32(FP), DI
	MOVQ d+40(FP), R11
	MOVQ bsum16+48(FP), R13
	MOVQ nb+0(FP), CX
	VXORPS Y0, Y0, Y0
	TESTQ CX, CX
	JZ   q6arowend

q6ablock:
	PREFETCHT0 (SI)(R12*1)
	PREFETCHT0 64(SI)(R12*1)
	PREFETCHT0 128(SI)(R12*1)
	PREFETCHT0 192(SI)(R12*1)
	// The sixteen scales as words; the offset lanes −32·(sc·bsum16 pairs).
	VPMOVSXBW 192(SI), Y7
	VPMADDWD  (R13), Y7, Y1
	VPSLLD    $5, Y1, Y1
	VPXOR     Y8, Y8, Y8
	VPSUBD    Y1, Y8, Y1
	// Scales 0…7 in both lanes (Y7 keeps 8…15 in both) for the chunks.
	VPERM2I128 $0x00, Y7, Y7, Y8
	VPERM2I128 $0x11, Y7, Y7, Y7
	Q6HALF(0, 128, 0, Y8)
	Q6HALF(64, 160, 128, Y7)
	// d_w·d_a.
	MOVWLZX 208(SI), AX
	VMOVD   AX, X2
	VCVTPH2PS X2, X2
	VMULSS  (R11), X2, X2
	VBROADCASTSS X2, Y2
	VCVTDQ2PS Y1, Y1
	VFMADD231PS Y2, Y1, Y0

	ADDQ $210, SI
	ADDQ $256, DI
	ADDQ $4, R11
	ADDQ $32, R13
	DECQ CX
	JNZ  q6ablock

q6arowend:
	// hsum8(acc).
	VEXTRACTF128 $1, Y0, X6
	VADDPS X6, X0, X0
	VMOVHLPS X0, X0, X6
	VADDPS X6, X0, X0
	VMOVSHDUP X0, X6
	VADDSS X6, X0, X0
	MOVQ 8(SP), AX
	VMOVSS X0, (AX)
	ADDQ $4, AX
	MOVQ AX, 8(SP)
	ADDQ ldw+16(FP), R8
	DECQ 0(SP)
	JMP  q6arow

q6adone:
	VZEROUPPER
	RET
