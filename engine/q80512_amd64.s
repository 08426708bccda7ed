//go:build amd64

#include "textflag.h"
#include "avx512_amd64.h"

// The AVX-512BW decode product of Q8_0 rows with Q8_0 activations
// (q80Q80Rows512). Per 32-value block the weights' int8 quants are widened
// to 16 bits (VPMOVSXBW) and multiplied with the activations' quants, held
// as int16 (q8Acts.q16), by VPMADDWD: int32 lane L (0…15) holds, exactly,
// w[2L]·a[2L] + w[2L+1]·a[2L+1]. Each lane is folded into a float32
// accumulator by one FMA with d_w·d_a: even blocks into one accumulator, odd
// blocks into another, so that two FMA chains run at once. out =
// reduce16(even + odd). dotQ80L16 in matmul_generic.go is the twin.

// Q80BLOCK folds block off (bytes off(SI), activations 2·off/34·32 … in
// words at aoff(DI), scale at doff(R11)) into acc.
#define Q80BLOCK(off, aoff, doff, acc) \
	VPMOVSXBW    off+2(SI), Z2; \
	VPMADDWD     aoff(DI), Z2, Z2; \
	VCVTDQ2PS    Z2, Z2; \
	VPBROADCASTW off(SI), Y3; \
	VCVTPH2PS    Y3, Z3; \
	VMULPS.BCST  doff(R11), Z3, Z3; \
	VFMADD231PS  Z3, Z2, acc

// func q80Q80Rows512(nb int, w *byte, ldw int, rows int, q16 *int16, d *float32, out *float32, pf int)
TEXT ·q80Q80Rows512(SB), NOSPLIT, $0-64
	MOVQ w+8(FP), R8
	MOVQ rows+24(FP), R9
	MOVQ out+48(FP), R10
	MOVQ pf+56(FP), R12

q8row:
	TESTQ R9, R9
	JZ   q8done
	MOVQ R8, SI
	MOVQ q16+32(FP), DI
	MOVQ d+40(FP), R11
	MOVQ nb+0(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1

q8pair:
	CMPQ CX, $2
	JL   q8tail
	PREFETCHT0 (SI)(R12*1)
	PREFETCHT0 64(SI)(R12*1)
	Q80BLOCK(0, 0, 0, Z0)
	Q80BLOCK(34, 64, 4, Z1)
	ADDQ $68, SI
	ADDQ $128, DI
	ADDQ $8, R11
	SUBQ $2, CX
	JMP  q8pair

q8tail:
	TESTQ CX, CX
	JZ   q8rowend
	Q80BLOCK(0, 0, 0, Z0)

q8rowend:
	VADDPS Z1, Z0, Z0
	REDUCE16_X0
	VMOVSS X0, (R10)
	ADDQ $4, R10
	ADDQ ldw+16(FP), R8
	DECQ R9
	JMP  q8row

q8done:
	VZEROUPPER
	RET
