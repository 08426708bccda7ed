//go:build amd64

#include "textflag.h"

// func roundQ8KAVX512(nb int, x, dst *float32)
// roundQ8_K (actround.go) over nb blocks of 256: the block's extreme is the
// first element of the largest magnitude (NaNs skipped), iscale = −127/mx,
// d = 1/iscale, dst = d·min(roundeven(iscale·x), 127) with the rounding
// done as roundEven8 does it (adding and taking off 1.5·2^23, so that a
// quant of 0 is +0); a block whose extreme is 0 is all zeros.
TEXT ·roundQ8KAVX512(SB), NOSPLIT, $0-24
	MOVQ nb+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ dst+16(FP), DI
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z30         // |x| mask
	MOVL $0x4b400000, AX         // 1.5·2^23
	VPBROADCASTD AX, Z29
	MOVL $0x42fe0000, AX         // 127
	VPBROADCASTD AX, Z28
	TESTQ CX, CX
	JZ   rkdone

rkblock:
	// amax over the block, NaNs skipped (VMAXPS returns its second source,
	// the running maximum, when the element is NaN).
	VPXORD Z0, Z0, Z0
	XORQ BX, BX

rkmax:
	VPANDD (SI)(BX*4), Z30, Z1
	VMAXPS Z0, Z1, Z0
	ADDQ $16, BX
	CMPQ BX, $256
	JL   rkmax
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4e, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xb1, X0, X1
	VMAXPS X1, X0, X0            // amax in every lane of X0
	VXORPS X2, X2, X2
	VUCOMISS X2, X0
	JNE  rkfind
	// All zero: clear the block.
	XORQ BX, BX

rkzero:
	VMOVUPS Z2, (DI)(BX*4)
	ADDQ $16, BX
	CMPQ BX, $256
	JL   rkzero
	JMP  rknext

rkfind:
	// The first element whose magnitude is amax gives mx, with its sign.
	VPBROADCASTD X0, Z3
	XORQ BX, BX

rkfindloop:
	VPANDD (SI)(BX*4), Z30, Z1
	VPCMPEQD Z3, Z1, K1
	KMOVW K1, AX
	TESTL AX, AX
	JNZ  rkfound
	ADDQ $16, BX
	JMP  rkfindloop

rkfound:
	BSFL AX, AX
	ADDQ AX, BX
	VMOVSS (SI)(BX*4), X4        // mx
	MOVL $0xc2fe0000, AX         // −127
	VMOVD AX, X5
	VDIVSS X4, X5, X5            // iscale = −127/mx
	MOVL $0x3f800000, AX         // 1
	VMOVD AX, X6
	VDIVSS X5, X6, X6            // d = 1/iscale
	VBROADCASTSS X5, Z5
	VBROADCASTSS X6, Z6
	XORQ BX, BX

rkquant:
	VMULPS (SI)(BX*4), Z5, Z1
	VADDPS Z29, Z1, Z1
	VSUBPS Z29, Z1, Z1
	VMINPS Z1, Z28, Z1           // min(q, 127), NaN kept (second source)
	VMULPS Z1, Z6, Z1
	VMOVUPS Z1, (DI)(BX*4)
	ADDQ $16, BX
	CMPQ BX, $256
	JL   rkquant

rknext:
	ADDQ $1024, SI
	ADDQ $1024, DI
	DECQ CX
	JNZ  rkblock

rkdone:
	VZEROUPPER
	RET

// func roundQ8KAVX2(nb int, x, dst *float32)
// roundQ8KAVX512 in 8-lane AVX2 registers: the same steps, the same bits.
TEXT ·roundQ8KAVX2(SB), NOSPLIT, $0-24
	MOVQ nb+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ dst+16(FP), DI
	MOVL $0x7fffffff, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15        // |x| mask
	MOVL $0x4b400000, AX         // 1.5·2^23
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
	MOVL $0x42fe0000, AX         // 127
	VMOVD AX, X13
	VPBROADCASTD X13, Y13
	TESTQ CX, CX
	JZ   r2done

r2block:
	VXORPS Y0, Y0, Y0
	XORQ BX, BX

r2max:
	VANDPS (SI)(BX*4), Y15, Y1
	VMAXPS Y0, Y1, Y0
	ADDQ $8, BX
	CMPQ BX, $256
	JL   r2max
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4e, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xb1, X0, X1
	VMAXPS X1, X0, X0            // amax in every lane of X0
	VXORPS X2, X2, X2
	VUCOMISS X2, X0
	JNE  r2find
	XORQ BX, BX

r2zero:
	VMOVUPS Y2, (DI)(BX*4)
	ADDQ $8, BX
	CMPQ BX, $256
	JL   r2zero
	JMP  r2next

r2find:
	VPBROADCASTD X0, Y3
	XORQ BX, BX

r2findloop:
	VANDPS (SI)(BX*4), Y15, Y1
	VPCMPEQD Y3, Y1, Y1
	VMOVMSKPS Y1, AX
	TESTL AX, AX
	JNZ  r2found
	ADDQ $8, BX
	JMP  r2findloop

r2found:
	BSFL AX, AX
	ADDQ AX, BX
	VMOVSS (SI)(BX*4), X4        // mx
	MOVL $0xc2fe0000, AX         // −127
	VMOVD AX, X5
	VDIVSS X4, X5, X5            // iscale = −127/mx
	MOVL $0x3f800000, AX         // 1
	VMOVD AX, X6
	VDIVSS X5, X6, X6            // d = 1/iscale
	VBROADCASTSS X5, Y5
	VBROADCASTSS X6, Y6
	XORQ BX, BX

r2quant:
	VMULPS (SI)(BX*4), Y5, Y1
	VADDPS Y14, Y1, Y1
	VSUBPS Y14, Y1, Y1
	VMINPS Y1, Y13, Y1           // min(q, 127), NaN kept (second source)
	VMULPS Y1, Y6, Y1
	VMOVUPS Y1, (DI)(BX*4)
	ADDQ $8, BX
	CMPQ BX, $256
	JL   r2quant

r2next:
	ADDQ $1024, SI
	ADDQ $1024, DI
	DECQ CX
	JNZ  r2block

r2done:
	VZEROUPPER
	RET
