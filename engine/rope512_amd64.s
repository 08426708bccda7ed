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
