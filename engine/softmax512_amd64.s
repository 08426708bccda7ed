//go:build amd64

#include "textflag.h"

// func scaleMaxAVX512(n int, x *float32, scale float32) float32
// x[i] *= scale for i < n, and returns the largest product (−Inf for n = 0;
// NaNs are not expected: scores of finite queries and keys). scaleMaxGo in
// vecmath.go is the twin (a maximum does not depend on the order).
TEXT ·scaleMaxAVX512(SB), NOSPLIT, $0-28
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	VBROADCASTSS scale+16(FP), Z1
	MOVL $0xff800000, AX
	VPBROADCASTD AX, Z0          // running maximum, −Inf
	MOVQ CX, DX
	SHRQ $4, DX
	JZ   smtail

smloop:
	VMULPS (SI), Z1, Z2
	VMOVUPS Z2, (SI)
	VMAXPS Z2, Z0, Z0
	ADDQ $64, SI
	DECQ DX
	JNZ  smloop

smtail:
	ANDQ $15, CX
	JZ   smreduce
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	VMOVUPS (SI), K1, Z2
	VMULPS Z2, Z1, Z2
	VMOVUPS Z2, K1, (SI)
	VMAXPS Z2, Z0, K1, Z0

smreduce:
	VEXTRACTF64X4 $1, Z0, Y2
	VMAXPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X2
	VMAXPS X2, X0, X0
	VPERMILPS $0x4e, X0, X2
	VMAXPS X2, X0, X0
	VPERMILPS $0xb1, X0, X2
	VMAXPS X2, X0, X0
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET
