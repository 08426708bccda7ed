//go:build amd64

#include "textflag.h"

// AVX-512 forms of the in-register inverse Walsh–Hadamard transforms of
// fwht64_amd64.s: a 64-vector lives in Z0…Z3, stages 1, 2, 4, 8 inside each
// register, then 16 and 32 across registers; a 128-vector is two of those
// (Z0…Z3, Z4…Z7), then stage 64. Each butterfly (u+v, u−v) has the operands
// fwht gives it, in the same order of stages, so the results are
// bit-identical to the Go twin (Hadamard.InverseScratch) and to the AVX2
// kernels. Only AVX-512F instructions.

// MASKS512 loads the lane masks of stages 1, 2, 4, 8 (the lanes that take
// u−v) into K1…K4.
#define MASKS512 \
	MOVL  $0xAAAA, AX \
	KMOVW AX, K1      \
	MOVL  $0xCCCC, AX \
	KMOVW AX, K2      \
	MOVL  $0xF0F0, AX \
	KMOVW AX, K3      \
	MOVL  $0xFF00, AX \
	KMOVW AX, K4

// UNIT512 applies stages 1, 2, 4, 8 to register R (temps Z12, Z13): the
// partner lanes come from a permutation, every lane takes u+v and the
// masked lanes u−v.
#define UNIT512(R) \
	VPERMILPS  $0xB1, R, Z12        \
	VADDPS     Z12, R, Z13          \
	VSUBPS     R, Z12, K1, Z13      \
	VPERMILPS  $0x4E, Z13, Z12      \
	VADDPS     Z12, Z13, R          \
	VSUBPS     Z13, Z12, K2, R      \
	VSHUFF32X4 $0xB1, R, R, Z12     \
	VADDPS     Z12, R, Z13          \
	VSUBPS     R, Z12, K3, Z13      \
	VSHUFF32X4 $0x4E, Z13, Z13, Z12 \
	VADDPS     Z12, Z13, R          \
	VSUBPS     Z13, Z12, K4, R

// BFLY512 sets (A, B) to (A+B, A−B) (temp Z12).
#define BFLY512(A, B) \
	VADDPS  B, A, Z12 \
	VSUBPS  B, A, B   \
	VMOVAPS Z12, A

// STAGES512(A, B, C, D) applies stages 1 … 32 to the 64-vector in A…D.
#define STAGES512(A, B, C, D) \
	UNIT512(A)    \
	UNIT512(B)    \
	UNIT512(C)    \
	UNIT512(D)    \
	BFLY512(A, B) \
	BFLY512(C, D) \
	BFLY512(A, C) \
	BFLY512(B, D)

// PRESTORE(R, OFF) stores R·pre[OFF/4…] to OFF(DI).
#define PRESTORE(R, OFF) \
	VMULPS  OFF(DX), R, R \
	VMOVUPS R, OFF(DI)

// NIB512 dequantizes 16 nibble pairs at OFF(SI) into LO (codes j) and HI
// (codes 32+j): sign-extended, converted, times halfS (Z15).
#define NIB512(OFF, LO, HI) \
	VPMOVZXBD OFF(SI), Z12 \
	VPSLLD    $28, Z12, LO \
	VPSRAD    $28, LO, LO  \
	VPSLLD    $24, Z12, HI \
	VPSRAD    $28, HI, HI  \
	VCVTDQ2PS LO, LO       \
	VCVTDQ2PS HI, HI       \
	VMULPS    Z15, LO, LO  \
	VMULPS    Z15, HI, HI

// NIBLO512 and NIBHI512 dequantize the low or high nibbles of the 16 bytes
// at OFF(SI) into R (halfS in Z15).
#define NIBLO512(OFF, R) \
	VPMOVZXBD OFF(SI), Z12 \
	VPSLLD    $28, Z12, R  \
	VPSRAD    $28, R, R    \
	VCVTDQ2PS R, R         \
	VMULPS    Z15, R, R

#define NIBHI512(OFF, R) \
	VPMOVZXBD OFF(SI), Z12 \
	VPSLLD    $24, Z12, R  \
	VPSRAD    $28, R, R    \
	VCVTDQ2PS R, R         \
	VMULPS    Z15, R, R

// FINISH64 multiplies Z0…Z3 by pre (DX) and stores them to DI.
#define FINISH64 \
	PRESTORE(Z0, 0)  \
	PRESTORE(Z1, 64) \
	PRESTORE(Z2, 128) \
	PRESTORE(Z3, 192)

// FINISH128 applies stage 64 to Z0…Z3 (first half) and Z4…Z7 (second),
// multiplies by pre and stores to DI.
#define FINISH128 \
	BFLY512(Z0, Z4)   \
	BFLY512(Z1, Z5)   \
	BFLY512(Z2, Z6)   \
	BFLY512(Z3, Z7)   \
	PRESTORE(Z0, 0)   \
	PRESTORE(Z1, 64)  \
	PRESTORE(Z2, 128) \
	PRESTORE(Z3, 192) \
	PRESTORE(Z4, 256) \
	PRESTORE(Z5, 320) \
	PRESTORE(Z6, 384) \
	PRESTORE(Z7, 448)

// func fwht64AVX512(dst, src, pre *float32)
// dst[i] = (fwht(src))[i]·pre[i] for i < 64.
TEXT ·fwht64AVX512(SB), NOSPLIT, $0-24
	MOVQ    dst+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVQ    pre+16(FP), DX
	MASKS512
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS 128(SI), Z2
	VMOVUPS 192(SI), Z3
	STAGES512(Z0, Z1, Z2, Z3)
	FINISH64
	VZEROUPPER
	RET

// func fwht128AVX512(dst, src, pre *float32)
// dst[i] = (fwht(src))[i]·pre[i] for i < 128.
TEXT ·fwht128AVX512(SB), NOSPLIT, $0-24
	MOVQ    dst+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVQ    pre+16(FP), DX
	MASKS512
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS 128(SI), Z2
	VMOVUPS 192(SI), Z3
	VMOVUPS 256(SI), Z4
	VMOVUPS 320(SI), Z5
	VMOVUPS 384(SI), Z6
	VMOVUPS 448(SI), Z7
	STAGES512(Z0, Z1, Z2, Z3)
	STAGES512(Z4, Z5, Z6, Z7)
	FINISH128
	VZEROUPPER
	RET

// func nibbleFWHT64AVX512(dst *float32, src *byte, halfS float32, pre *float32)
// nibbleFWHT64AVX: one 32-byte nibble row (codes j in the low nibbles of
// bytes j, codes 32+j in the high ones) dequantized and transformed.
TEXT ·nibbleFWHT64AVX512(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	VBROADCASTSS halfS+16(FP), Z15
	MOVQ         pre+24(FP), DX
	MASKS512
	NIB512(0, Z0, Z2)
	NIB512(16, Z1, Z3)
	STAGES512(Z0, Z1, Z2, Z3)
	FINISH64
	VZEROUPPER
	RET

// func nibbleFWHT128AVX512(dst *float32, src *byte, halfS float32, pre *float32)
// nibbleFWHT128AVX: one 64-byte nibble row (the low nibbles the first half,
// the high nibbles the second) dequantized and transformed.
TEXT ·nibbleFWHT128AVX512(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	VBROADCASTSS halfS+16(FP), Z15
	MOVQ         pre+24(FP), DX
	MASKS512
	NIBLO512(0, Z0)
	NIBLO512(16, Z1)
	NIBLO512(32, Z2)
	NIBLO512(48, Z3)
	NIBHI512(0, Z4)
	NIBHI512(16, Z5)
	NIBHI512(32, Z6)
	NIBHI512(48, Z7)
	STAGES512(Z0, Z1, Z2, Z3)
	STAGES512(Z4, Z5, Z6, Z7)
	FINISH128
	VZEROUPPER
	RET

// The two-row forms below run rows A and B through the same steps with
// their own temporaries, so that the two dependency chains overlap.

// UNIT512T is UNIT512 with temporaries T1, T2, T3: sum and difference
// computed independently, then blended by the stage's mask.
#define UNIT512T(R, T1, T2, T3) \
	VPERMILPS  $0xB1, R, T1      \
	VADDPS     T1, R, T2         \
	VSUBPS     R, T1, T3         \
	VBLENDMPS  T3, T2, K1, R     \
	VPERMILPS  $0x4E, R, T1      \
	VADDPS     T1, R, T2         \
	VSUBPS     R, T1, T3         \
	VBLENDMPS  T3, T2, K2, R     \
	VSHUFF32X4 $0xB1, R, R, T1   \
	VADDPS     T1, R, T2         \
	VSUBPS     R, T1, T3         \
	VBLENDMPS  T3, T2, K3, R     \
	VSHUFF32X4 $0x4E, R, R, T1   \
	VADDPS     T1, R, T2         \
	VSUBPS     R, T1, T3         \
	VBLENDMPS  T3, T2, K4, R

// BFLY512T is BFLY512 with temporary T.
#define BFLY512T(A, B, T) \
	VADDPS  B, A, T \
	VSUBPS  B, A, B \
	VMOVAPS T, A

// NIB512T is NIB512 of the row at OFF(R), scale in S, temporary T.
#define NIB512T(R, OFF, LO, HI, S, T) \
	VPMOVZXBD OFF(R), T   \
	VPSLLD    $28, T, LO  \
	VPSRAD    $28, LO, LO \
	VPSLLD    $24, T, HI  \
	VPSRAD    $28, HI, HI \
	VCVTDQ2PS LO, LO      \
	VCVTDQ2PS HI, HI      \
	VMULPS    S, LO, LO   \
	VMULPS    S, HI, HI

// func nibbleFWHT64RowsAVX512(dst *float32, src *byte, halfS *float32, n int, pre *float32)
// nibbleFWHT64AVX512 of n consecutive rows: row r's 32 bytes at src+32r
// with scale halfS[r] into dst+64r floats, two rows at a time.
TEXT ·nibbleFWHT64RowsAVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ halfS+16(FP), BX
	MOVQ n+24(FP), CX
	MOVQ pre+32(FP), DX
	MASKS512
	VMOVUPS (DX), Z24
	VMOVUPS 64(DX), Z25
	VMOVUPS 128(DX), Z26
	VMOVUPS 192(DX), Z27

pair:
	CMPQ CX, $2
	JLT  single
	VBROADCASTSS (BX), Z15
	VBROADCASTSS 4(BX), Z14
	NIB512T(SI, 0, Z0, Z2, Z15, Z12)
	NIB512T(SI, 32, Z4, Z6, Z14, Z13)
	NIB512T(SI, 16, Z1, Z3, Z15, Z12)
	NIB512T(SI, 48, Z5, Z7, Z14, Z13)
	UNIT512T(Z0, Z16, Z17, Z28)
	UNIT512T(Z4, Z18, Z19, Z29)
	UNIT512T(Z1, Z20, Z21, Z30)
	UNIT512T(Z5, Z22, Z23, Z31)
	UNIT512T(Z2, Z16, Z17, Z28)
	UNIT512T(Z6, Z18, Z19, Z29)
	UNIT512T(Z3, Z20, Z21, Z30)
	UNIT512T(Z7, Z22, Z23, Z31)
	BFLY512T(Z0, Z1, Z16)
	BFLY512T(Z4, Z5, Z17)
	BFLY512T(Z2, Z3, Z18)
	BFLY512T(Z6, Z7, Z19)
	BFLY512T(Z0, Z2, Z16)
	BFLY512T(Z4, Z6, Z17)
	BFLY512T(Z1, Z3, Z18)
	BFLY512T(Z5, Z7, Z19)
	VMULPS  Z24, Z0, Z0
	VMULPS  Z25, Z1, Z1
	VMULPS  Z26, Z2, Z2
	VMULPS  Z27, Z3, Z3
	VMULPS  Z24, Z4, Z4
	VMULPS  Z25, Z5, Z5
	VMULPS  Z26, Z6, Z6
	VMULPS  Z27, Z7, Z7
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VMOVUPS Z4, 256(DI)
	VMOVUPS Z5, 320(DI)
	VMOVUPS Z6, 384(DI)
	VMOVUPS Z7, 448(DI)
	ADDQ $64, SI
	ADDQ $8, BX
	ADDQ $512, DI
	SUBQ $2, CX
	JMP  pair

single:
	TESTQ CX, CX
	JZ    done
	VBROADCASTSS (BX), Z15
	NIB512T(SI, 0, Z0, Z2, Z15, Z12)
	NIB512T(SI, 16, Z1, Z3, Z15, Z12)
	STAGES512(Z0, Z1, Z2, Z3)
	VMULPS  Z24, Z0, Z0
	VMULPS  Z25, Z1, Z1
	VMULPS  Z26, Z2, Z2
	VMULPS  Z27, Z3, Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)

done:
	VZEROUPPER
	RET

// func dequantNibbleRowsAVX512(dst *float32, src *byte, halfS *float32, n, w int)
// dequantNibblesAVX of n consecutive nibble rows of w codes (w a multiple
// of 32; w/2 bytes a row, code j in the low nibble of byte j, code w/2+j in
// its high nibble): dst[r·w + j] = code·halfS[r], sixteen bytes at a time.
TEXT ·dequantNibbleRowsAVX512(SB), NOSPLIT, $0-40
	MOVQ  dst+0(FP), DI
	MOVQ  src+8(FP), SI
	MOVQ  halfS+16(FP), BX
	MOVQ  n+24(FP), CX
	MOVQ  w+32(FP), DX
	MOVQ  DX, R8
	SHLQ  $1, R8 // bytes of half a row of floats: (w/2)·4
	MOVQ  DX, R9
	SHRQ  $1, R9 // bytes of a code row: w/2
	TESTQ CX, CX
	JZ    dndone

dnrow:
	VBROADCASTSS (BX), Z15
	XORQ         AX, AX
	LEAQ         (DI)(R8*1), R10

dnchunk:
	VPMOVZXBD (SI)(AX*1), Z12
	VPSLLD    $28, Z12, Z0
	VPSRAD    $28, Z0, Z0
	VPSLLD    $24, Z12, Z1
	VPSRAD    $28, Z1, Z1
	VCVTDQ2PS Z0, Z0
	VCVTDQ2PS Z1, Z1
	VMULPS    Z15, Z0, Z0
	VMULPS    Z15, Z1, Z1
	VMOVUPS   Z0, (DI)(AX*4)
	VMOVUPS   Z1, (R10)(AX*4)
	ADDQ      $16, AX
	CMPQ      AX, R9
	JLT       dnchunk
	ADDQ      R9, SI
	LEAQ      (DI)(DX*4), DI
	ADDQ      $4, BX
	DECQ      CX
	JNZ       dnrow

dndone:
	VZEROUPPER
	RET
