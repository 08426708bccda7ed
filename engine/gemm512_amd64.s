//go:build amd64

#include "textflag.h"

// AVX-512F kernels for the batch products (mulTile with n ≥ 2). Every output
// is one dot product summed in 16 lanes: lane l accumulates elements l,
// l+16, l+32, … by FMA (the last, partial step through a masked load that
// reads zeros past k), then the lanes are reduced as reduce16 does:
// h[j] = l[j]+l[j+8], q[j] = h[j]+h[j+4], (q[0]+q[2]) + (q[1]+q[3]).
// dotL16Go in matmul_generic.go is the twin of each output.

// HALF256 sets a to [lo256(a)+hi256(a), lo256(b)+hi256(b)].
#define HALF256(a, b, t0, t1) \
	VSHUFF32X4 $0x44, b, a, t0; \
	VSHUFF32X4 $0xEE, b, a, t1; \
	VADDPS     t1, t0, a

// HALF128 takes a = [A, B] and b = [C, D], each of A…D eight lanes, and sets
// a to the four sums lo128+hi128 of A, B, C, D, in that order.
#define HALF128(a, b, t0, t1) \
	VSHUFF32X4 $0x88, b, a, t0; \
	VSHUFF32X4 $0xDD, b, a, t1; \
	VADDPS     t1, t0, a

// REDUCE4 reduces the four 16-lane accumulators Z0…Z3 as reduce16 does
// each, into lanes 0…3 of X0: HALF256 and HALF128 give [q(0), q(1), q(2),
// q(3)], then lane r of X0 = (q0+q2)+(q1+q3) of block r. Clobbers
// Z1…Z7, Z16…Z19.
#define REDUCE4 \
	HALF256(Z0, Z1, Z16, Z17); \
	HALF256(Z2, Z3, Z18, Z19); \
	HALF128(Z0, Z2, Z16, Z17); \
	VEXTRACTF32X4 $1, Z0, X1; \
	VEXTRACTF32X4 $2, Z0, X2; \
	VEXTRACTF32X4 $3, Z0, X3; \
	VUNPCKLPS     X1, X0, X4; \
	VUNPCKHPS     X1, X0, X5; \
	VADDPS        X5, X4, X4; \
	VUNPCKLPS     X3, X2, X6; \
	VUNPCKHPS     X3, X2, X7; \
	VADDPS        X7, X6, X6; \
	VSHUFPS       $0x44, X6, X4, X0; \
	VSHUFPS       $0xEE, X6, X4, X1; \
	VADDPS        X1, X0, X0

// G44FMA adds the products of the activation vector xr with the four weight
// vectors Z16…Z19 to a0…a3.
#define G44FMA(xr, a0, a1, a2, a3) \
	VFMADD231PS Z16, xr, a0; \
	VFMADD231PS Z17, xr, a1; \
	VFMADD231PS Z18, xr, a2; \
	VFMADD231PS Z19, xr, a3

// TAILMASK sets K1 to the low k%16 bits (k in CX, AX is left holding the
// mask), then CX to the bytes of the full 16-element steps.
#define TAILMASK \
	MOVQ  CX, BX; \
	ANDL  $15, CX; \
	MOVL  $1, AX; \
	SHLL  CX, AX; \
	DECL  AX; \
	KMOVW AX, K1; \
	MOVQ  BX, CX; \
	ANDQ  $-16, CX; \
	SHLQ  $2, CX

// func gemm4x4AVX512(k int, w *float32, ldw int, x *float32, ldx int, out *float32, ldo int)
// out[i*ldo+r] = Σ_{j<k} w[r*ldw+j]·x[i*ldx+j], r < 4, i < 4; any k ≥ 0.
// Accumulator Z(4i+r) holds output (i, r).
TEXT ·gemm4x4AVX512(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	TAILMASK
	MOVQ w+8(FP), SI
	MOVQ ldw+16(FP), DX
	SHLQ $2, DX
	LEAQ (SI)(DX*1), R8
	LEAQ (R8)(DX*1), R9
	LEAQ (R9)(DX*1), R10
	MOVQ x+24(FP), DI
	MOVQ ldx+32(FP), DX
	SHLQ $2, DX
	LEAQ (DI)(DX*1), R11
	LEAQ (R11)(DX*1), R12
	LEAQ (R12)(DX*1), R13
	XORQ BX, BX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	CMPQ BX, CX
	JGE  g44tail

g44loop:
	VMOVUPS (SI)(BX*1), Z16
	VMOVUPS (R8)(BX*1), Z17
	VMOVUPS (R9)(BX*1), Z18
	VMOVUPS (R10)(BX*1), Z19
	VMOVUPS (DI)(BX*1), Z20
	VMOVUPS (R11)(BX*1), Z21
	G44FMA(Z20, Z0, Z1, Z2, Z3)
	VMOVUPS (R12)(BX*1), Z20
	G44FMA(Z21, Z4, Z5, Z6, Z7)
	VMOVUPS (R13)(BX*1), Z21
	G44FMA(Z20, Z8, Z9, Z10, Z11)
	G44FMA(Z21, Z12, Z13, Z14, Z15)
	ADDQ $64, BX
	CMPQ BX, CX
	JLT  g44loop

g44tail:
	TESTL AX, AX
	JZ    g44reduce
	VMOVUPS.Z (SI)(BX*1), K1, Z16
	VMOVUPS.Z (R8)(BX*1), K1, Z17
	VMOVUPS.Z (R9)(BX*1), K1, Z18
	VMOVUPS.Z (R10)(BX*1), K1, Z19
	VMOVUPS.Z (DI)(BX*1), K1, Z20
	VMOVUPS.Z (R11)(BX*1), K1, Z21
	G44FMA(Z20, Z0, Z1, Z2, Z3)
	VMOVUPS.Z (R12)(BX*1), K1, Z20
	G44FMA(Z21, Z4, Z5, Z6, Z7)
	VMOVUPS.Z (R13)(BX*1), K1, Z21
	G44FMA(Z20, Z8, Z9, Z10, Z11)
	G44FMA(Z21, Z12, Z13, Z14, Z15)

g44reduce:
	// Z(r) = [h(0,r), h(1,r)], Z(8+r) = [h(2,r), h(3,r)]
	HALF256(Z0, Z4, Z16, Z17)
	HALF256(Z1, Z5, Z18, Z19)
	HALF256(Z2, Z6, Z20, Z21)
	HALF256(Z3, Z7, Z22, Z23)
	HALF256(Z8, Z12, Z24, Z25)
	HALF256(Z9, Z13, Z26, Z27)
	HALF256(Z10, Z14, Z28, Z29)
	HALF256(Z11, Z15, Z30, Z31)

	// P_r = Z(r) = [q(0,r), q(1,r), q(2,r), q(3,r)]
	HALF128(Z0, Z8, Z16, Z17)
	HALF128(Z1, Z9, Z18, Z19)
	HALF128(Z2, Z10, Z20, Z21)
	HALF128(Z3, Z11, Z22, Z23)

	// In each 128-bit block i: lane r = (q0+q2)+(q1+q3) of P_r's block i.
	VUNPCKLPS Z1, Z0, Z16
	VUNPCKHPS Z1, Z0, Z17
	VADDPS    Z17, Z16, Z16
	VUNPCKLPS Z3, Z2, Z18
	VUNPCKHPS Z3, Z2, Z19
	VADDPS    Z19, Z18, Z18
	VSHUFPS   $0x44, Z18, Z16, Z20
	VSHUFPS   $0xEE, Z18, Z16, Z21
	VADDPS    Z21, Z20, Z0

	MOVQ          out+40(FP), DI
	MOVQ          ldo+48(FP), DX
	SHLQ          $2, DX
	VMOVUPS       X0, (DI)
	VEXTRACTF32X4 $1, Z0, (DI)(DX*1)
	LEAQ          (DI)(DX*2), DI
	VEXTRACTF32X4 $2, Z0, (DI)
	VEXTRACTF32X4 $3, Z0, (DI)(DX*1)
	VZEROUPPER
	RET

// func gemm4x1AVX512(k int, w *float32, ldw int, x *float32, out *float32)
// out[r] = Σ_{j<k} w[r*ldw+j]·x[j], r < 4; any k ≥ 0. The same lane order
// as gemm4x4AVX512.
TEXT ·gemm4x1AVX512(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	TAILMASK
	MOVQ w+8(FP), SI
	MOVQ ldw+16(FP), DX
	SHLQ $2, DX
	LEAQ (SI)(DX*1), R8
	LEAQ (R8)(DX*1), R9
	LEAQ (R9)(DX*1), R10
	MOVQ x+24(FP), DI
	XORQ BX, BX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	CMPQ BX, CX
	JGE  g41tail

g41loop:
	VMOVUPS     (DI)(BX*1), Z20
	VMOVUPS     (SI)(BX*1), Z16
	VMOVUPS     (R8)(BX*1), Z17
	VMOVUPS     (R9)(BX*1), Z18
	VMOVUPS     (R10)(BX*1), Z19
	G44FMA(Z20, Z0, Z1, Z2, Z3)
	ADDQ        $64, BX
	CMPQ        BX, CX
	JLT         g41loop

g41tail:
	TESTL AX, AX
	JZ    g41reduce
	VMOVUPS.Z (DI)(BX*1), K1, Z20
	VMOVUPS.Z (SI)(BX*1), K1, Z16
	VMOVUPS.Z (R8)(BX*1), K1, Z17
	VMOVUPS.Z (R9)(BX*1), K1, Z18
	VMOVUPS.Z (R10)(BX*1), K1, Z19
	G44FMA(Z20, Z0, Z1, Z2, Z3)

g41reduce:
	REDUCE4

	MOVQ    out+32(FP), DI
	VMOVUPS X0, (DI)
	VZEROUPPER
	RET

// func prefetchL2(p *byte, n int)
// Prefetches the n bytes at p (n > 0) into L2, a line (64 bytes) at a time.
TEXT ·prefetchL2(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	ADDQ SI, CX

pfloop:
	PREFETCHT1 (SI)
	ADDQ       $64, SI
	CMPQ       SI, CX
	JLT        pfloop
	RET

// func f16AVX512(k int, src *byte, dst *float32)
// dst[j] = float32(half(src[2j:2j+2])), j < k (a multiple of 16).
TEXT ·f16AVX512(SB), NOSPLIT, $0-24
	MOVQ k+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ dst+16(FP), DI
	SHRQ $4, CX
	JZ   f16zdone

f16zloop:
	VCVTPH2PS (SI), Z0
	VMOVUPS   Z0, (DI)
	ADDQ      $32, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       f16zloop

f16zdone:
	VZEROUPPER
	RET

// func q80AVX512(nb int, src *byte, dst *float32)
// Dequantizes nb Q8_0 blocks (float16 d, 32 int8 q): dst = d·q.
TEXT ·q80AVX512(SB), NOSPLIT, $0-24
	MOVQ  nb+0(FP), CX
	MOVQ  src+8(FP), SI
	MOVQ  dst+16(FP), DI
	TESTQ CX, CX
	JZ    q80zdone

q80zloop:
	MOVWLZX      (SI), AX
	VMOVD        AX, X0
	VCVTPH2PS    X0, X0
	VBROADCASTSS X0, Z0
	VPMOVSXBD    2(SI), Z1
	VPMOVSXBD    18(SI), Z2
	VCVTDQ2PS    Z1, Z1
	VCVTDQ2PS    Z2, Z2
	VMULPS       Z0, Z1, Z1
	VMULPS       Z0, Z2, Z2
	VMOVUPS      Z1, (DI)
	VMOVUPS      Z2, 64(DI)
	ADDQ         $34, SI
	ADDQ         $128, DI
	DECQ         CX
	JNZ          q80zloop

q80zdone:
	VZEROUPPER
	RET

// func gemvF16x4AVX512(k int, w *byte, ldw int, x *float32, out *float32, pf int)
// out[r] = Σ_{j<k} half(w[r·ldw+2j:])·x[j] for r < 4 (ldw in bytes; 0 reads
// one row four times), each in 16 lanes as dotL16Go sums: the decode
// product of F16 weights, converting in registers. Prefetches pf bytes ahead
// in each row.
TEXT ·gemvF16x4AVX512(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	TAILMASK
	SHRQ $1, CX                  // bytes of weights in the full steps
	MOVQ w+8(FP), SI
	MOVQ ldw+16(FP), DX
	LEAQ (SI)(DX*1), R8
	LEAQ (R8)(DX*1), R9
	LEAQ (R9)(DX*1), R10
	MOVQ x+24(FP), DI
	MOVQ pf+40(FP), R11
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	CMPQ CX, $64
	JLT  gf16one

gf16loop:
	// Two 16-value steps (a cache line of each row) per pass, one prefetch
	// per row and line.
	PREFETCHT0  (SI)(R11*1)
	PREFETCHT0  (R8)(R11*1)
	PREFETCHT0  (R9)(R11*1)
	PREFETCHT0  (R10)(R11*1)
	VMOVUPS     (DI), Z20
	VCVTPH2PS   (SI), Z16
	VCVTPH2PS   (R8), Z17
	VCVTPH2PS   (R9), Z18
	VCVTPH2PS   (R10), Z19
	G44FMA(Z20, Z0, Z1, Z2, Z3)
	VMOVUPS     64(DI), Z20
	VCVTPH2PS   32(SI), Z16
	VCVTPH2PS   32(R8), Z17
	VCVTPH2PS   32(R9), Z18
	VCVTPH2PS   32(R10), Z19
	G44FMA(Z20, Z0, Z1, Z2, Z3)
	ADDQ        $64, SI
	ADDQ        $64, R8
	ADDQ        $64, R9
	ADDQ        $64, R10
	ADDQ        $128, DI
	SUBQ        $64, CX
	CMPQ        CX, $64
	JGE         gf16loop

gf16one:
	TESTQ CX, CX
	JZ    gf16tail
	VMOVUPS     (DI), Z20
	VCVTPH2PS   (SI), Z16
	VCVTPH2PS   (R8), Z17
	VCVTPH2PS   (R9), Z18
	VCVTPH2PS   (R10), Z19
	G44FMA(Z20, Z0, Z1, Z2, Z3)
	ADDQ        $32, SI
	ADDQ        $32, R8
	ADDQ        $32, R9
	ADDQ        $32, R10
	ADDQ        $64, DI

gf16tail:
	TESTL AX, AX
	JZ    gf16reduce
	VMOVUPS.Z   (DI), K1, Z20
	VMOVDQU16.Z (SI), K1, Y16
	VMOVDQU16.Z (R8), K1, Y17
	VMOVDQU16.Z (R9), K1, Y18
	VMOVDQU16.Z (R10), K1, Y19
	VCVTPH2PS   Y16, Z16
	VCVTPH2PS   Y17, Z17
	VCVTPH2PS   Y18, Z18
	VCVTPH2PS   Y19, Z19
	G44FMA(Z20, Z0, Z1, Z2, Z3)

gf16reduce:
	REDUCE4
	MOVQ    out+32(FP), DI
	VMOVUPS X0, (DI)
	VZEROUPPER
	RET
