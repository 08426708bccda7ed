//go:build amd64

#include "textflag.h"
#include "kquant_amd64.h"

// Element-wise AVX2 + FMA + F16C kernels: activation rounding and K-quant
// dequantization. The Go twins are in vecmath.go; lengths are multiples of 8
// (blocks of 32 for roundQ80AVX), the Go wrappers in vecmath_amd64.go handle
// tails. exp and SiLU live in internal/vec, with the one vectorised exp that
// engine and stages share.

// Constants, each repeated in 8 lanes:
// f127  vconst<>+0(SB)
// abs   vconst<>+32(SB)
// m15   vconst<>+64(SB)
// m30   vconst<>+96(SB)
// i32   vconst<>+128(SB)
DATA vconst<>+0(SB)/4, $0x42fe0000
DATA vconst<>+4(SB)/4, $0x42fe0000
DATA vconst<>+8(SB)/4, $0x42fe0000
DATA vconst<>+12(SB)/4, $0x42fe0000
DATA vconst<>+16(SB)/4, $0x42fe0000
DATA vconst<>+20(SB)/4, $0x42fe0000
DATA vconst<>+24(SB)/4, $0x42fe0000
DATA vconst<>+28(SB)/4, $0x42fe0000
DATA vconst<>+32(SB)/4, $0x7fffffff
DATA vconst<>+36(SB)/4, $0x7fffffff
DATA vconst<>+40(SB)/4, $0x7fffffff
DATA vconst<>+44(SB)/4, $0x7fffffff
DATA vconst<>+48(SB)/4, $0x7fffffff
DATA vconst<>+52(SB)/4, $0x7fffffff
DATA vconst<>+56(SB)/4, $0x7fffffff
DATA vconst<>+60(SB)/4, $0x7fffffff
DATA vconst<>+64(SB)/4, $0x0000000f
DATA vconst<>+68(SB)/4, $0x0000000f
DATA vconst<>+72(SB)/4, $0x0000000f
DATA vconst<>+76(SB)/4, $0x0000000f
DATA vconst<>+80(SB)/4, $0x0000000f
DATA vconst<>+84(SB)/4, $0x0000000f
DATA vconst<>+88(SB)/4, $0x0000000f
DATA vconst<>+92(SB)/4, $0x0000000f
DATA vconst<>+96(SB)/4, $0x00000030
DATA vconst<>+100(SB)/4, $0x00000030
DATA vconst<>+104(SB)/4, $0x00000030
DATA vconst<>+108(SB)/4, $0x00000030
DATA vconst<>+112(SB)/4, $0x00000030
DATA vconst<>+116(SB)/4, $0x00000030
DATA vconst<>+120(SB)/4, $0x00000030
DATA vconst<>+124(SB)/4, $0x00000030
DATA vconst<>+128(SB)/4, $0x00000020
DATA vconst<>+132(SB)/4, $0x00000020
DATA vconst<>+136(SB)/4, $0x00000020
DATA vconst<>+140(SB)/4, $0x00000020
DATA vconst<>+144(SB)/4, $0x00000020
DATA vconst<>+148(SB)/4, $0x00000020
DATA vconst<>+152(SB)/4, $0x00000020
DATA vconst<>+156(SB)/4, $0x00000020
GLOBL vconst<>(SB), RODATA|NOPTR, $160

// func roundF16AVX(k int, x, dst *float32)
// dst[j] = float32(float16(x[j])), rounding to nearest even.
TEXT ·roundF16AVX(SB), NOSPLIT, $0-24
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ dst+16(FP), DI
	SHRQ $3, CX
	JZ   rf16done

rf16loop:
	VMOVUPS   (SI), Y0
	VCVTPS2PH $0, Y0, X1
	VCVTPH2PS X1, Y0
	VMOVUPS   Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  rf16loop

rf16done:
	VZEROUPPER
	RET

// func roundQ80AVX(nb int, x, dst *float32)
// For each block of 32: amax = max|x|, d = float16(amax/127), q =
// roundeven(x·(127/amax)) (0 when amax is 0), dst = d·q.
TEXT ·roundQ80AVX(SB), NOSPLIT, $0-24
	MOVQ nb+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ dst+16(FP), DI
	TESTQ CX, CX
	JZ   rq8done

rq8loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VANDPS  vconst<>+32(SB), Y0, Y4
	VANDPS  vconst<>+32(SB), Y1, Y5
	VANDPS  vconst<>+32(SB), Y2, Y6
	VANDPS  vconst<>+32(SB), Y3, Y7
	VMAXPS  Y5, Y4, Y4
	VMAXPS  Y7, Y6, Y6
	VMAXPS  Y6, Y4, Y4
	VPERM2F128 $1, Y4, Y4, Y5
	VMAXPS  Y5, Y4, Y4
	VPERMILPS $0x4E, Y4, Y5
	VMAXPS  Y5, Y4, Y4
	VPERMILPS $0xB1, Y4, Y5
	VMAXPS  Y5, Y4, Y8
	VDIVPS  vconst<>+0(SB), Y8, Y9
	VCVTPS2PH $0, Y9, X9
	VCVTPH2PS X9, Y9
	VMOVUPS vconst<>+0(SB), Y10
	VDIVPS  Y8, Y10, Y10
	VXORPS  Y11, Y11, Y11
	VCMPPS  $4, Y11, Y8, Y11
	VANDPS  Y11, Y10, Y10
	VMULPS  Y10, Y0, Y0
	VMULPS  Y10, Y1, Y1
	VMULPS  Y10, Y2, Y2
	VMULPS  Y10, Y3, Y3
	VROUNDPS $0, Y0, Y0
	VROUNDPS $0, Y1, Y1
	VROUNDPS $0, Y2, Y2
	VROUNDPS $0, Y3, Y3
	VMULPS  Y9, Y0, Y0
	VMULPS  Y9, Y1, Y1
	VMULPS  Y9, Y2, Y2
	VMULPS  Y9, Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  rq8loop

rq8done:
	VZEROUPPER
	RET

// func q4kAVX(nb int, src *byte, dst *float32)
// Dequantizes nb Q4_K blocks (144 bytes: d, dmin (float16), 12 bytes of
// packed 6-bit scales and mins, qs[128]). Scales unpack as ggml's
// get_scale_min_k4 (the 32-bit form of ggml's AVX2 dot product); for each
// 64-element group c with sub-block scales/mins (d1, m1), (d2, m2) of
// sub-blocks 2c and 2c+1 (dj = d·scale, mj = dmin·min):
// dst[64c+l] = d1·(qs[32c+l]&15) − m1, dst[64c+32+l] = d2·(qs[32c+l]>>4) − m2.
// Frame: 16(SP) the 8 scales, 48(SP) the 8 mins (Q4K_SCALES_GPR unpacks
// them in registers: no store of single bytes is read back as a vector).
TEXT ·q4kAVX(SB), NOSPLIT, $80-24
	MOVQ nb+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ dst+16(FP), DI
	TESTQ CX, CX
	JZ   q4kdone
	VMOVUPS vconst<>+64(SB), Y15

q4kblock:
	MOVWLZX (SI), AX
	VMOVD   AX, X0
	VCVTPH2PS X0, X0
	VBROADCASTSS X0, Y6
	MOVWLZX 2(SI), AX
	VMOVD   AX, X0
	VCVTPH2PS X0, X0
	VBROADCASTSS X0, Y7
	Q4K_SCALES_GPR
	VMOVQ AX, X8
	VPMOVZXBD X8, Y8
	VCVTDQ2PS Y8, Y8
	VMULPS    Y6, Y8, Y8
	VMOVUPS   Y8, 16(SP)
	VMOVQ BX, X9
	VPMOVZXBD X9, Y9
	VCVTDQ2PS Y9, Y9
	VMULPS    Y7, Y9, Y9
	VMOVUPS   Y9, 48(SP)

	LEAQ 16(SI), R8
	XORQ DX, DX

q4kgroup:
	VBROADCASTSS 16(SP)(DX*8), Y11
	VBROADCASTSS 48(SP)(DX*8), Y12
	VBROADCASTSS 20(SP)(DX*8), Y13
	VBROADCASTSS 52(SP)(DX*8), Y14
	XORQ AX, AX

q4kchunk:
	VPMOVZXBD (R8)(AX*1), Y0
	VPAND     Y15, Y0, Y1
	VPSRLD    $4, Y0, Y2
	VCVTDQ2PS Y1, Y1
	VCVTDQ2PS Y2, Y2
	VMULPS    Y11, Y1, Y1
	VSUBPS    Y12, Y1, Y1
	VMULPS    Y13, Y2, Y2
	VSUBPS    Y14, Y2, Y2
	VMOVUPS   Y1, (DI)(AX*4)
	VMOVUPS   Y2, 128(DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, $32
	JL   q4kchunk

	ADDQ $32, R8
	ADDQ $256, DI
	INCQ DX
	CMPQ DX, $4
	JL   q4kgroup

	ADDQ $144, SI
	DECQ CX
	JNZ  q4kblock

q4kdone:
	VZEROUPPER
	RET

// func q6kAVX(nb int, src *byte, dst *float32)
// Dequantizes nb Q6_K blocks (210 bytes: ql[128], qh[64], int8 scales[16],
// d float16). With sc[i] = d·scales[i], for each half h (128 elements:
// ql+64h, qh+32h, sc+8h) and l < 32, s(j) = sc[8h+l/16+j]:
//
//	dst[l]    = s(0)·((ql[l]&15    | (qh[l]&3)<<4)    − 32)
//	dst[l+32] = s(2)·((ql[l+32]&15 | (qh[l]>>2&3)<<4) − 32)
//	dst[l+64] = s(4)·((ql[l]>>4    | (qh[l]>>4&3)<<4) − 32)
//	dst[l+96] = s(6)·((ql[l+32]>>4 | (qh[l]>>6)<<4)   − 32)
//
// Frame: 0(SP) the 16 scales.
TEXT ·q6kAVX(SB), NOSPLIT, $64-24
	MOVQ nb+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ dst+16(FP), DI
	TESTQ CX, CX
	JZ   q6kdone
	VMOVUPS vconst<>+64(SB), Y13
	VMOVUPS vconst<>+96(SB), Y14
	VMOVUPS vconst<>+128(SB), Y15

q6kblock:
	MOVWLZX 208(SI), AX
	VMOVD   AX, X0
	VCVTPH2PS X0, X0
	VBROADCASTSS X0, Y6
	VPMOVSXBD 192(SI), Y8
	VPMOVSXBD 200(SI), Y9
	VCVTDQ2PS Y8, Y8
	VCVTDQ2PS Y9, Y9
	VMULPS    Y6, Y8, Y8
	VMULPS    Y6, Y9, Y9
	VMOVUPS   Y8, 0(SP)
	VMOVUPS   Y9, 32(SP)
	MOVQ SI, R8
	LEAQ 128(SI), R9
	XORQ DX, DX

q6khalf:
	XORQ AX, AX

q6kchunk:
	// Scales for l in [AX, AX+8): index 8h + l/16.
	MOVQ AX, R10
	SHRQ $4, R10
	ADDQ DX, R10
	VBROADCASTSS 0(SP)(R10*4), Y8
	VBROADCASTSS 8(SP)(R10*4), Y9
	VBROADCASTSS 16(SP)(R10*4), Y10
	VBROADCASTSS 24(SP)(R10*4), Y11

	VPMOVZXBD (R8)(AX*1), Y0
	VPMOVZXBD 32(R8)(AX*1), Y1
	VPMOVZXBD (R9)(AX*1), Y2

	VPSLLD $4, Y2, Y3
	VPAND  Y14, Y3, Y3
	VPAND  Y13, Y0, Y4
	VPOR   Y3, Y4, Y4

	VPSLLD $2, Y2, Y3
	VPAND  Y14, Y3, Y3
	VPAND  Y13, Y1, Y5
	VPOR   Y3, Y5, Y5

	VPAND  Y14, Y2, Y3
	VPSRLD $4, Y0, Y6
	VPOR   Y3, Y6, Y6

	VPSRLD $2, Y2, Y3
	VPAND  Y14, Y3, Y3
	VPSRLD $4, Y1, Y7
	VPOR   Y3, Y7, Y7

	VPSUBD Y15, Y4, Y4
	VPSUBD Y15, Y5, Y5
	VPSUBD Y15, Y6, Y6
	VPSUBD Y15, Y7, Y7
	VCVTDQ2PS Y4, Y4
	VCVTDQ2PS Y5, Y5
	VCVTDQ2PS Y6, Y6
	VCVTDQ2PS Y7, Y7
	VMULPS Y8, Y4, Y4
	VMULPS Y9, Y5, Y5
	VMULPS Y10, Y6, Y6
	VMULPS Y11, Y7, Y7
	VMOVUPS Y4, (DI)(AX*4)
	VMOVUPS Y5, 128(DI)(AX*4)
	VMOVUPS Y6, 256(DI)(AX*4)
	VMOVUPS Y7, 384(DI)(AX*4)

	ADDQ $8, AX
	CMPQ AX, $32
	JL   q6kchunk

	ADDQ $64, R8
	ADDQ $32, R9
	ADDQ $512, DI
	ADDQ $8, DX
	CMPQ DX, $16
	JL   q6khalf

	ADDQ $210, SI
	DECQ CX
	JNZ  q6kblock

q6kdone:
	VZEROUPPER
	RET

// func q4kGemvRowsAVX(nb int, w *byte, ldw int, rows int, x *float32, out *float32, pf int)
// out[r] = Σ_j y[r][j]·x[j] for r < rows, where y[r] is Q4_K row r (nb
// blocks, ldw bytes apart) dequantized exactly as q4kAVX does, in registers.
// The sums run in gemm4x1AVX's order (two accumulators over alternating
// 8-value chunks, then its horizontal reduction), so each out[r] is bit for
// bit what q4kAVX + gemm4x1AVX give. Prefetches pf bytes ahead.
TEXT ·q4kGemvRowsAVX(SB), NOSPLIT, $112-56
	MOVQ rows+24(FP), AX
	MOVQ AX, 80(SP)
	MOVQ out+40(FP), AX
	MOVQ AX, 88(SP)
	MOVQ w+8(FP), AX
	MOVQ AX, 96(SP)
	VMOVUPS vconst<>+64(SB), Y15

qkrow:
	MOVQ 80(SP), AX
	TESTQ AX, AX
	JZ   qkdone
	MOVQ 96(SP), SI
	MOVQ x+32(FP), DI
	MOVQ nb+0(FP), CX
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	TESTQ CX, CX
	JZ   qkrowend

qkblock:
	MOVQ pf+48(FP), AX
	PREFETCHT0 (SI)(AX*1)
	PREFETCHT0 64(SI)(AX*1)
	PREFETCHT0 128(SI)(AX*1)
	MOVWLZX (SI), AX
	VMOVD   AX, X0
	VCVTPH2PS X0, X0
	VBROADCASTSS X0, Y6
	MOVWLZX 2(SI), AX
	VMOVD   AX, X0
	VCVTPH2PS X0, X0
	VBROADCASTSS X0, Y7
	Q4K_SCALES_GPR
	VMOVQ AX, X8
	VPMOVZXBD X8, Y8
	VCVTDQ2PS Y8, Y8
	VMULPS    Y6, Y8, Y8
	VMOVUPS   Y8, 16(SP)
	VMOVQ BX, X9
	VPMOVZXBD X9, Y9
	VCVTDQ2PS Y9, Y9
	VMULPS    Y7, Y9, Y9
	VMOVUPS   Y9, 48(SP)

	LEAQ 16(SI), R8
	XORQ DX, DX

qkgroup:
	VBROADCASTSS 16(SP)(DX*8), Y11
	VBROADCASTSS 48(SP)(DX*8), Y12
	VBROADCASTSS 20(SP)(DX*8), Y13
	VBROADCASTSS 52(SP)(DX*8), Y14

	VPMOVZXBD (R8), Y0
	VPMOVZXBD 8(R8), Y1
	VPAND     Y15, Y0, Y0
	VPAND     Y15, Y1, Y1
	VCVTDQ2PS Y0, Y0
	VCVTDQ2PS Y1, Y1
	VMULPS    Y11, Y0, Y0
	VMULPS    Y11, Y1, Y1
	VSUBPS    Y12, Y0, Y0
	VSUBPS    Y12, Y1, Y1
	VFMADD231PS (DI), Y0, Y4
	VFMADD231PS 32(DI), Y1, Y5
	VPMOVZXBD 16(R8), Y0
	VPMOVZXBD 24(R8), Y1
	VPAND     Y15, Y0, Y0
	VPAND     Y15, Y1, Y1
	VCVTDQ2PS Y0, Y0
	VCVTDQ2PS Y1, Y1
	VMULPS    Y11, Y0, Y0
	VMULPS    Y11, Y1, Y1
	VSUBPS    Y12, Y0, Y0
	VSUBPS    Y12, Y1, Y1
	VFMADD231PS 64(DI), Y0, Y4
	VFMADD231PS 96(DI), Y1, Y5

	VPMOVZXBD (R8), Y0
	VPMOVZXBD 8(R8), Y1
	VPSRLD    $4, Y0, Y0
	VPSRLD    $4, Y1, Y1
	VCVTDQ2PS Y0, Y0
	VCVTDQ2PS Y1, Y1
	VMULPS    Y13, Y0, Y0
	VMULPS    Y13, Y1, Y1
	VSUBPS    Y14, Y0, Y0
	VSUBPS    Y14, Y1, Y1
	VFMADD231PS 128(DI), Y0, Y4
	VFMADD231PS 160(DI), Y1, Y5
	VPMOVZXBD 16(R8), Y0
	VPMOVZXBD 24(R8), Y1
	VPSRLD    $4, Y0, Y0
	VPSRLD    $4, Y1, Y1
	VCVTDQ2PS Y0, Y0
	VCVTDQ2PS Y1, Y1
	VMULPS    Y13, Y0, Y0
	VMULPS    Y13, Y1, Y1
	VSUBPS    Y14, Y0, Y0
	VSUBPS    Y14, Y1, Y1
	VFMADD231PS 192(DI), Y0, Y4
	VFMADD231PS 224(DI), Y1, Y5

	ADDQ $32, R8
	ADDQ $256, DI
	INCQ DX
	CMPQ DX, $4
	JL   qkgroup

	ADDQ $144, SI
	DECQ CX
	JNZ  qkblock

qkrowend:
	VADDPS Y5, Y4, Y4
	VHADDPS Y4, Y4, Y4
	VHADDPS Y4, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VADDPS X5, X4, X4
	MOVQ 88(SP), AX
	VMOVSS X4, (AX)
	ADDQ $4, AX
	MOVQ AX, 88(SP)
	MOVQ 96(SP), AX
	ADDQ ldw+16(FP), AX
	MOVQ AX, 96(SP)
	DECQ 80(SP)
	JMP  qkrow

qkdone:
	VZEROUPPER
	RET

// func q6kGemvRowsAVX(nb int, w *byte, ldw int, rows int, x *float32, out *float32, pf int)
// out[r] = Σ_j y[r][j]·x[j] for r < rows, where y[r] is Q6_K row r (nb
// blocks, ldw bytes apart) dequantized exactly as q6kAVX does, in registers,
// summed in gemm4x1AVX's order as q4kGemvRowsAVX does. Prefetches pf bytes
// ahead.
TEXT ·q6kGemvRowsAVX(SB), NOSPLIT, $96-56
	MOVQ rows+24(FP), AX
	MOVQ AX, 64(SP)
	MOVQ out+40(FP), AX
	MOVQ AX, 72(SP)
	MOVQ w+8(FP), AX
	MOVQ AX, 80(SP)
	VMOVUPS vconst<>+64(SB), Y13
	VMOVUPS vconst<>+96(SB), Y14
	VMOVUPS vconst<>+128(SB), Y15

q6row:
	MOVQ 64(SP), AX
	TESTQ AX, AX
	JZ   q6done
	MOVQ 80(SP), SI
	MOVQ x+32(FP), DI
	MOVQ nb+0(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	TESTQ CX, CX
	JZ   q6rowend

q6block:
	MOVQ pf+48(FP), AX
	PREFETCHT0 (SI)(AX*1)
	PREFETCHT0 64(SI)(AX*1)
	PREFETCHT0 128(SI)(AX*1)
	PREFETCHT0 192(SI)(AX*1)
	MOVWLZX 208(SI), AX
	VMOVD   AX, X2
	VCVTPH2PS X2, X2
	VBROADCASTSS X2, Y2
	VPMOVSXBD 192(SI), Y3
	VPMOVSXBD 200(SI), Y12
	VCVTDQ2PS Y3, Y3
	VCVTDQ2PS Y12, Y12
	VMULPS    Y2, Y3, Y3
	VMULPS    Y2, Y12, Y12
	VMOVUPS   Y3, 0(SP)
	VMOVUPS   Y12, 32(SP)
	MOVQ SI, R8
	LEAQ 128(SI), R9
	XORQ DX, DX

q6half:
	VBROADCASTSS 0(SP)(DX*4), Y4
	VBROADCASTSS 4(SP)(DX*4), Y5
	VBROADCASTSS 8(SP)(DX*4), Y6
	VBROADCASTSS 12(SP)(DX*4), Y7
	VBROADCASTSS 16(SP)(DX*4), Y8
	VBROADCASTSS 20(SP)(DX*4), Y9
	VBROADCASTSS 24(SP)(DX*4), Y10
	VBROADCASTSS 28(SP)(DX*4), Y11
	VPMOVZXBD 0(R8), Y2
	VPMOVZXBD 0(R9), Y3
	VPSLLD $4, Y3, Y3
	VPAND  Y14, Y3, Y3
	VPAND  Y13, Y2, Y2
	VPOR   Y3, Y2, Y2
	VPSUBD Y15, Y2, Y2
	VCVTDQ2PS Y2, Y2
	VMULPS Y4, Y2, Y2
	VFMADD231PS 0(DI), Y2, Y0
	VPMOVZXBD 8(R8), Y2
	VPMOVZXBD 8(R9), Y3
	VPSLLD $4, Y3, Y3
	VPAND  Y14, Y3, Y3
	VPAND  Y13, Y2, Y2
	VPOR   Y3, Y2, Y2
	VPSUBD Y15, Y2, Y2
	VCVTDQ2PS Y2, Y2
	VMULPS Y4, Y2, Y2
	VFMADD231PS 32(DI), Y2, Y1
	VPMOVZXBD 16(R8), Y2
	VPMOVZXBD 16(R9), Y3
	VPSLLD $4, Y3, Y3
	VPAND  Y14, Y3, Y3
	VPAND  Y13, Y2, Y2
	VPOR   Y3, Y2, Y2
	VPSUBD Y15, Y2, Y2
	VCVTDQ2PS Y2, Y2
	VMULPS Y5, Y2, Y2
	VFMADD231PS 64(DI), Y2, Y0
	VPMOVZXBD 24(R8), Y2
	VPMOVZXBD 24(R9), Y3
	VPSLLD $4, Y3, Y3
	VPAND  Y14, Y3, Y3
	VPAND  Y13, Y2, Y2
	VPOR   Y3, Y2, Y2
	VPSUBD Y15, Y2, Y2
	VCVTDQ2PS Y2, Y2
	VMULPS Y5, Y2, Y2
	VFMADD231PS 96(DI), Y2, Y1
	VPMOVZXBD 32(R8), Y2
	VPMOVZXBD 0(R9), Y3
	VPSLLD $2, Y3, Y3
	VPAND  Y14, Y3, Y3
	VPAND  Y13, Y2, Y2
	VPOR   Y3, Y2, Y2
	VPSUBD Y15, Y2, Y2
	VCVTDQ2PS Y2, Y2
	VMULPS Y6, Y2, Y2
	VFMADD231PS 128(DI), Y2, Y0
	VPMOVZXBD 40(R8), Y2
	VPMOVZXBD 8(R9), Y3
	VPSLLD $2, Y3, Y3
	VPAND  Y14, Y3, Y3
	VPAND  Y13, Y2, Y2
	VPOR   Y3, Y2, Y2
	VPSUBD Y15, Y2, Y2
	VCVTDQ2PS Y2, Y2
	VMULPS Y6, Y2, Y2
	VFMADD231PS 160(DI), Y2, Y1
	VPMOVZXBD 48(R8), Y2
	VPMOVZXBD 16(R9), Y3
	VPSLLD $2, Y3, Y3
	VPAND  Y14, Y3, Y3
	VPAND  Y13, Y2, Y2
	VPOR   Y3, Y2, Y2
	VPSUBD Y15, Y2, Y2
	VCVTDQ2PS Y2, Y2
	VMULPS Y7, Y2, Y2
	VFMADD231PS 192(DI), Y2, Y0
	VPMOVZXBD 56(R8), Y2
	VPMOVZXBD 24(R9), Y3
	VPSLLD $2, Y3, Y3
	VPAND  Y14, Y3, Y3
	VPAND  Y13, Y2, Y2
	VPOR   Y3, Y2, Y2
	VPSUBD Y15, Y2, Y2
	VCVTDQ2PS Y2, Y2
	VMULPS Y7, Y2, Y2
	VFMADD231PS 224(DI), Y2, Y1
	VPMOVZXBD 0(R8), Y2
	VPMOVZXBD 0(R9), Y3
	VPAND  Y14, Y3, Y3
	VPSRLD $4, Y2, Y2
	VPOR   Y3, Y2, Y2
	VPSUBD Y15, Y2, Y2
	VCVTDQ2PS Y2, Y2
	VMULPS Y8, Y2, Y2
	VFMADD231PS 256(DI), Y2, Y0
	VPMOVZXBD 8(R8), Y2
	VPMOVZXBD 8(R9), Y3
	VPAND  Y14, Y3, Y3
	VPSRLD $4, Y2, Y2
	VPOR   Y3, Y2, Y2
	VPSUBD Y15, Y2, Y2
	VCVTDQ2PS Y2, Y2
	VMULPS Y8, Y2, Y2
	VFMADD231PS 288(DI), Y2, Y1
	VPMOVZXBD 16(R8), Y2
	VPMOVZXBD 16(R9), Y3
	VPAND  Y14, Y3, Y3
	VPSRLD $4, Y2, Y2
	VPOR   Y3, Y2, Y2
	VPSUBD Y15, Y2, Y2
	VCVTDQ2PS Y2, Y2
	VMULPS Y9, Y2, Y2
	VFMADD231PS 320(DI), Y2, Y0
	VPMOVZXBD 24(R8), Y2
	VPMOVZXBD 24(R9), Y3
	VPAND  Y14, Y3, Y3
	VPSRLD $4, Y2, Y2
	VPOR   Y3, Y2, Y2
	VPSUBD Y15, Y2, Y2
	VCVTDQ2PS Y2, Y2
	VMULPS Y9, Y2, Y2
	VFMADD231PS 352(DI), Y2, Y1
	VPMOVZXBD 32(R8), Y2
	VPMOVZXBD 0(R9), Y3
	VPSRLD $2, Y3, Y3
	VPAND  Y14, Y3, Y3
	VPSRLD $4, Y2, Y2
	VPOR   Y3, Y2, Y2
	VPSUBD Y15, Y2, Y2
	VCVTDQ2PS Y2, Y2
	VMULPS Y10, Y2, Y2
	VFMADD231PS 384(DI), Y2, Y0
	VPMOVZXBD 40(R8), Y2
	VPMOVZXBD 8(R9), Y3
	VPSRLD $2, Y3, Y3
	VPAND  Y14, Y3, Y3
	VPSRLD $4, Y2, Y2
	VPOR   Y3, Y2, Y2
	VPSUBD Y15, Y2, Y2
	VCVTDQ2PS Y2, Y2
	VMULPS Y10, Y2, Y2
	VFMADD231PS 416(DI), Y2, Y1
	VPMOVZXBD 48(R8), Y2
	VPMOVZXBD 16(R9), Y3
	VPSRLD $2, Y3, Y3
	VPAND  Y14, Y3, Y3
	VPSRLD $4, Y2, Y2
	VPOR   Y3, Y2, Y2
	VPSUBD Y15, Y2, Y2
	VCVTDQ2PS Y2, Y2
	VMULPS Y11, Y2, Y2
	VFMADD231PS 448(DI), Y2, Y0
	VPMOVZXBD 56(R8), Y2
	VPMOVZXBD 24(R9), Y3
	VPSRLD $2, Y3, Y3
	VPAND  Y14, Y3, Y3
	VPSRLD $4, Y2, Y2
	VPOR   Y3, Y2, Y2
	VPSUBD Y15, Y2, Y2
	VCVTDQ2PS Y2, Y2
	VMULPS Y11, Y2, Y2
	VFMADD231PS 480(DI), Y2, Y1

	ADDQ $64, R8
	ADDQ $32, R9
	ADDQ $512, DI
	ADDQ $8, DX
	CMPQ DX, $16
	JL   q6half

	ADDQ $210, SI
	DECQ CX
	JNZ  q6block

q6rowend:
	VADDPS Y1, Y0, Y0
	VHADDPS Y0, Y0, Y0
	VHADDPS Y0, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	MOVQ 72(SP), AX
	VMOVSS X0, (AX)
	ADDQ $4, AX
	MOVQ AX, 72(SP)
	MOVQ 80(SP), AX
	ADDQ ldw+16(FP), AX
	MOVQ AX, 80(SP)
	DECQ 64(SP)
	JMP  q6row

q6done:
	VZEROUPPER
	RET

// func q4kQ8KRowsAVX(nb int, w *byte, ldw int, rows int, q *int8, d *float32, bsum *int32, out *float32, pf int)
// out[r] = Σ_b dx_b·(d_w·Σ_j sc_j·Σ_{i∈j} q4_i·q8_i − dmin_w·Σ_j m_j·bsum_j)
// for r < rows: Q4_K row r (nb blocks, ldw bytes apart) against activations
// in Q8_K form (int8 q, per-block scale d, per-32 sums bsum), with integer
// dot products as llama.cpp's ggml_vec_dot_q4_K_q8_K. Prefetches pf bytes
// ahead.
TEXT ·q4kQ8KRowsAVX(SB), NOSPLIT, $64-72
	MOVQ rows+24(FP), AX
	MOVQ AX, 32(SP)
	MOVQ out+56(FP), AX
	MOVQ AX, 40(SP)
	MOVQ w+8(FP), AX
	MOVQ AX, 48(SP)
	MOVL $0x0f0f0f0f, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15

i4row:
	MOVQ 32(SP), AX
	TESTQ AX, AX
	JZ   i4done
	MOVQ 48(SP), SI
	MOVQ q+32(FP), DI
	MOVQ d+40(FP), R11
	MOVQ bsum+48(FP), R13
	MOVQ nb+0(FP), CX
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	TESTQ CX, CX
	JZ   i4rowend

i4block:
	MOVQ pf+64(FP), AX
	PREFETCHT0 (SI)(AX*1)
	PREFETCHT0 64(SI)(AX*1)
	PREFETCHT0 128(SI)(AX*1)
	MOVWLZX (SI), AX
	VMOVD   AX, X6
	VCVTPH2PS X6, X6
	VMULSS  (R11), X6, X6
	VBROADCASTSS X6, Y6
	MOVWLZX 2(SI), AX
	VMOVD   AX, X7
	VCVTPH2PS X7, X7
	VMULSS  (R11), X7, X7
	VBROADCASTSS X7, Y7
	// Scales and minimums in registers (AX, BX: a byte each); the scales
	// widened to words at 16(SP) for the broadcasts below: one vector
	// store, so the loads that follow are forwarded from it.
	Q4K_SCALES_GPR
	VMOVQ AX, X8
	VPMOVZXBW X8, X8
	VMOVDQU X8, 16(SP)
	// Minimums as ggml: m·bsum per pair of sub-blocks in four lanes,
	// accm −= (dmin·d_a)·pair by a fused multiply-subtract.
	VMOVQ BX, X9
	VPMOVZXBD X9, Y9
	VPMULLD (R13), Y9, Y9
	VEXTRACTI128 $1, Y9, X10
	VPHADDD X10, X9, X9
	VCVTDQ2PS X9, X9
	VFNMADD231PS X7, X9, X5

	LEAQ 16(SI), R8
	VPXOR Y10, Y10, Y10
	VMOVDQU 0(R8), Y0
	VPSRLW $4, Y0, Y1
	VPAND Y15, Y0, Y0
	VPAND Y15, Y1, Y1
	VPMADDUBSW 0(DI), Y0, Y0
	VPMADDUBSW 32(DI), Y1, Y1
	VPBROADCASTW 16(SP), Y2
	VPBROADCASTW 18(SP), Y3
	VPMADDWD Y2, Y0, Y0
	VPMADDWD Y3, Y1, Y1
	VPADDD Y0, Y10, Y10
	VPADDD Y1, Y10, Y10
	VMOVDQU 32(R8), Y0
	VPSRLW $4, Y0, Y1
	VPAND Y15, Y0, Y0
	VPAND Y15, Y1, Y1
	VPMADDUBSW 64(DI), Y0, Y0
	VPMADDUBSW 96(DI), Y1, Y1
	VPBROADCASTW 20(SP), Y2
	VPBROADCASTW 22(SP), Y3
	VPMADDWD Y2, Y0, Y0
	VPMADDWD Y3, Y1, Y1
	VPADDD Y0, Y10, Y10
	VPADDD Y1, Y10, Y10
	VMOVDQU 64(R8), Y0
	VPSRLW $4, Y0, Y1
	VPAND Y15, Y0, Y0
	VPAND Y15, Y1, Y1
	VPMADDUBSW 128(DI), Y0, Y0
	VPMADDUBSW 160(DI), Y1, Y1
	VPBROADCASTW 24(SP), Y2
	VPBROADCASTW 26(SP), Y3
	VPMADDWD Y2, Y0, Y0
	VPMADDWD Y3, Y1, Y1
	VPADDD Y0, Y10, Y10
	VPADDD Y1, Y10, Y10
	VMOVDQU 96(R8), Y0
	VPSRLW $4, Y0, Y1
	VPAND Y15, Y0, Y0
	VPAND Y15, Y1, Y1
	VPMADDUBSW 192(DI), Y0, Y0
	VPMADDUBSW 224(DI), Y1, Y1
	VPBROADCASTW 28(SP), Y2
	VPBROADCASTW 30(SP), Y3
	VPMADDWD Y2, Y0, Y0
	VPMADDWD Y3, Y1, Y1
	VPADDD Y0, Y10, Y10
	VPADDD Y1, Y10, Y10
	VCVTDQ2PS Y10, Y10
	VFMADD231PS Y6, Y10, Y4

	ADDQ $144, SI
	ADDQ $256, DI
	ADDQ $4, R11
	ADDQ $32, R13
	DECQ CX
	JNZ  i4block

i4rowend:
	// hsum_float_8(acc) + ((m0+m2) + (m1+m3)), as ggml_vec_dot_q4_K_q8_K.
	VEXTRACTF128 $1, Y4, X6
	VADDPS X6, X4, X4
	VMOVHLPS X4, X4, X6
	VADDPS X6, X4, X4
	VMOVSHDUP X4, X6
	VADDSS X6, X4, X4
	VMOVHLPS X5, X5, X6
	VADDPS X6, X5, X5
	VMOVSHDUP X5, X6
	VADDSS X6, X5, X5
	VADDSS X5, X4, X4
	MOVQ 40(SP), AX
	VMOVSS X4, (AX)
	ADDQ $4, AX
	MOVQ AX, 40(SP)
	MOVQ 48(SP), AX
	ADDQ ldw+16(FP), AX
	MOVQ AX, 48(SP)
	DECQ 32(SP)
	JMP  i4row

i4done:
	VZEROUPPER
	RET

// func q80Q80RowsAVX(nb int, w *byte, ldw int, rows int, q *int8, d *float32, out *float32, pf int)
// out[r] = Σ_b d_w·dx_b·Σ_i qw_i·qx_i for r < rows: Q8_0 row r (nb blocks,
// ldw bytes apart) against Q8_0 activations (int8 q, a float32 d per 32),
// with integer dot products per block as llama.cpp's
// ggml_vec_dot_q8_0_q8_0. Prefetches pf bytes ahead.
TEXT ·q80Q80RowsAVX(SB), NOSPLIT, $32-64
	MOVQ rows+24(FP), AX
	MOVQ AX, 0(SP)
	MOVQ out+48(FP), AX
	MOVQ AX, 8(SP)
	MOVQ w+8(FP), AX
	MOVQ AX, 16(SP)
	MOVL $0x00010001, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14

i8row:
	MOVQ 0(SP), AX
	TESTQ AX, AX
	JZ   i8done
	MOVQ 16(SP), SI
	MOVQ q+32(FP), DI
	MOVQ d+40(FP), R11
	MOVQ nb+0(FP), CX
	MOVQ pf+56(FP), R12
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	TESTQ CX, CX
	JZ   i8rowend

i8block:
	PREFETCHT0 (SI)(R12*1)
	MOVWLZX (SI), AX
	VMOVD   AX, X6
	VCVTPH2PS X6, X6
	VMULSS  (R11), X6, X6
	VBROADCASTSS X6, Y6
	VMOVDQU 2(SI), Y0
	VMOVDQU (DI), Y1
	VPSIGNB Y0, Y0, Y2
	VPSIGNB Y0, Y1, Y1
	VPMADDUBSW Y1, Y2, Y2
	VPMADDWD Y14, Y2, Y2
	VCVTDQ2PS Y2, Y2
	VFMADD231PS Y6, Y2, Y4
	ADDQ $34, SI
	ADDQ $32, DI
	ADDQ $4, R11
	DECQ CX
	JNZ  i8block

i8rowend:
	// hsum_float_8: (x0+x4) … (x3+x7), then (a0+a2, a1+a3), then their sum.
	VEXTRACTF128 $1, Y4, X5
	VADDPS X5, X4, X4
	VMOVHLPS X4, X4, X5
	VADDPS X5, X4, X4
	VMOVSHDUP X4, X5
	VADDSS X5, X4, X4
	MOVQ 8(SP), AX
	VMOVSS X4, (AX)
	ADDQ $4, AX
	MOVQ AX, 8(SP)
	MOVQ 16(SP), AX
	ADDQ ldw+16(FP), AX
	MOVQ AX, 16(SP)
	DECQ 0(SP)
	JMP  i8row

i8done:
	VZEROUPPER
	RET
