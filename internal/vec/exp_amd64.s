//go:build amd64

#include "textflag.h"

// AVX2 + FMA kernels built on one vectorised exp, EXP8 (Cephes expf: range
// reduction by ln 2 in two parts, degree-5 polynomial, scaling by 2^n; lanes
// below −87 and NaN give exactly 0). The Go twins are in vec.go; they use the
// same formula without FMA, so a value may differ from its twin's by 1 ulp.
// Lengths are multiples of 8; the Go wrappers handle tails.

// Constants, each repeated in 8 lanes:
// hi    expc<>+0(SB)
// lo    expc<>+32(SB)
// log2e expc<>+64(SB)
// half  expc<>+96(SB)
// c1    expc<>+128(SB)
// c2    expc<>+160(SB)
// p0    expc<>+192(SB)
// p1    expc<>+224(SB)
// p2    expc<>+256(SB)
// p3    expc<>+288(SB)
// p4    expc<>+320(SB)
// p5    expc<>+352(SB)
// one   expc<>+384(SB)
// cut   expc<>+416(SB)
// i127  expc<>+448(SB)
DATA expc<>+0(SB)/4, $0x42b0c0a5
DATA expc<>+4(SB)/4, $0x42b0c0a5
DATA expc<>+8(SB)/4, $0x42b0c0a5
DATA expc<>+12(SB)/4, $0x42b0c0a5
DATA expc<>+16(SB)/4, $0x42b0c0a5
DATA expc<>+20(SB)/4, $0x42b0c0a5
DATA expc<>+24(SB)/4, $0x42b0c0a5
DATA expc<>+28(SB)/4, $0x42b0c0a5
DATA expc<>+32(SB)/4, $0xc2b0c0a5
DATA expc<>+36(SB)/4, $0xc2b0c0a5
DATA expc<>+40(SB)/4, $0xc2b0c0a5
DATA expc<>+44(SB)/4, $0xc2b0c0a5
DATA expc<>+48(SB)/4, $0xc2b0c0a5
DATA expc<>+52(SB)/4, $0xc2b0c0a5
DATA expc<>+56(SB)/4, $0xc2b0c0a5
DATA expc<>+60(SB)/4, $0xc2b0c0a5
DATA expc<>+64(SB)/4, $0x3fb8aa3b
DATA expc<>+68(SB)/4, $0x3fb8aa3b
DATA expc<>+72(SB)/4, $0x3fb8aa3b
DATA expc<>+76(SB)/4, $0x3fb8aa3b
DATA expc<>+80(SB)/4, $0x3fb8aa3b
DATA expc<>+84(SB)/4, $0x3fb8aa3b
DATA expc<>+88(SB)/4, $0x3fb8aa3b
DATA expc<>+92(SB)/4, $0x3fb8aa3b
DATA expc<>+96(SB)/4, $0x3f000000
DATA expc<>+100(SB)/4, $0x3f000000
DATA expc<>+104(SB)/4, $0x3f000000
DATA expc<>+108(SB)/4, $0x3f000000
DATA expc<>+112(SB)/4, $0x3f000000
DATA expc<>+116(SB)/4, $0x3f000000
DATA expc<>+120(SB)/4, $0x3f000000
DATA expc<>+124(SB)/4, $0x3f000000
DATA expc<>+128(SB)/4, $0x3f318000
DATA expc<>+132(SB)/4, $0x3f318000
DATA expc<>+136(SB)/4, $0x3f318000
DATA expc<>+140(SB)/4, $0x3f318000
DATA expc<>+144(SB)/4, $0x3f318000
DATA expc<>+148(SB)/4, $0x3f318000
DATA expc<>+152(SB)/4, $0x3f318000
DATA expc<>+156(SB)/4, $0x3f318000
DATA expc<>+160(SB)/4, $0xb95e8083
DATA expc<>+164(SB)/4, $0xb95e8083
DATA expc<>+168(SB)/4, $0xb95e8083
DATA expc<>+172(SB)/4, $0xb95e8083
DATA expc<>+176(SB)/4, $0xb95e8083
DATA expc<>+180(SB)/4, $0xb95e8083
DATA expc<>+184(SB)/4, $0xb95e8083
DATA expc<>+188(SB)/4, $0xb95e8083
DATA expc<>+192(SB)/4, $0x39506967
DATA expc<>+196(SB)/4, $0x39506967
DATA expc<>+200(SB)/4, $0x39506967
DATA expc<>+204(SB)/4, $0x39506967
DATA expc<>+208(SB)/4, $0x39506967
DATA expc<>+212(SB)/4, $0x39506967
DATA expc<>+216(SB)/4, $0x39506967
DATA expc<>+220(SB)/4, $0x39506967
DATA expc<>+224(SB)/4, $0x3ab743ce
DATA expc<>+228(SB)/4, $0x3ab743ce
DATA expc<>+232(SB)/4, $0x3ab743ce
DATA expc<>+236(SB)/4, $0x3ab743ce
DATA expc<>+240(SB)/4, $0x3ab743ce
DATA expc<>+244(SB)/4, $0x3ab743ce
DATA expc<>+248(SB)/4, $0x3ab743ce
DATA expc<>+252(SB)/4, $0x3ab743ce
DATA expc<>+256(SB)/4, $0x3c088908
DATA expc<>+260(SB)/4, $0x3c088908
DATA expc<>+264(SB)/4, $0x3c088908
DATA expc<>+268(SB)/4, $0x3c088908
DATA expc<>+272(SB)/4, $0x3c088908
DATA expc<>+276(SB)/4, $0x3c088908
DATA expc<>+280(SB)/4, $0x3c088908
DATA expc<>+284(SB)/4, $0x3c088908
DATA expc<>+288(SB)/4, $0x3d2aa9c1
DATA expc<>+292(SB)/4, $0x3d2aa9c1
DATA expc<>+296(SB)/4, $0x3d2aa9c1
DATA expc<>+300(SB)/4, $0x3d2aa9c1
DATA expc<>+304(SB)/4, $0x3d2aa9c1
DATA expc<>+308(SB)/4, $0x3d2aa9c1
DATA expc<>+312(SB)/4, $0x3d2aa9c1
DATA expc<>+316(SB)/4, $0x3d2aa9c1
DATA expc<>+320(SB)/4, $0x3e2aaaaa
DATA expc<>+324(SB)/4, $0x3e2aaaaa
DATA expc<>+328(SB)/4, $0x3e2aaaaa
DATA expc<>+332(SB)/4, $0x3e2aaaaa
DATA expc<>+336(SB)/4, $0x3e2aaaaa
DATA expc<>+340(SB)/4, $0x3e2aaaaa
DATA expc<>+344(SB)/4, $0x3e2aaaaa
DATA expc<>+348(SB)/4, $0x3e2aaaaa
DATA expc<>+352(SB)/4, $0x3f000000
DATA expc<>+356(SB)/4, $0x3f000000
DATA expc<>+360(SB)/4, $0x3f000000
DATA expc<>+364(SB)/4, $0x3f000000
DATA expc<>+368(SB)/4, $0x3f000000
DATA expc<>+372(SB)/4, $0x3f000000
DATA expc<>+376(SB)/4, $0x3f000000
DATA expc<>+380(SB)/4, $0x3f000000
DATA expc<>+384(SB)/4, $0x3f800000
DATA expc<>+388(SB)/4, $0x3f800000
DATA expc<>+392(SB)/4, $0x3f800000
DATA expc<>+396(SB)/4, $0x3f800000
DATA expc<>+400(SB)/4, $0x3f800000
DATA expc<>+404(SB)/4, $0x3f800000
DATA expc<>+408(SB)/4, $0x3f800000
DATA expc<>+412(SB)/4, $0x3f800000
DATA expc<>+416(SB)/4, $0xc2ae0000
DATA expc<>+420(SB)/4, $0xc2ae0000
DATA expc<>+424(SB)/4, $0xc2ae0000
DATA expc<>+428(SB)/4, $0xc2ae0000
DATA expc<>+432(SB)/4, $0xc2ae0000
DATA expc<>+436(SB)/4, $0xc2ae0000
DATA expc<>+440(SB)/4, $0xc2ae0000
DATA expc<>+444(SB)/4, $0xc2ae0000
DATA expc<>+448(SB)/4, $0x0000007f
DATA expc<>+452(SB)/4, $0x0000007f
DATA expc<>+456(SB)/4, $0x0000007f
DATA expc<>+460(SB)/4, $0x0000007f
DATA expc<>+464(SB)/4, $0x0000007f
DATA expc<>+468(SB)/4, $0x0000007f
DATA expc<>+472(SB)/4, $0x0000007f
DATA expc<>+476(SB)/4, $0x0000007f
GLOBL expc<>(SB), RODATA|NOPTR, $480

// EXP8 replaces Y0 by exp(Y0). Clobbers Y1–Y4.
#define EXP8 \
	VCMPPS       $13, expc<>+416(SB), Y0, Y4 \
	VMINPS       expc<>+0(SB), Y0, Y0        \
	VMAXPS       expc<>+32(SB), Y0, Y0       \
	VMOVUPS      expc<>+96(SB), Y1           \
	VFMADD231PS  expc<>+64(SB), Y0, Y1       \
	VROUNDPS     $1, Y1, Y1                    \
	VFNMADD231PS expc<>+128(SB), Y1, Y0      \
	VFNMADD231PS expc<>+160(SB), Y1, Y0      \
	VMULPS       Y0, Y0, Y2                    \
	VMOVUPS      expc<>+192(SB), Y3           \
	VFMADD213PS  expc<>+224(SB), Y0, Y3      \
	VFMADD213PS  expc<>+256(SB), Y0, Y3      \
	VFMADD213PS  expc<>+288(SB), Y0, Y3      \
	VFMADD213PS  expc<>+320(SB), Y0, Y3      \
	VFMADD213PS  expc<>+352(SB), Y0, Y3      \
	VFMADD213PS  Y0, Y2, Y3                    \
	VADDPS       expc<>+384(SB), Y3, Y3      \
	VCVTTPS2DQ   Y1, Y1                        \
	VPADDD       expc<>+448(SB), Y1, Y1      \
	VPSLLD       $23, Y1, Y1                   \
	VMULPS       Y1, Y3, Y0                    \
	VANDPS       Y4, Y0, Y0

// func expAVX(k int, x *float32)
// x[j] = exp(x[j]), j < k.
TEXT ·expAVX(SB), NOSPLIT, $0-16
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), SI
	SHRQ $3, CX
	JZ   expdone

exploop:
	VMOVUPS (SI), Y0
	EXP8
	VMOVUPS Y0, (SI)
	ADDQ $32, SI
	DECQ CX
	JNZ  exploop

expdone:
	VZEROUPPER
	RET

// func siluMulAVX(k int, gate, u *float32)
// gate[j] = gate[j]/(1+exp(−gate[j]))·u[j], j < k.
TEXT ·siluMulAVX(SB), NOSPLIT, $0-24
	MOVQ k+0(FP), CX
	MOVQ gate+8(FP), SI
	MOVQ u+16(FP), DI
	SHRQ $3, CX
	JZ   siludone

siluloop:
	VMOVUPS (SI), Y5
	VXORPS  Y0, Y0, Y0
	VSUBPS  Y5, Y0, Y0
	EXP8
	VADDPS  expc<>+384(SB), Y0, Y0
	VDIVPS  Y0, Y5, Y5
	VMULPS  (DI), Y5, Y5
	VMOVUPS Y5, (SI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  siluloop

siludone:
	VZEROUPPER
	RET

// func expSubSumAVX(x *float32, n int, m float32) float64
// x[i] = exp(x[i] − m) for i < n (a multiple of 8); returns Σ float64(x[i]),
// summed as ExpSubSumGo does: lanes 0–3 in Y9, 4–7 in Y10, then lane j plus
// lane j+4, then (0+2) + (1+3).
TEXT ·expSubSumAVX(SB), NOSPLIT, $0-32
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
