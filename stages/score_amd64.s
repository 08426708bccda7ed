//go:build amd64

#include "textflag.h"

// AVX2 + FMA kernels of the keykey scorer (the Go twins are the logit loop of
// keyKeyHead with dot4/dot32, and softmaxAccumulate, in score.go). The logits
// use FMA and another summation order than the Go code, and softmax's exp is
// internal/vec's ExpSubSum (Cephes expf, the vectorised exp engine uses too),
// so results agree with the twins to float32 rounding (a few ulp), not bit
// for bit.

// func maxAVX(x *float32, n int) float32
// The largest x[i], i < n (a multiple of 8, > 0); NaN if any x[i] is NaN, as
// Go's max.
TEXT ·maxAVX(SB), NOSPLIT, $0-20
	MOVQ    x+0(FP), SI
	MOVQ    n+8(FP), CX
	VMOVUPS (SI), Y0
	VCMPPS  $3, Y0, Y0, Y3
	ADDQ    $32, SI
	SHRQ    $3, CX
	DECQ    CX
	JZ      mxReduce

mxLoop:
	VMOVUPS (SI), Y1
	VCMPPS  $3, Y1, Y1, Y2
	VORPS   Y2, Y3, Y3
	VMAXPS  Y1, Y0, Y0
	ADDQ    $32, SI
	DECQ    CX
	JNZ     mxLoop

mxReduce:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4E, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xB1, X0, X1
	VMAXPS       X1, X0, X0
	VMOVMSKPS    Y3, AX
	TESTL        AX, AX
	JZ           mxStore
	MOVL         $0x7fc00000, AX
	VMOVD        AX, X0

mxStore:
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func accAVX(acc *float64, e *float32, n int, inv float64)
// acc[i] += float64(e[i])·inv for i < n (a multiple of 8), rounding the
// product and the sum separately as the Go code does.
TEXT ·accAVX(SB), NOSPLIT, $0-32
	MOVQ         acc+0(FP), DI
	MOVQ         e+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSD inv+24(FP), Y8
	SHRQ         $3, CX
	JZ           accDone

accLoop:
	VCVTPS2PD (SI), Y0
	VCVTPS2PD 16(SI), Y1
	VMULPD    Y8, Y0, Y0
	VMULPD    Y8, Y1, Y1
	VADDPD    (DI), Y0, Y0
	VADDPD    32(DI), Y1, Y1
	VMOVUPD   Y0, (DI)
	VMOVUPD   Y1, 32(DI)
	ADDQ      $32, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       accLoop

accDone:
	VZEROUPPER
	RET

// func qkAVX(q *float32, nq int, k *float32, nk, d int, out *float32, ldo int, scale float32)
// out[b*ldo+t] = (Σ_{j<d} q[b*d+j]·k[t*d+j])·scale for b < nq (a multiple of
// 4), t < nk (a multiple of 2); d a multiple of 8. Key pairs outside, groups
// of 4 queries inside, so the two key rows stay in L1. Locals: 0(SP) q,
// 8(SP) nq/4, 16(SP) the out column of the current key pair.
TEXT ·qkAVX(SB), NOSPLIT, $24-60
	MOVQ         q+0(FP), AX
	MOVQ         AX, 0(SP)
	MOVQ         nq+8(FP), AX
	SHRQ         $2, AX
	JZ           qkDone
	MOVQ         AX, 8(SP)
	MOVQ         k+16(FP), DI
	MOVQ         nk+24(FP), CX
	SHRQ         $1, CX
	JZ           qkDone
	MOVQ         d+32(FP), R8
	SHLQ         $2, R8              // row bytes
	MOVQ         out+40(FP), AX
	MOVQ         AX, 16(SP)
	MOVQ         ldo+48(FP), R12
	SHLQ         $2, R12             // out row bytes
	VBROADCASTSS scale+56(FP), Y15

qkPair:
	LEAQ (DI)(R8*1), R10          // second key row
	MOVQ 0(SP), AX                // query group
	MOVQ 16(SP), DX               // out tile
	MOVQ 8(SP), R13

qkGroup:
	LEAQ   (AX)(R8*1), SI
	LEAQ   (AX)(R8*2), R9
	LEAQ   (SI)(R8*2), R11
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ   BX, BX

qkDot:
	VMOVUPS     (DI)(BX*1), Y8
	VMOVUPS     (R10)(BX*1), Y9
	VMOVUPS     (AX)(BX*1), Y10
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y10, Y9, Y4
	VMOVUPS     (SI)(BX*1), Y11
	VFMADD231PS Y11, Y8, Y1
	VFMADD231PS Y11, Y9, Y5
	VMOVUPS     (R9)(BX*1), Y12
	VFMADD231PS Y12, Y8, Y2
	VFMADD231PS Y12, Y9, Y6
	VMOVUPS     (R11)(BX*1), Y13
	VFMADD231PS Y13, Y8, Y3
	VFMADD231PS Y13, Y9, Y7
	ADDQ        $32, BX
	CMPQ        BX, R8
	JB          qkDot

	VHADDPS      Y1, Y0, Y0
	VHADDPS      Y3, Y2, Y2
	VHADDPS      Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      Y5, Y4, Y4
	VHADDPS      Y7, Y6, Y6
	VHADDPS      Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VADDPS       X5, X4, X4
	VMULPS       X15, X0, X0
	VMULPS       X15, X4, X4
	VUNPCKLPS    X4, X0, X1
	VUNPCKHPS    X4, X0, X2
	VMOVLPS      X1, (DX)
	VMOVHPS      X1, (DX)(R12*1)
	LEAQ         (DX)(R12*2), DX
	VMOVLPS      X2, (DX)
	VMOVHPS      X2, (DX)(R12*1)
	LEAQ         (DX)(R12*2), DX
	LEAQ         (AX)(R8*4), AX
	DECQ         R13
	JNZ          qkGroup

	LEAQ (DI)(R8*2), DI
	ADDQ $8, 16(SP)
	DECQ CX
	JNZ  qkPair

qkDone:
	VZEROUPPER
	RET
