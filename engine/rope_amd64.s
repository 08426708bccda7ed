//go:build amd64

#include "textflag.h"

// RoPE rotations of one head, eight pairs at a time, with the arithmetic of
// rope.apply (products rounded, then one addition or subtraction; no FMA),
// so bit for bit what it gives. cs holds (cos, sin) pairs.

DATA ropeSign<>+0(SB)/4, $0x80000000
GLOBL ropeSign<>(SB), RODATA|NOPTR, $4

// func ropeAdjAVX(n int, x, cs *float32, inverse bool)
// Adjacent pairs (2i, 2i+1), i < n/2 (n a multiple of 8): forward
// x' = (x0·c − x1·s, x1·c + x0·s); inverse (s negated) x' = (x0·c + x1·s,
// x1·c − x0·s).
TEXT ·ropeAdjAVX(SB), NOSPLIT, $0-25
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ cs+16(FP), DI
	VXORPS Y7, Y7, Y7
	MOVBLZX inverse+24(FP), AX
	TESTL AX, AX
	JZ   raloop0
	VBROADCASTSS ropeSign<>(SB), Y7
raloop0:
	SHRQ $3, CX
	JZ   radone

raloop:
	VMOVUPS (SI), Y0
	VMOVUPS (DI), Y1
	VMOVSLDUP Y1, Y2             // c c
	VMOVSHDUP Y1, Y3             // s s
	VPERMILPS $0xb1, Y0, Y4      // x1 x0
	VMULPS Y2, Y0, Y5            // x·c
	VMULPS Y3, Y4, Y6            // swap(x)·s
	VXORPS Y7, Y6, Y6            // inverse: −swap(x)·s
	VADDSUBPS Y6, Y5, Y5         // even: x·c − t, odd: x·c + t
	VMOVUPS Y5, (SI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  raloop

radone:
	VZEROUPPER
	RET

// func ropeNeoxAVX(half int, x, cs *float32, inverse bool)
// Pairs (i, i+half), i < half (a multiple of 8): forward
// (x_i·c − x_h·s, x_i·s + x_h·c); inverse (s negated)
// (x_i·c + x_h·s, x_h·c − x_i·s).
TEXT ·ropeNeoxAVX(SB), NOSPLIT, $0-25
	MOVQ half+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ cs+16(FP), DI
	LEAQ (SI)(CX*4), R8
	MOVBLZX inverse+24(FP), AX
	SHRQ $3, CX
	JZ   rndone

rnloop:
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VSHUFPS $0x88, Y1, Y0, Y2
	VSHUFPS $0xdd, Y1, Y0, Y3
	VPERMPD $0xd8, Y2, Y2        // c0 … c7
	VPERMPD $0xd8, Y3, Y3        // s0 … s7
	VMOVUPS (SI), Y4             // x_i
	VMOVUPS (R8), Y5             // x_h
	VMULPS Y2, Y4, Y6            // x_i·c
	VMULPS Y3, Y5, Y7            // x_h·s
	VMULPS Y3, Y4, Y8            // x_i·s
	VMULPS Y2, Y5, Y9            // x_h·c
	TESTL AX, AX
	JNZ  rninv
	VSUBPS Y7, Y6, Y6
	VADDPS Y9, Y8, Y8
	JMP  rnstore

rninv:
	VADDPS Y7, Y6, Y6
	VSUBPS Y8, Y9, Y8

rnstore:
	VMOVUPS Y6, (SI)
	VMOVUPS Y8, (R8)
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $64, DI
	DECQ CX
	JNZ  rnloop

rndone:
	VZEROUPPER
	RET
