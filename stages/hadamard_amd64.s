//go:build amd64

#include "textflag.h"

// AVX2 kernels of the fast Walsh–Hadamard transform (the Go twins are fwht,
// radix8Unit and butterfly in hadamard.go). Every stage computes exactly the
// sums and differences of the Go code, in the same order of stages, so the
// results are bit-identical.

// func fwhtUnit8AVX(dst, src, scale *float32, n int)
TEXT ·fwhtUnit8AVX(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ scale+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ   unitDone

unitLoop:
	VMOVUPS (SI), Y0
	TESTQ   DX, DX
	JZ      unitNoScale
	VMULPS  (DX), Y0, Y0
	ADDQ    $32, DX

unitNoScale:
	// stage 1: lanes 2j get x+s, lanes 2j+1 get s−x, s = x with pairs swapped
	VPERMILPS $0xB1, Y0, Y1
	VADDPS    Y1, Y0, Y2
	VSUBPS    Y0, Y1, Y3
	VBLENDPS  $0xAA, Y3, Y2, Y0
	// stage 2
	VPERMILPS $0x4E, Y0, Y1
	VADDPS    Y1, Y0, Y2
	VSUBPS    Y0, Y1, Y3
	VBLENDPS  $0xCC, Y3, Y2, Y0
	// stage 4
	VPERM2F128 $0x01, Y0, Y0, Y1
	VADDPS     Y1, Y0, Y2
	VSUBPS     Y0, Y1, Y3
	VBLENDPS   $0xF0, Y3, Y2, Y0
	VMOVUPS    Y0, (DI)
	ADDQ       $32, SI
	ADDQ       $32, DI
	DECQ       CX
	JNZ        unitLoop

unitDone:
	VZEROUPPER
	RET

// func fwhtRadix4AVX(x *float32, n, h int)
TEXT ·fwhtRadix4AVX(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	MOVQ h+16(FP), BX
	SHLQ $2, BX            // h in bytes
	LEAQ (DI)(CX*4), R8    // end of x
	LEAQ (BX)(BX*2), R9    // 3h bytes

r4Block:
	MOVQ DI, SI
	LEAQ (DI)(BX*1), R10   // end of this block's first quarter

r4Inner:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(BX*1), Y1
	VMOVUPS (SI)(BX*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VADDPS  Y1, Y0, Y4     // stage h
	VSUBPS  Y1, Y0, Y5
	VADDPS  Y3, Y2, Y6
	VSUBPS  Y3, Y2, Y7
	VADDPS  Y6, Y4, Y0     // stage 2h
	VSUBPS  Y6, Y4, Y2
	VADDPS  Y7, Y5, Y1
	VSUBPS  Y7, Y5, Y3
	VMOVUPS Y0, (SI)
	VMOVUPS Y1, (SI)(BX*1)
	VMOVUPS Y2, (SI)(BX*2)
	VMOVUPS Y3, (SI)(R9*1)
	ADDQ    $32, SI
	CMPQ    SI, R10
	JB      r4Inner
	LEAQ    (DI)(BX*4), DI
	CMPQ    DI, R8
	JB      r4Block
	VZEROUPPER
	RET

// func fwhtRadix2AVX(x *float32, n, h int)
TEXT ·fwhtRadix2AVX(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	MOVQ h+16(FP), BX
	SHLQ $2, BX
	LEAQ (DI)(CX*4), R8

r2Block:
	MOVQ DI, SI
	LEAQ (DI)(BX*1), R10

r2Inner:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(BX*1), Y1
	VADDPS  Y1, Y0, Y2
	VSUBPS  Y1, Y0, Y3
	VMOVUPS Y2, (SI)
	VMOVUPS Y3, (SI)(BX*1)
	ADDQ    $32, SI
	CMPQ    SI, R10
	JB      r2Inner
	LEAQ    (DI)(BX*2), DI
	CMPQ    DI, R8
	JB      r2Block
	VZEROUPPER
	RET

// func mulAVX(dst, a, b *float32, n int)
TEXT ·mulAVX(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ   mulDone

mulLoop:
	VMOVUPS (SI), Y0
	VMULPS  (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     mulLoop

mulDone:
	VZEROUPPER
	RET
