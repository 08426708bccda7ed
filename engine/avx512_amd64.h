// Macros shared by the AVX-512 kernels (q4k512, q6k512, q80512_amd64.s).

// REDUCE16_X0 sets lane 0 of X0 to the sum of Z0's 16 lanes in reduce16's
// order (ggmlmath.go): l[i]+l[i+8], then +4, then (0+2)+(1+3). Clobbers Y6.
#define REDUCE16_X0 \
	VEXTRACTF64X4 $1, Z0, Y6; \
	VADDPS        Y6, Y0, Y0; \
	VEXTRACTF128  $1, Y0, X6; \
	VADDPS        X6, X0, X0; \
	VMOVHLPS      X0, X0, X6; \
	VADDPS        X6, X0, X0; \
	VMOVSHDUP     X0, X6; \
	VADDSS        X6, X0, X0

// Q4K_SCALES_GPR unpacks the 12 packed scale bytes at 4(SI) of a Q4_K block
// as ggml's get_scale_min_k4 does, in registers: AX = the eight 6-bit
// scales, BX = the eight mins, one byte each. Clobbers DX, R9, R10.
#define Q4K_SCALES_GPR \
	MOVL 4(SI), AX; \
	MOVL 8(SI), BX; \
	MOVL 12(SI), DX; \
	MOVL DX, R9; \
	SHRL $4, R9; \
	ANDL $0x0f0f0f0f, R9; \
	MOVL BX, R10; \
	SHRL $6, R10; \
	ANDL $0x03030303, R10; \
	SHLL $4, R10; \
	ORL  R10, R9; \
	ANDL $0x3f3f3f3f, BX; \
	ANDL $0x0f0f0f0f, DX; \
	MOVL AX, R10; \
	SHRL $6, R10; \
	ANDL $0x03030303, R10; \
	SHLL $4, R10; \
	ORL  R10, DX; \
	ANDL $0x3f3f3f3f, AX; \
	SHLQ $32, DX; \
	ORQ  DX, AX; \
	SHLQ $32, R9; \
	ORQ  R9, BX
