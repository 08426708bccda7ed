//go:build amd64

#include "textflag.h"

// AVX-512 forms of the RoPE rotations of rope_amd64.s, sixteen pairs at a
// time with the same arithmetic (products rounded, then one addition or
// subtraction; no FMA), so bit for bit what rope.apply gives.

// The lanes whose product is subtracted: even lanes forward, odd lanes
// inverse (adjacent pairs).
DATA ropeSignEven<>+0(SB)/8, $0x0000000080000000
DATA ropeSignEven<>+8(SB)/8, $0x0000000080000000
DATA ropeSignEven<>+16(SB)/8, $0x0000000080000000
DATA ropeSignEven<>+24(SB)/8, $0x0000000080000000
DATA ropeSignEven<>+32(SB)/8, $0x0000000080000000
DATA ropeSignEven<>+40(SB)/8, $0x0000000080000000
DATA ropeSignEven<>+48(SB)/8, $0x0000000080000000
DATA ropeSignEven<>+56(SB)/8, $0x0000000080000000
GLOBL ropeSignEven<>(SB), RODATA|NOPTR, $64

DATA ropeSignOdd<>+0(SB)/8, $0x8000000000000000
DATA ropeSignOdd<>+8(SB)/8, $0x8000000000000000
DATA ropeSignOdd<>+16(SB)/8, $0x8000000000000000
DATA ropeSignOdd<>+24(SB)/8, $0x8000000000000000
DATA ropeSignOdd<>+32(SB)/8, $0x8000000000000000
DATA ropeSignOdd<>+40(SB)/8, $0x8000000000000000
DATA ropeSignOdd<>+48(SB)/8, $0x8000000000000000
DATA ropeSignOdd<>+56(SB)/8, $0x8000000000000000
GLOBL ropeSignOdd<>(SB), RODATA|NOPTR, $64

// Indices of the cosines (even) and sines (odd) of 16 (cos, sin) pairs held
// in two registers, for VPERMI2PS.
DATA ropeIdxEven<>+0(SB)/8, $0x0000000200000000
DATA ropeIdxEven<>+8(SB)/8, $0x0000000600000004
DATA ropeIdxEven<>+16(SB)/8, $0x0000000a00000008
DATA ropeIdxEven<>+24(SB)/8, $0x0000000e0000000c
DATA ropeIdxEven<>+32(SB)/8, $0x0000001200000010
DATA ropeIdxEven<>+40(SB)/8, $0x0000001600000014
DATA ropeIdxEven<>+48(SB)/8, $0x0000001a00000018
DATA ropeIdxEven<>+56(SB)/8, $0x0000001e0000001c
GLOBL ropeIdxEven<>(SB), RODATA|NOPTR, $64

DATA ropeIdxOdd<>+0(SB)/8, $0x0000000300000001
DATA ropeIdxOdd<>+8(SB)/8, $0x0000000700000005
DATA ropeIdxOdd<>+16(SB)/8, $0x0000000b00000009
DATA ropeIdxOdd<>+24(SB)/8, $0x0000000f0000000d
DATA ropeIdxOdd<>+32(SB)/8, $0x0000001300000011
DATA ropeIdxOdd<>+40(SB)/8, $0x0000001700000015
DATA ropeIdxOdd<>+48(SB)/8, $0x0000001b00000019
DATA ropeIdxOdd<>+56(SB)/8, $0x0000001f0000001d
GLOBL ropeIdxOdd<>(SB), RODATA|NOPTR, $64

// func ropeAdjAVX512(n int, x, cs *float32, inverse bool)
// ropeAdjAVX sixteen floats at a time (n a multiple of 16): x·c plus the
// swapped pairs times s with the sign of the subtracted lanes flipped.
TEXT ·ropeAdjAVX512(SB), NOSPLIT, $0-25
	MOVQ    n+0(FP), CX
	MOVQ    x+8(FP), SI
	MOVQ    cs+16(FP), DI
	VMOVUPS ropeSignEven<>(SB), Z7
	MOVBLZX inverse+24(FP), AX
	TESTL   AX, AX
	JZ      ra5start
	VMOVUPS ropeSignOdd<>(SB), Z7

ra5start:
	SHRQ $4, CX
	JZ   ra5done

ra5loop:
	VMOVUPS   (SI), Z0
	VMOVUPS   (DI), Z1
	VMOVSLDUP Z1, Z2         // c c
	VMOVSHDUP Z1, Z3         // s s
	VPERMILPS $0xb1, Z0, Z4  // x1 x0
	VMULPS    Z2, Z0, Z5     // x·c
	VMULPS    Z3, Z4, Z6     // swap(x)·s
	VXORPS    Z7, Z6, Z6     // negated where subtracted
	VADDPS    Z6, Z5, Z5
	VMOVUPS   Z5, (SI)
	ADDQ      $64, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       ra5loop

ra5done:
	VZEROUPPER
	RET

// func ropeNeoxAVX512(half int, x, cs *float32, inverse bool)
// ropeNeoxAVX sixteen pairs at a time (half a multiple of 16).
TEXT ·ropeNeoxAVX512(SB), NOSPLIT, $0-25
	MOVQ    half+0(FP), CX
	MOVQ    x+8(FP), SI
	MOVQ    cs+16(FP), DI
	LEAQ    (SI)(CX*4), R8
	MOVBLZX inverse+24(FP), AX
	VMOVUPS ropeIdxEven<>(SB), Z14
	VMOVUPS ropeIdxOdd<>(SB), Z15
	SHRQ    $4, CX
	JZ      rn5done

rn5loop:
	VMOVUPS   (DI), Z0
	VMOVUPS   64(DI), Z1
	VMOVAPS   Z14, Z2
	VPERMI2PS Z1, Z0, Z2     // c0 … c15
	VMOVAPS   Z15, Z3
	VPERMI2PS Z1, Z0, Z3     // s0 … s15
	VMOVUPS   (SI), Z4       // x_i
	VMOVUPS   (R8), Z5       // x_h
	VMULPS    Z2, Z4, Z6     // x_i·c
	VMULPS    Z3, Z5, Z7     // x_h·s
	VMULPS    Z3, Z4, Z8     // x_i·s
	VMULPS    Z2, Z5, Z9     // x_h·c
	TESTL     AX, AX
	JNZ       rn5inv
	VSUBPS    Z7, Z6, Z6
	VADDPS    Z9, Z8, Z8
	JMP       rn5store

rn5inv:
	VADDPS Z7, Z6, Z6
	VSUBPS Z8, Z9, Z8

rn5store:
	VMOVUPS Z6, (SI)
	VMOVUPS Z8, (R8)
	ADDQ    $64, SI
	ADDQ    $64, R8
	ADDQ    $128, DI
	DECQ    CX
	JNZ     rn5loop

rn5done:
	VZEROUPPER
	RET

// func ropeNeoxRowsAVX512(x *float32, stride int, page *float32, pos *int32, n, first, dims int, inverse bool)
// ropeNeoxAVX512 of n head vectors: vector k at x + k·stride floats, its
// (cos, sin) pairs the row pos[k] − first of page (dims floats a row);
// dims/2 a multiple of 16.
TEXT ·ropeNeoxRowsAVX512(SB), NOSPLIT, $0-57
	MOVQ    x+0(FP), SI
	MOVQ    stride+8(FP), R11
	SHLQ    $2, R11
	MOVQ    page+16(FP), R12
	MOVQ    pos+24(FP), R13
	MOVQ    n+32(FP), BX
	MOVQ    dims+48(FP), R10
	MOVBLZX inverse+56(FP), AX
	VMOVUPS ropeIdxEven<>(SB), Z14
	VMOVUPS ropeIdxOdd<>(SB), Z15
	TESTQ   BX, BX
	JZ      rnrdone

rnrrow:
	MOVLQSX (R13), DX
	SUBQ    first+40(FP), DX
	IMULQ   R10, DX
	LEAQ    (R12)(DX*4), DI  // this row's (cos, sin) pairs
	MOVQ    R10, CX
	SHRQ    $1, CX           // half
	LEAQ    (SI)(CX*4), R8   // x_h
	MOVQ    SI, R9           // x_i
	SHRQ    $4, CX

rnrloop:
	VMOVUPS   (DI), Z0
	VMOVUPS   64(DI), Z1
	VMOVAPS   Z14, Z2
	VPERMI2PS Z1, Z0, Z2
	VMOVAPS   Z15, Z3
	VPERMI2PS Z1, Z0, Z3
	VMOVUPS   (R9), Z4
	VMOVUPS   (R8), Z5
	VMULPS    Z2, Z4, Z6
	VMULPS    Z3, Z5, Z7
	VMULPS    Z3, Z4, Z8
	VMULPS    Z2, Z5, Z9
	TESTL     AX, AX
	JNZ       rnrinv
	VSUBPS    Z7, Z6, Z6
	VADDPS    Z9, Z8, Z8
	JMP       rnrstore

rnrinv:
	VADDPS Z7, Z6, Z6
	VSUBPS Z8, Z9, Z8

rnrstore:
	VMOVUPS Z6, (R9)
	VMOVUPS Z8, (R8)
	ADDQ    $64, R9
	ADDQ    $64, R8
	ADDQ    $128, DI
	DECQ    CX
	JNZ     rnrloop

	ADDQ R11, SI
	ADDQ $4, R13
	DECQ BX
	JNZ  rnrrow

rnrdone:
	VZEROUPPER
	RET

// func ropeAdjRowsAVX512(x *float32, stride int, page *float32, pos *int32, n, first, dims int, inverse bool)
// ropeAdjAVX512 of n head vectors, laid out as for ropeNeoxRowsAVX512; dims
// a multiple of 16.
TEXT ·ropeAdjRowsAVX512(SB), NOSPLIT, $0-57
	MOVQ    x+0(FP), SI
	MOVQ    stride+8(FP), R11
	SHLQ    $2, R11
	MOVQ    page+16(FP), R12
	MOVQ    pos+24(FP), R13
	MOVQ    n+32(FP), BX
	MOVQ    dims+48(FP), R10
	VMOVUPS ropeSignEven<>(SB), Z7
	MOVBLZX inverse+56(FP), AX
	TESTL   AX, AX
	JZ      rarstart
	VMOVUPS ropeSignOdd<>(SB), Z7

rarstart:
	TESTQ BX, BX
	JZ    rardone

rarrow:
	MOVLQSX (R13), DX
	SUBQ    first+40(FP), DX
	IMULQ   R10, DX
	LEAQ    (R12)(DX*4), DI
	MOVQ    SI, R9
	MOVQ    R10, CX
	SHRQ    $4, CX

rarloop:
	VMOVUPS   (R9), Z0
	VMOVUPS   (DI), Z1
	VMOVSLDUP Z1, Z2
	VMOVSHDUP Z1, Z3
	VPERMILPS $0xb1, Z0, Z4
	VMULPS    Z2, Z0, Z5
	VMULPS    Z3, Z4, Z6
	VXORPS    Z7, Z6, Z6
	VADDPS    Z6, Z5, Z5
	VMOVUPS   Z5, (R9)
	ADDQ      $64, R9
	ADDQ      $64, DI
	DECQ      CX
	JNZ       rarloop

	ADDQ R11, SI
	ADDQ $4, R13
	DECQ BX
	JNZ  rarrow

rardone:
	VZEROUPPER
	RET
