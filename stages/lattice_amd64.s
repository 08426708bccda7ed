//go:build amd64

#include "textflag.h"

// AVX2 kernels of Quantizer.Encode (the Go twins are the loops of
// Quantizer.Encode, encodeLattice with nearestDoubled, and encodeScalar in
// quantize.go and lattice.go). They perform the same float32 operations in the
// same order as the Go code, so their codes are identical.

DATA latc<>+0(SB)/4, $0x4b400000  // roundMagic, 1.5·2^23
DATA latc<>+4(SB)/4, $0x7fffffff  // abs mask, largest int32
DATA latc<>+8(SB)/4, $0x3f800000  // 1.0
DATA latc<>+12(SB)/4, $0x40000000 // 2.0
DATA latc<>+16(SB)/4, $1          // int 1
GLOBL latc<>(SB), RODATA|NOPTR, $20

// latidx<>+i·32: the index i in 8 lanes.
DATA latidx<>+0(SB)/4, $0
DATA latidx<>+4(SB)/4, $0
DATA latidx<>+8(SB)/4, $0
DATA latidx<>+12(SB)/4, $0
DATA latidx<>+16(SB)/4, $0
DATA latidx<>+20(SB)/4, $0
DATA latidx<>+24(SB)/4, $0
DATA latidx<>+28(SB)/4, $0
DATA latidx<>+32(SB)/4, $1
DATA latidx<>+36(SB)/4, $1
DATA latidx<>+40(SB)/4, $1
DATA latidx<>+44(SB)/4, $1
DATA latidx<>+48(SB)/4, $1
DATA latidx<>+52(SB)/4, $1
DATA latidx<>+56(SB)/4, $1
DATA latidx<>+60(SB)/4, $1
DATA latidx<>+64(SB)/4, $2
DATA latidx<>+68(SB)/4, $2
DATA latidx<>+72(SB)/4, $2
DATA latidx<>+76(SB)/4, $2
DATA latidx<>+80(SB)/4, $2
DATA latidx<>+84(SB)/4, $2
DATA latidx<>+88(SB)/4, $2
DATA latidx<>+92(SB)/4, $2
DATA latidx<>+96(SB)/4, $3
DATA latidx<>+100(SB)/4, $3
DATA latidx<>+104(SB)/4, $3
DATA latidx<>+108(SB)/4, $3
DATA latidx<>+112(SB)/4, $3
DATA latidx<>+116(SB)/4, $3
DATA latidx<>+120(SB)/4, $3
DATA latidx<>+124(SB)/4, $3
DATA latidx<>+128(SB)/4, $4
DATA latidx<>+132(SB)/4, $4
DATA latidx<>+136(SB)/4, $4
DATA latidx<>+140(SB)/4, $4
DATA latidx<>+144(SB)/4, $4
DATA latidx<>+148(SB)/4, $4
DATA latidx<>+152(SB)/4, $4
DATA latidx<>+156(SB)/4, $4
DATA latidx<>+160(SB)/4, $5
DATA latidx<>+164(SB)/4, $5
DATA latidx<>+168(SB)/4, $5
DATA latidx<>+172(SB)/4, $5
DATA latidx<>+176(SB)/4, $5
DATA latidx<>+180(SB)/4, $5
DATA latidx<>+184(SB)/4, $5
DATA latidx<>+188(SB)/4, $5
DATA latidx<>+192(SB)/4, $6
DATA latidx<>+196(SB)/4, $6
DATA latidx<>+200(SB)/4, $6
DATA latidx<>+204(SB)/4, $6
DATA latidx<>+208(SB)/4, $6
DATA latidx<>+212(SB)/4, $6
DATA latidx<>+216(SB)/4, $6
DATA latidx<>+220(SB)/4, $6
DATA latidx<>+224(SB)/4, $7
DATA latidx<>+228(SB)/4, $7
DATA latidx<>+232(SB)/4, $7
DATA latidx<>+236(SB)/4, $7
DATA latidx<>+240(SB)/4, $7
DATA latidx<>+244(SB)/4, $7
DATA latidx<>+248(SB)/4, $7
DATA latidx<>+252(SB)/4, $7
GLOBL latidx<>(SB), RODATA|NOPTR, $256

// TRANSPOSE8 transposes the 8×8 matrix of 32-bit values whose rows are Y0…Y7
// into Y8…Y15 (row i of the result in Y(8+i)); Y0…Y7 are destroyed.
#define TRANSPOSE8 \
	VUNPCKLPS  Y1, Y0, Y8          \
	VUNPCKHPS  Y1, Y0, Y9          \
	VUNPCKLPS  Y3, Y2, Y10         \
	VUNPCKHPS  Y3, Y2, Y11         \
	VUNPCKLPS  Y5, Y4, Y12         \
	VUNPCKHPS  Y5, Y4, Y13         \
	VUNPCKLPS  Y7, Y6, Y14         \
	VUNPCKHPS  Y7, Y6, Y15         \
	VSHUFPS    $0x44, Y10, Y8, Y0  \
	VSHUFPS    $0xEE, Y10, Y8, Y1  \
	VSHUFPS    $0x44, Y11, Y9, Y2  \
	VSHUFPS    $0xEE, Y11, Y9, Y3  \
	VSHUFPS    $0x44, Y14, Y12, Y4 \
	VSHUFPS    $0xEE, Y14, Y12, Y5 \
	VSHUFPS    $0x44, Y15, Y13, Y6 \
	VSHUFPS    $0xEE, Y15, Y13, Y7 \
	VPERM2F128 $0x20, Y4, Y0, Y8   \
	VPERM2F128 $0x31, Y4, Y0, Y12  \
	VPERM2F128 $0x20, Y5, Y1, Y9   \
	VPERM2F128 $0x31, Y5, Y1, Y13  \
	VPERM2F128 $0x20, Y6, Y2, Y10  \
	VPERM2F128 $0x31, Y6, Y2, Y14  \
	VPERM2F128 $0x20, Y7, Y3, Y11  \
	VPERM2F128 $0x31, Y7, Y3, Y15

// Frame: y[i] at i·32 (coordinate i of the 8 groups), r[i] at 256 + i·32
// (later the codes), m[i] at 512 + i·32 (−1 where e_i < 0, else 0).

// COORD is one coordinate i of nearestDoubled's first loop, for 8 groups.
// Y6 = abs mask, Y7 = roundMagic; accumulators Y8 dist, Y9 Σ|e|, Y10 parity,
// Y11 negs, Y12 max|e|, Y13 its index, Y14 min|e|, Y15 its index. The keys
// |e|·8 + i of the Go code become: the max index moves to i when |e_i| >= the
// running max (ties to the last i, as the larger key), the min index when
// |e_i| < the running min (ties to the first i); |e| compares as int32 bits.
#define COORD(i) \
	VMOVUPS   (i*32)(SP), Y0             \
	VADDPS    Y7, Y0, Y1                 \
	VSUBPS    Y7, Y1, Y2                 \
	VSUBPS    Y2, Y0, Y2                 \
	VPSUBD    Y7, Y1, Y3                 \
	VMOVDQU   Y3, (256+i*32)(SP)         \
	VPXOR     Y1, Y10, Y10               \
	VMULPS    Y2, Y2, Y4                 \
	VADDPS    Y4, Y8, Y8                 \
	VANDPS    Y6, Y2, Y5                 \
	VADDPS    Y5, Y9, Y9                 \
	VPSRAD    $31, Y2, Y4                \
	VMOVDQU   Y4, (512+i*32)(SP)         \
	VPXOR     Y4, Y11, Y11               \
	VPMAXSD   Y5, Y12, Y12               \
	VPCMPEQD  Y5, Y12, Y4                \
	VPBLENDVB Y4, latidx<>+(i*32)(SB), Y13, Y13 \
	VPCMPGTD  Y5, Y14, Y4                \
	VPMINSD   Y5, Y14, Y14               \
	VPBLENDVB Y4, latidx<>+(i*32)(SB), Y15, Y15

// CODE is one coordinate i of nearestDoubled's result and the clamp of
// encodeLattice. Y2 = integer coset chosen, Y13 = index to fix in the integer
// coset (−1: none), Y15 = the same in the half-integer coset, Y3 = int 1,
// Y5 = lim, Y6 = −lim.
#define CODE(i) \
	VMOVDQU      (256+i*32)(SP), Y7      \
	VPADDD       Y7, Y7, Y7              \
	VMOVDQU      (512+i*32)(SP), Y8      \
	VPADDD       Y8, Y8, Y8              \
	VPOR         Y3, Y8, Y8              \
	VPADDD       Y8, Y8, Y9              \
	VPCMPEQD     latidx<>+(i*32)(SB), Y13, Y11 \
	VPAND        Y9, Y11, Y11            \
	VPADDD       Y11, Y7, Y11            \
	VPCMPEQD     latidx<>+(i*32)(SB), Y15, Y12 \
	VPAND        Y9, Y12, Y12            \
	VPADDD       Y8, Y7, Y10             \
	VPSUBD       Y12, Y10, Y10           \
	VPBLENDVB    Y2, Y11, Y10, Y10       \
	VPMINSD      Y5, Y10, Y10            \
	VPMAXSD      Y6, Y10, Y10            \
	VMOVDQU      Y10, (256+i*32)(SP)

// PACKROW packs the 8 int32 codes of Yr into int16 and stores them at off(DI).
#define PACKROW(r, xr, off) \
	VEXTRACTI128 $1, r, X0    \
	VPACKSSDW    X0, xr, xr   \
	VMOVDQU      xr, off(DI)

// func e8EncodeAVX(codes *int16, x *float32, nb int, inv, clampHi float32, lim int32, sat, halfParity bool)
TEXT ·e8EncodeAVX(SB), 0, $768-38
	MOVQ codes+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ nb+16(FP), CX
	TESTQ CX, CX
	JZ   e8Done

e8Batch:
	VBROADCASTSS inv+24(FP), Y8
	VMULPS       0(SI), Y8, Y0
	VMULPS       32(SI), Y8, Y1
	VMULPS       64(SI), Y8, Y2
	VMULPS       96(SI), Y8, Y3
	VMULPS       128(SI), Y8, Y4
	VMULPS       160(SI), Y8, Y5
	VMULPS       192(SI), Y8, Y6
	VMULPS       224(SI), Y8, Y7
	CMPB         sat+36(FP), $0
	JEQ          e8NoClamp
	// clampFinite(y, −hi, hi, 0)
	VBROADCASTSS clampHi+28(FP), Y9
	VXORPS       Y10, Y10, Y10
	VSUBPS       Y9, Y10, Y10
	VCMPPS       $7, Y0, Y0, Y11
	VANDPS       Y11, Y0, Y0
	VMAXPS       Y10, Y0, Y0
	VMINPS       Y9, Y0, Y0
	VCMPPS       $7, Y1, Y1, Y11
	VANDPS       Y11, Y1, Y1
	VMAXPS       Y10, Y1, Y1
	VMINPS       Y9, Y1, Y1
	VCMPPS       $7, Y2, Y2, Y11
	VANDPS       Y11, Y2, Y2
	VMAXPS       Y10, Y2, Y2
	VMINPS       Y9, Y2, Y2
	VCMPPS       $7, Y3, Y3, Y11
	VANDPS       Y11, Y3, Y3
	VMAXPS       Y10, Y3, Y3
	VMINPS       Y9, Y3, Y3
	VCMPPS       $7, Y4, Y4, Y11
	VANDPS       Y11, Y4, Y4
	VMAXPS       Y10, Y4, Y4
	VMINPS       Y9, Y4, Y4
	VCMPPS       $7, Y5, Y5, Y11
	VANDPS       Y11, Y5, Y5
	VMAXPS       Y10, Y5, Y5
	VMINPS       Y9, Y5, Y5
	VCMPPS       $7, Y6, Y6, Y11
	VANDPS       Y11, Y6, Y6
	VMAXPS       Y10, Y6, Y6
	VMINPS       Y9, Y6, Y6
	VCMPPS       $7, Y7, Y7, Y11
	VANDPS       Y11, Y7, Y7
	VMAXPS       Y10, Y7, Y7
	VMINPS       Y9, Y7, Y7

e8NoClamp:
	TRANSPOSE8
	VMOVUPS Y8, 0(SP)
	VMOVUPS Y9, 32(SP)
	VMOVUPS Y10, 64(SP)
	VMOVUPS Y11, 96(SP)
	VMOVUPS Y12, 128(SP)
	VMOVUPS Y13, 160(SP)
	VMOVUPS Y14, 192(SP)
	VMOVUPS Y15, 224(SP)

	VBROADCASTSS latc<>+4(SB), Y6
	VBROADCASTSS latc<>+0(SB), Y7
	VXORPS       Y8, Y8, Y8
	VXORPS       Y9, Y9, Y9
	VPXOR        Y10, Y10, Y10
	VPXOR        Y11, Y11, Y11
	VPXOR        Y12, Y12, Y12
	VPXOR        Y13, Y13, Y13
	VMOVDQU      Y6, Y14
	VPXOR        Y15, Y15, Y15
	COORD(0)
	COORD(1)
	COORD(2)
	COORD(3)
	COORD(4)
	COORD(5)
	COORD(6)
	COORD(7)

	// Y0: odd Σr (integer coset needs its fix); Y1: odd half parity.
	VPSLLD       $31, Y10, Y0
	VPSRAD       $31, Y0, Y0
	VPXOR        Y11, Y10, Y1
	VPSLLD       $31, Y1, Y1
	VPSRAD       $31, Y1, Y1
	MOVBLZX      halfParity+37(FP), AX
	NEGL         AX
	VMOVD        AX, X2
	VPBROADCASTD X2, Y2
	VPAND        Y2, Y1, Y1
	// dInt = dist + (1 − 2·max|e|) where odd
	VADDPS       Y12, Y12, Y2
	VBROADCASTSS latc<>+8(SB), Y3
	VSUBPS       Y2, Y3, Y2
	VADDPS       Y2, Y8, Y2
	VBLENDVPS    Y0, Y2, Y8, Y2
	// dHalf = (2 − Σ|e|) + dist, + 2·min|e| where odd
	VBROADCASTSS latc<>+12(SB), Y3
	VSUBPS       Y9, Y3, Y3
	VADDPS       Y8, Y3, Y3
	VADDPS       Y14, Y14, Y4
	VADDPS       Y4, Y3, Y4
	VBLENDVPS    Y1, Y4, Y3, Y3
	VCMPPS       $2, Y3, Y2, Y2 // dInt <= dHalf
	// indices to fix, −1 where there is no fix
	VPCMPEQD     Y4, Y4, Y4
	VPXOR        Y4, Y0, Y0
	VPOR         Y0, Y13, Y13
	VPXOR        Y4, Y1, Y1
	VPOR         Y1, Y15, Y15
	VPBROADCASTD latc<>+16(SB), Y3
	MOVL         lim+32(FP), AX
	VMOVD        AX, X5
	VPBROADCASTD X5, Y5
	VPXOR        Y6, Y6, Y6
	VPSUBD       Y5, Y6, Y6
	CODE(0)
	CODE(1)
	CODE(2)
	CODE(3)
	CODE(4)
	CODE(5)
	CODE(6)
	CODE(7)

	VMOVDQU 256(SP), Y0
	VMOVDQU 288(SP), Y1
	VMOVDQU 320(SP), Y2
	VMOVDQU 352(SP), Y3
	VMOVDQU 384(SP), Y4
	VMOVDQU 416(SP), Y5
	VMOVDQU 448(SP), Y6
	VMOVDQU 480(SP), Y7
	TRANSPOSE8
	PACKROW(Y8, X8, 0)
	PACKROW(Y9, X9, 16)
	PACKROW(Y10, X10, 32)
	PACKROW(Y11, X11, 48)
	PACKROW(Y12, X12, 64)
	PACKROW(Y13, X13, 80)
	PACKROW(Y14, X14, 96)
	PACKROW(Y15, X15, 112)

	ADDQ $256, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  e8Batch

e8Done:
	VZEROUPPER
	RET

// func amaxBitsAVX(x *float32, n int) int32
TEXT ·amaxBitsAVX(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VPBROADCASTD latc<>+4(SB), Y2
	VPXOR        Y0, Y0, Y0
	VPXOR        Y1, Y1, Y1
	SHRQ         $3, CX
	JZ           amaxReduce

amaxLoop:
	VPAND   (SI), Y2, Y3
	VPMAXSD Y3, Y0, Y0
	ADDQ    $32, SI
	DECQ    CX
	JNZ     amaxLoop

amaxReduce:
	VEXTRACTI128 $1, Y0, X1
	VPMAXSD      X1, X0, X0
	VPSHUFD      $0x4E, X0, X1
	VPMAXSD      X1, X0, X0
	VPSHUFD      $0xB1, X0, X1
	VPMAXSD      X1, X0, X0
	VMOVD        X0, AX
	MOVL         AX, ret+16(FP)
	VZEROUPPER
	RET

// func scalarEncodeAVX(codes *int16, x *float32, n int, a, inv, top float32, half int32, sat bool)
TEXT ·scalarEncodeAVX(SB), NOSPLIT, $0-41
	MOVQ         codes+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS a+24(FP), Y8
	VBROADCASTSS inv+28(FP), Y9
	VBROADCASTSS top+32(FP), Y10
	MOVL         half+36(FP), AX
	VMOVD        AX, X11
	VPBROADCASTD X11, Y11
	VCVTDQ2PS    Y11, Y12            // float32(half)
	VPADDD       Y11, Y11, Y13
	VPCMPEQD     Y14, Y14, Y14
	VPADDD       Y14, Y13, Y13       // 2·half − 1
	VBROADCASTSS latc<>+0(SB), Y7
	VXORPS       Y6, Y6, Y6
	MOVBLZX      sat+40(FP), DX
	SHRQ         $3, CX
	JZ           scDone

scLoop:
	VMOVUPS (SI), Y0
	VADDPS  Y8, Y0, Y0
	VMULPS  Y9, Y0, Y0
	TESTQ   DX, DX
	JZ      scNoClamp
	// clampFinite(k, 0, top, half)
	VCMPPS    $7, Y0, Y0, Y1
	VBLENDVPS Y1, Y0, Y12, Y0
	VMAXPS    Y6, Y0, Y0
	VMINPS    Y10, Y0, Y0

scNoClamp:
	VADDPS       Y7, Y0, Y0
	VSUBPS       Y7, Y0, Y0
	VCVTTPS2DQ   Y0, Y0
	VPMAXSD      Y6, Y0, Y0
	VPMINSD      Y13, Y0, Y0
	VPSUBD       Y11, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSDW    X1, X0, X0
	VMOVDQU      X0, (DI)
	ADDQ         $32, SI
	ADDQ         $16, DI
	DECQ         CX
	JNZ          scLoop

scDone:
	VZEROUPPER
	RET

// func decodeLatticeAVX(x *float32, codes *int16, n int, halfS float32)
// x[i] = float32(codes[i])·halfS for i < n (a multiple of 8).
TEXT ·decodeLatticeAVX(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), DI
	MOVQ         codes+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS halfS+24(FP), Y8
	SHRQ         $3, CX
	JZ           dlDone

dlLoop:
	VPMOVSXWD (SI), Y0
	VCVTDQ2PS Y0, Y0
	VMULPS    Y8, Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       dlLoop

dlDone:
	VZEROUPPER
	RET

// func decodeScalarAVX(x *float32, codes *int16, n int, negS, step float32, half int32)
// x[i] = −s + float32(codes[i]+half)·step for i < n (a multiple of 8).
TEXT ·decodeScalarAVX(SB), NOSPLIT, $0-36
	MOVQ         x+0(FP), DI
	MOVQ         codes+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS negS+24(FP), Y8
	VBROADCASTSS step+28(FP), Y9
	MOVL         half+32(FP), AX
	VMOVD        AX, X10
	VPBROADCASTD X10, Y10
	SHRQ         $3, CX
	JZ           dsDone

dsLoop:
	VPMOVSXWD (SI), Y0
	VPADDD    Y10, Y0, Y0
	VCVTDQ2PS Y0, Y0
	VMULPS    Y9, Y0, Y0
	VADDPS    Y8, Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       dsLoop

dsDone:
	VZEROUPPER
	RET
