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
