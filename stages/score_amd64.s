//go:build amd64

#include "textflag.h"

// AVX2 + FMA kernels of the keykey scorer (the Go twins are the logit loop of
// keyKeyHead with dot4/dot32, and softmaxAccumulate, in score.go). The logits
// use FMA and another summation order than the Go code, and exp is Cephes
// expf, so results agree with the twins to float32 rounding (a few ulp), not
// bit for bit.

// Constants for EXP8 (Cephes expf, as engine/vecmath_amd64.s), 8 lanes each:
// hi    sexp<>+0(SB)
// lo    sexp<>+32(SB)
// log2e sexp<>+64(SB)
// half  sexp<>+96(SB)
// c1    sexp<>+128(SB)
// c2    sexp<>+160(SB)
// p0    sexp<>+192(SB)
// p1    sexp<>+224(SB)
// p2    sexp<>+256(SB)
// p3    sexp<>+288(SB)
// p4    sexp<>+320(SB)
// p5    sexp<>+352(SB)
// one   sexp<>+384(SB)
// cut   sexp<>+416(SB)
// i127  sexp<>+448(SB)
DATA sexp<>+0(SB)/4, $0x42b0c0a5
DATA sexp<>+4(SB)/4, $0x42b0c0a5
DATA sexp<>+8(SB)/4, $0x42b0c0a5
DATA sexp<>+12(SB)/4, $0x42b0c0a5
DATA sexp<>+16(SB)/4, $0x42b0c0a5
DATA sexp<>+20(SB)/4, $0x42b0c0a5
DATA sexp<>+24(SB)/4, $0x42b0c0a5
DATA sexp<>+28(SB)/4, $0x42b0c0a5
DATA sexp<>+32(SB)/4, $0xc2b0c0a5
DATA sexp<>+36(SB)/4, $0xc2b0c0a5
DATA sexp<>+40(SB)/4, $0xc2b0c0a5
DATA sexp<>+44(SB)/4, $0xc2b0c0a5
DATA sexp<>+48(SB)/4, $0xc2b0c0a5
DATA sexp<>+52(SB)/4, $0xc2b0c0a5
DATA sexp<>+56(SB)/4, $0xc2b0c0a5
DATA sexp<>+60(SB)/4, $0xc2b0c0a5
DATA sexp<>+64(SB)/4, $0x3fb8aa3b
DATA sexp<>+68(SB)/4, $0x3fb8aa3b
DATA sexp<>+72(SB)/4, $0x3fb8aa3b
DATA sexp<>+76(SB)/4, $0x3fb8aa3b
DATA sexp<>+80(SB)/4, $0x3fb8aa3b
DATA sexp<>+84(SB)/4, $0x3fb8aa3b
DATA sexp<>+88(SB)/4, $0x3fb8aa3b
DATA sexp<>+92(SB)/4, $0x3fb8aa3b
DATA sexp<>+96(SB)/4, $0x3f000000
DATA sexp<>+100(SB)/4, $0x3f000000
DATA sexp<>+104(SB)/4, $0x3f000000
DATA sexp<>+108(SB)/4, $0x3f000000
DATA sexp<>+112(SB)/4, $0x3f000000
DATA sexp<>+116(SB)/4, $0x3f000000
DATA sexp<>+120(SB)/4, $0x3f000000
DATA sexp<>+124(SB)/4, $0x3f000000
DATA sexp<>+128(SB)/4, $0x3f318000
DATA sexp<>+132(SB)/4, $0x3f318000
DATA sexp<>+136(SB)/4, $0x3f318000
DATA sexp<>+140(SB)/4, $0x3f318000
DATA sexp<>+144(SB)/4, $0x3f318000
DATA sexp<>+148(SB)/4, $0x3f318000
DATA sexp<>+152(SB)/4, $0x3f318000
DATA sexp<>+156(SB)/4, $0x3f318000
DATA sexp<>+160(SB)/4, $0xb95e8083
DATA sexp<>+164(SB)/4, $0xb95e8083
DATA sexp<>+168(SB)/4, $0xb95e8083
DATA sexp<>+172(SB)/4, $0xb95e8083
DATA sexp<>+176(SB)/4, $0xb95e8083
DATA sexp<>+180(SB)/4, $0xb95e8083
DATA sexp<>+184(SB)/4, $0xb95e8083
DATA sexp<>+188(SB)/4, $0xb95e8083
DATA sexp<>+192(SB)/4, $0x39506967
DATA sexp<>+196(SB)/4, $0x39506967
DATA sexp<>+200(SB)/4, $0x39506967
DATA sexp<>+204(SB)/4, $0x39506967
DATA sexp<>+208(SB)/4, $0x39506967
DATA sexp<>+212(SB)/4, $0x39506967
DATA sexp<>+216(SB)/4, $0x39506967
DATA sexp<>+220(SB)/4, $0x39506967
DATA sexp<>+224(SB)/4, $0x3ab743ce
DATA sexp<>+228(SB)/4, $0x3ab743ce
DATA sexp<>+232(SB)/4, $0x3ab743ce
DATA sexp<>+236(SB)/4, $0x3ab743ce
DATA sexp<>+240(SB)/4, $0x3ab743ce
DATA sexp<>+244(SB)/4, $0x3ab743ce
DATA sexp<>+248(SB)/4, $0x3ab743ce
DATA sexp<>+252(SB)/4, $0x3ab743ce
DATA sexp<>+256(SB)/4, $0x3c088908
DATA sexp<>+260(SB)/4, $0x3c088908
DATA sexp<>+264(SB)/4, $0x3c088908
DATA sexp<>+268(SB)/4, $0x3c088908
DATA sexp<>+272(SB)/4, $0x3c088908
DATA sexp<>+276(SB)/4, $0x3c088908
DATA sexp<>+280(SB)/4, $0x3c088908
DATA sexp<>+284(SB)/4, $0x3c088908
DATA sexp<>+288(SB)/4, $0x3d2aa9c1
DATA sexp<>+292(SB)/4, $0x3d2aa9c1
DATA sexp<>+296(SB)/4, $0x3d2aa9c1
DATA sexp<>+300(SB)/4, $0x3d2aa9c1
DATA sexp<>+304(SB)/4, $0x3d2aa9c1
DATA sexp<>+308(SB)/4, $0x3d2aa9c1
DATA sexp<>+312(SB)/4, $0x3d2aa9c1
DATA sexp<>+316(SB)/4, $0x3d2aa9c1
DATA sexp<>+320(SB)/4, $0x3e2aaaaa
DATA sexp<>+324(SB)/4, $0x3e2aaaaa
DATA sexp<>+328(SB)/4, $0x3e2aaaaa
DATA sexp<>+332(SB)/4, $0x3e2aaaaa
DATA sexp<>+336(SB)/4, $0x3e2aaaaa
DATA sexp<>+340(SB)/4, $0x3e2aaaaa
DATA sexp<>+344(SB)/4, $0x3e2aaaaa
DATA sexp<>+348(SB)/4, $0x3e2aaaaa
DATA sexp<>+352(SB)/4, $0x3f000000
DATA sexp<>+356(SB)/4, $0x3f000000
DATA sexp<>+360(SB)/4, $0x3f000000
DATA sexp<>+364(SB)/4, $0x3f000000
DATA sexp<>+368(SB)/4, $0x3f000000
DATA sexp<>+372(SB)/4, $0x3f000000
DATA sexp<>+376(SB)/4, $0x3f000000
DATA sexp<>+380(SB)/4, $0x3f000000
DATA sexp<>+384(SB)/4, $0x3f800000
DATA sexp<>+388(SB)/4, $0x3f800000
DATA sexp<>+392(SB)/4, $0x3f800000
DATA sexp<>+396(SB)/4, $0x3f800000
DATA sexp<>+400(SB)/4, $0x3f800000
DATA sexp<>+404(SB)/4, $0x3f800000
DATA sexp<>+408(SB)/4, $0x3f800000
DATA sexp<>+412(SB)/4, $0x3f800000
DATA sexp<>+416(SB)/4, $0xc2ae0000
DATA sexp<>+420(SB)/4, $0xc2ae0000
DATA sexp<>+424(SB)/4, $0xc2ae0000
DATA sexp<>+428(SB)/4, $0xc2ae0000
DATA sexp<>+432(SB)/4, $0xc2ae0000
DATA sexp<>+436(SB)/4, $0xc2ae0000
DATA sexp<>+440(SB)/4, $0xc2ae0000
DATA sexp<>+444(SB)/4, $0xc2ae0000
DATA sexp<>+448(SB)/4, $0x0000007f
DATA sexp<>+452(SB)/4, $0x0000007f
DATA sexp<>+456(SB)/4, $0x0000007f
DATA sexp<>+460(SB)/4, $0x0000007f
DATA sexp<>+464(SB)/4, $0x0000007f
DATA sexp<>+468(SB)/4, $0x0000007f
DATA sexp<>+472(SB)/4, $0x0000007f
DATA sexp<>+476(SB)/4, $0x0000007f
GLOBL sexp<>(SB), RODATA|NOPTR, $480

// EXP8 replaces Y0 by exp(Y0): range reduction by ln 2 in two parts, degree-5
// polynomial, scaling by 2^n; lanes below −87 give exactly 0. Clobbers Y1–Y4.
#define EXP8 \
	VCMPPS       $13, sexp<>+416(SB), Y0, Y4 \
	VMINPS       sexp<>+0(SB), Y0, Y0        \
	VMAXPS       sexp<>+32(SB), Y0, Y0       \
	VMOVUPS      sexp<>+96(SB), Y1           \
	VFMADD231PS  sexp<>+64(SB), Y0, Y1       \
	VROUNDPS     $1, Y1, Y1                    \
	VFNMADD231PS sexp<>+128(SB), Y1, Y0      \
	VFNMADD231PS sexp<>+160(SB), Y1, Y0      \
	VMULPS       Y0, Y0, Y2                    \
	VMOVUPS      sexp<>+192(SB), Y3           \
	VFMADD213PS  sexp<>+224(SB), Y0, Y3      \
	VFMADD213PS  sexp<>+256(SB), Y0, Y3      \
	VFMADD213PS  sexp<>+288(SB), Y0, Y3      \
	VFMADD213PS  sexp<>+320(SB), Y0, Y3      \
	VFMADD213PS  sexp<>+352(SB), Y0, Y3      \
	VFMADD213PS  Y0, Y2, Y3                    \
	VADDPS       sexp<>+384(SB), Y3, Y3      \
	VCVTTPS2DQ   Y1, Y1                        \
	VPADDD       sexp<>+448(SB), Y1, Y1      \
	VPSLLD       $23, Y1, Y1                   \
	VMULPS       Y1, Y3, Y0                    \
	VANDPS       Y4, Y0, Y0

// func expSumAVX(x *float32, n int, m float32) float64
// x[i] = exp(x[i] − m) for i < n (a multiple of 8); returns Σ float64(x[i]).
TEXT ·expSumAVX(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS m+16(FP), Y8
	VXORPD       Y9, Y9, Y9
	VXORPD       Y10, Y10, Y10
	SHRQ         $3, CX
	JZ           esDone

esLoop:
	VMOVUPS     (SI), Y0
	VSUBPS      Y8, Y0, Y0
	EXP8
	VMOVUPS     Y0, (SI)
	VCVTPS2PD   X0, Y1
	VADDPD      Y1, Y9, Y9
	VEXTRACTF128 $1, Y0, X2
	VCVTPS2PD   X2, Y2
	VADDPD      Y2, Y10, Y10
	ADDQ        $32, SI
	DECQ        CX
	JNZ         esLoop

esDone:
	VADDPD       Y10, Y9, Y9
	VEXTRACTF128 $1, Y9, X1
	VADDPD       X1, X9, X9
	VPERMILPD    $1, X9, X1
	VADDSD       X1, X9, X9
	VMOVSD       X9, ret+24(FP)
	VZEROUPPER
	RET

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
