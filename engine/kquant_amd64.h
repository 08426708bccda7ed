// Macros shared by the AVX2 and AVX-512 K-quant kernels (vecmath_amd64.s,
// q4k512_amd64.s).

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
