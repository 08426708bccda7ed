//go:build amd64

#include "textflag.h"

// Q80SCALE broadcasts the float16 scale of the Q8_0 block at (base)(BX*1)
// into all lanes of y (x is y's low half).
#define Q80SCALE(base, x, y) \
	MOVWLZX (base)(BX*1), AX; \
	VMOVD AX, x; \
	VCVTPH2PS x, x; \
	VBROADCASTSS x, y

// Q80ROW16 dequantizes 16 quants of one Q8_0 row (bytes lo and hi of the
// block at (base)(BX*1)) with its scale and adds their products with the
// activations in Y8 and Y9 to a0 and a1. It uses Y14 and Y15.
#define Q80ROW16(lo, hi, base, scale, a0, a1) \
	VPMOVSXBD lo(base)(BX*1), Y14; \
	VPMOVSXBD hi(base)(BX*1), Y15; \
	VCVTDQ2PS Y14, Y14; \
	VCVTDQ2PS Y15, Y15; \
	VMULPS scale, Y14, Y14; \
	VMULPS scale, Y15, Y15; \
	VFMADD231PS Y14, Y8, a0; \
	VFMADD231PS Y15, Y9, a1

// AVX2 + FMA + F16C kernels. Each has a plain Go twin in matmul_generic.go
// that states what it computes; lengths in elements are multiples of 8 and
// the Go wrappers in matmul_amd64.go handle the rest.

// func gemm4x2AVX(k int, w *float32, ldw int, x *float32, ldx int, out *float32, ldo int)
// out[i*ldo+r] = Σ_{j<k} w[r*ldw+j]·x[i*ldx+j], r < 4, i < 2.
TEXT ·gemm4x2AVX(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ ldw+16(FP), DX
	SHLQ $2, DX
	MOVQ x+24(FP), DI
	MOVQ ldx+32(FP), R12
	SHLQ $2, R12
	ADDQ DI, R12
	MOVQ out+40(FP), R13
	MOVQ ldo+48(FP), R11
	SHLQ $2, R11
	LEAQ (SI)(DX*1), R8
	LEAQ (R8)(DX*1), R9
	LEAQ (R9)(DX*1), R10
	SHLQ $2, CX
	XORQ BX, BX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

g42loop:
	CMPQ BX, CX
	JGE  g42done
	VMOVUPS (DI)(BX*1), Y8
	VMOVUPS (R12)(BX*1), Y9
	VMOVUPS (SI)(BX*1), Y10
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y10, Y9, Y4
	VMOVUPS (R8)(BX*1), Y11
	VFMADD231PS Y11, Y8, Y1
	VFMADD231PS Y11, Y9, Y5
	VMOVUPS (R9)(BX*1), Y10
	VFMADD231PS Y10, Y8, Y2
	VFMADD231PS Y10, Y9, Y6
	VMOVUPS (R10)(BX*1), Y11
	VFMADD231PS Y11, Y8, Y3
	VFMADD231PS Y11, Y9, Y7
	ADDQ $32, BX
	JMP  g42loop

g42done:
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVUPS X0, (R13)
	VHADDPS Y5, Y4, Y4
	VHADDPS Y7, Y6, Y6
	VHADDPS Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VADDPS X5, X4, X4
	VMOVUPS X4, (R13)(R11*1)
	VZEROUPPER
	RET

// func gemm4x1AVX(k int, w *float32, ldw int, x *float32, out *float32)
// out[r] = Σ_{j<k} w[r*ldw+j]·x[j], r < 4.
TEXT ·gemm4x1AVX(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ ldw+16(FP), DX
	SHLQ $2, DX
	MOVQ x+24(FP), DI
	MOVQ out+32(FP), R13
	LEAQ (SI)(DX*1), R8
	LEAQ (R8)(DX*1), R9
	LEAQ (R9)(DX*1), R10
	SHLQ $2, CX
	MOVQ CX, AX
	ANDQ $-64, AX
	XORQ BX, BX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

g41loop:
	CMPQ BX, AX
	JGE  g41tail
	VMOVUPS (DI)(BX*1), Y8
	VMOVUPS 32(DI)(BX*1), Y9
	VFMADD231PS (SI)(BX*1), Y8, Y0
	VFMADD231PS 32(SI)(BX*1), Y9, Y4
	VFMADD231PS (R8)(BX*1), Y8, Y1
	VFMADD231PS 32(R8)(BX*1), Y9, Y5
	VFMADD231PS (R9)(BX*1), Y8, Y2
	VFMADD231PS 32(R9)(BX*1), Y9, Y6
	VFMADD231PS (R10)(BX*1), Y8, Y3
	VFMADD231PS 32(R10)(BX*1), Y9, Y7
	ADDQ $64, BX
	JMP  g41loop

g41tail:
	CMPQ BX, CX
	JGE  g41done
	VMOVUPS (DI)(BX*1), Y8
	VFMADD231PS (SI)(BX*1), Y8, Y0
	VFMADD231PS (R8)(BX*1), Y8, Y1
	VFMADD231PS (R9)(BX*1), Y8, Y2
	VFMADD231PS (R10)(BX*1), Y8, Y3

g41done:
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVUPS X0, (R13)
	VZEROUPPER
	RET

// func dotAVX(k int, a, b *float32) float32
// Σ_{j<k} a[j]·b[j].
TEXT ·dotAVX(SB), NOSPLIT, $0-28
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	SHLQ $2, CX
	MOVQ CX, AX
	ANDQ $-64, AX
	XORQ BX, BX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

dotloop:
	CMPQ BX, AX
	JGE  dottail
	VMOVUPS (SI)(BX*1), Y2
	VMOVUPS 32(SI)(BX*1), Y3
	VFMADD231PS (DI)(BX*1), Y2, Y0
	VFMADD231PS 32(DI)(BX*1), Y3, Y1
	ADDQ $64, BX
	JMP  dotloop

dottail:
	CMPQ BX, CX
	JGE  dotdone
	VMOVUPS (SI)(BX*1), Y2
	VFMADD231PS (DI)(BX*1), Y2, Y0

dotdone:
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func axpyAVX(k int, alpha float32, x, y *float32)
// y[j] += alpha·x[j], j < k.
TEXT ·axpyAVX(SB), NOSPLIT, $0-32
	MOVQ k+0(FP), CX
	VBROADCASTSS alpha+8(FP), Y0
	MOVQ x+16(FP), SI
	MOVQ y+24(FP), DI
	SHLQ $2, CX
	XORQ BX, BX

axpyloop:
	CMPQ BX, CX
	JGE  axpydone
	VMOVUPS (DI)(BX*1), Y2
	VFMADD231PS (SI)(BX*1), Y0, Y2
	VMOVUPS Y2, (DI)(BX*1)
	ADDQ $32, BX
	JMP  axpyloop

axpydone:
	VZEROUPPER
	RET

// func f16AVX(k int, src *byte, dst *float32)
// dst[j] = float32(half(src[2j:2j+2])), j < k.
TEXT ·f16AVX(SB), NOSPLIT, $0-24
	MOVQ k+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ dst+16(FP), DI
	SHRQ $3, CX
	JZ   f16done

f16loop:
	VCVTPH2PS (SI), Y0
	VMOVUPS Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  f16loop

f16done:
	VZEROUPPER
	RET

// func q80AVX(nb int, src *byte, dst *float32)
// Dequantizes nb Q8_0 blocks (float16 d, 32 int8 q): dst = d·q.
TEXT ·q80AVX(SB), NOSPLIT, $0-24
	MOVQ nb+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ dst+16(FP), DI
	TESTQ CX, CX
	JZ   q80done

q80loop:
	MOVWLZX (SI), AX
	VMOVD AX, X0
	VCVTPH2PS X0, X0
	VBROADCASTSS X0, Y0
	VPMOVSXBD 2(SI), Y1
	VPMOVSXBD 10(SI), Y2
	VPMOVSXBD 18(SI), Y3
	VPMOVSXBD 26(SI), Y4
	VCVTDQ2PS Y1, Y1
	VCVTDQ2PS Y2, Y2
	VCVTDQ2PS Y3, Y3
	VCVTDQ2PS Y4, Y4
	VMULPS Y0, Y1, Y1
	VMULPS Y0, Y2, Y2
	VMULPS Y0, Y3, Y3
	VMULPS Y0, Y4, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ $34, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  q80loop

q80done:
	VZEROUPPER
	RET

// func gemvF16RowsAVX(k int, w *byte, ldw int, rows int, x *float32, out *float32, pf int)
// out[r] = Σ_{j<k} half(w[r*ldw+2j:])·x[j] for r < rows (a multiple of 4,
// k of 8): groups of four rows converted as they are read, eight-lane FMA
// sums (two per row, added at the end), prefetching the weights pf bytes
// ahead of the group being read (the rows are contiguous when ldw = 2k, so
// this streams linearly).
TEXT ·gemvF16RowsAVX(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ ldw+16(FP), DX
	MOVQ rows+24(FP), R11
	MOVQ x+32(FP), DI
	MOVQ out+40(FP), R13
	MOVQ CX, AX
	ANDQ $-16, AX

rgroup:
	CMPQ R11, $4
	JLT  rdone
	LEAQ (SI)(DX*1), R8
	LEAQ (R8)(DX*1), R9
	LEAQ (R9)(DX*1), R10
	MOVQ pf+48(FP), R12
	ADDQ SI, R12
	XORQ BX, BX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

r16:
	CMPQ BX, AX
	JGE  r8
	PREFETCHT0 (R12)(BX*8)
	PREFETCHT0 64(R12)(BX*8)
	VMOVUPS (DI)(BX*4), Y8
	VMOVUPS 32(DI)(BX*4), Y9
	VCVTPH2PS (SI)(BX*2), Y10
	VCVTPH2PS 16(SI)(BX*2), Y11
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y11, Y9, Y4
	VCVTPH2PS (R8)(BX*2), Y12
	VCVTPH2PS 16(R8)(BX*2), Y13
	VFMADD231PS Y12, Y8, Y1
	VFMADD231PS Y13, Y9, Y5
	VCVTPH2PS (R9)(BX*2), Y10
	VCVTPH2PS 16(R9)(BX*2), Y11
	VFMADD231PS Y10, Y8, Y2
	VFMADD231PS Y11, Y9, Y6
	VCVTPH2PS (R10)(BX*2), Y12
	VCVTPH2PS 16(R10)(BX*2), Y13
	VFMADD231PS Y12, Y8, Y3
	VFMADD231PS Y13, Y9, Y7
	ADDQ $16, BX
	JMP  r16

r8:
	CMPQ BX, CX
	JGE  rsum
	VMOVUPS (DI)(BX*4), Y8
	VCVTPH2PS (SI)(BX*2), Y10
	VFMADD231PS Y10, Y8, Y0
	VCVTPH2PS (R8)(BX*2), Y10
	VFMADD231PS Y10, Y8, Y1
	VCVTPH2PS (R9)(BX*2), Y10
	VFMADD231PS Y10, Y8, Y2
	VCVTPH2PS (R10)(BX*2), Y10
	VFMADD231PS Y10, Y8, Y3

rsum:
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVUPS X0, (R13)
	ADDQ $16, R13
	LEAQ (R10)(DX*1), SI
	SUBQ $4, R11
	JMP  rgroup

rdone:
	VZEROUPPER
	RET

// func q80GemvRowsAVX(nb int, w *byte, ldw int, rows int, x *float32, out *float32, pf int)
// out[r] = Σ_{j<32nb} (d·q)[r][j]·x[j] for r < rows (a multiple of 4): the
// decode product for Q8_0 weights (rows of nb blocks, ldw bytes apart),
// dequantizing in registers. Each weight is d·q as q80AVX writes it and the
// sums run in gemm4x1AVX's order, so the result is bit for bit what
// q80AVX + gemm4x1AVX give. Prefetches pf bytes ahead of the group read.
TEXT ·q80GemvRowsAVX(SB), NOSPLIT, $0-56
	MOVQ w+8(FP), SI
	MOVQ ldw+16(FP), DX
	MOVQ rows+24(FP), R11
	MOVQ out+40(FP), R13

qgroup:
	CMPQ R11, $4
	JLT  qdone
	MOVQ nb+0(FP), CX
	TESTQ CX, CX
	JZ   qdone
	MOVQ x+32(FP), DI
	MOVQ pf+48(FP), R12
	ADDQ SI, R12
	LEAQ (SI)(DX*1), R8
	LEAQ (R8)(DX*1), R9
	LEAQ (R9)(DX*1), R10
	XORQ BX, BX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

qblk:
	PREFETCHT0 (R12)(BX*4)
	PREFETCHT0 64(R12)(BX*4)
	PREFETCHT0 128(R12)(BX*4)
	Q80SCALE(SI, X10, Y10)
	Q80SCALE(R8, X11, Y11)
	Q80SCALE(R9, X12, Y12)
	Q80SCALE(R10, X13, Y13)

	VMOVUPS (DI), Y8
	VMOVUPS 32(DI), Y9
	Q80ROW16(2, 10, SI, Y10, Y0, Y4)
	Q80ROW16(2, 10, R8, Y11, Y1, Y5)
	Q80ROW16(2, 10, R9, Y12, Y2, Y6)
	Q80ROW16(2, 10, R10, Y13, Y3, Y7)

	VMOVUPS 64(DI), Y8
	VMOVUPS 96(DI), Y9
	Q80ROW16(18, 26, SI, Y10, Y0, Y4)
	Q80ROW16(18, 26, R8, Y11, Y1, Y5)
	Q80ROW16(18, 26, R9, Y12, Y2, Y6)
	Q80ROW16(18, 26, R10, Y13, Y3, Y7)

	ADDQ $34, BX
	ADDQ $128, DI
	DECQ CX
	JNZ  qblk

	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVUPS X0, (R13)
	ADDQ $16, R13
	LEAQ (R10)(DX*1), SI
	SUBQ $4, R11
	JMP  qgroup

qdone:
	VZEROUPPER
	RET

// func gemm4x3AVX(k int, w *float32, ldw int, x *float32, ldx int, out *float32, ldo int)
// out[i*ldo+r] = Σ_{j<k} w[r*ldw+j]·x[i*ldx+j] for r < 4, i < 3 (k a
// multiple of 8): gemm4x2AVX with a third activation row, twelve
// accumulators, each output summed as gemm4x2AVX sums it.
TEXT ·gemm4x3AVX(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ ldw+16(FP), DX
	SHLQ $2, DX
	MOVQ x+24(FP), DI
	MOVQ ldx+32(FP), AX
	SHLQ $2, AX
	LEAQ (DI)(AX*1), R12
	LEAQ (R12)(AX*1), AX
	MOVQ out+40(FP), R13
	MOVQ ldo+48(FP), R11
	SHLQ $2, R11
	LEAQ (SI)(DX*1), R8
	LEAQ (R8)(DX*1), R9
	LEAQ (R9)(DX*1), R10
	SHLQ $2, CX
	XORQ BX, BX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

g43loop:
	CMPQ BX, CX
	JGE  g43done
	VMOVUPS (DI)(BX*1), Y12
	VMOVUPS (R12)(BX*1), Y13
	VMOVUPS (AX)(BX*1), Y14
	VMOVUPS (SI)(BX*1), Y15
	VFMADD231PS Y15, Y12, Y0
	VFMADD231PS Y15, Y13, Y4
	VFMADD231PS Y15, Y14, Y8
	VMOVUPS (R8)(BX*1), Y15
	VFMADD231PS Y15, Y12, Y1
	VFMADD231PS Y15, Y13, Y5
	VFMADD231PS Y15, Y14, Y9
	VMOVUPS (R9)(BX*1), Y15
	VFMADD231PS Y15, Y12, Y2
	VFMADD231PS Y15, Y13, Y6
	VFMADD231PS Y15, Y14, Y10
	VMOVUPS (R10)(BX*1), Y15
	VFMADD231PS Y15, Y12, Y3
	VFMADD231PS Y15, Y13, Y7
	VFMADD231PS Y15, Y14, Y11
	ADDQ $32, BX
	JMP  g43loop

g43done:
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVUPS X0, (R13)
	VHADDPS Y5, Y4, Y4
	VHADDPS Y7, Y6, Y6
	VHADDPS Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VADDPS X5, X4, X4
	VMOVUPS X4, (R13)(R11*1)
	VHADDPS Y9, Y8, Y8
	VHADDPS Y11, Y10, Y10
	VHADDPS Y10, Y8, Y8
	VEXTRACTF128 $1, Y8, X9
	VADDPS X9, X8, X8
	LEAQ (R13)(R11*2), R13
	VMOVUPS X8, (R13)
	VZEROUPPER
	RET
