package engine

import (
	"math"

	"nexusquant/engine/gguf"
	"nexusquant/internal/vec"
)

// Element-wise kernels: Go twins of vecmath_amd64.s. exp and SiLU are
// internal/vec's (vec.Exp/vec.ExpGo, vec.SiluMul/vec.SiluMulGo in the kernel
// sets), shared with stages.

// exp32 is vec.Exp32 (Cephes expf; 0 below −87), attention's scalar exp.
func exp32(v float32) float32 { return vec.Exp32(v) }

// roundF16Go sets dst[j] to x[j] rounded to float16 (nearest even).
func roundF16Go(x, dst []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = gguf.F16ToF32(gguf.F32ToF16(v))
	}
}

// roundQ80Go rounds each block of 32 as ggml-cpu's AVX quantize_row_q8_0
// does: the inverse scale is 127/amax (not 1/d), quants round half to even,
// and the value the dot product sees is float16(amax/127)·q.
func roundQ80Go(x, dst []float32) {
	for b := 0; b+32 <= len(x); b += 32 {
		xb, db := x[b:b+32], dst[b:b+32]
		var amax float32
		for _, v := range xb {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := gguf.F16ToF32(gguf.F32ToF16(amax / 127))
		var id float32
		if amax != 0 {
			id = 127 / amax
		}
		for i, v := range xb {
			db[i] = d * float32(math.RoundToEven(float64(v*id)))
		}
	}
}

// q4kGo and q6kGo dequantize whole Q4_K / Q6_K blocks with the gguf
// reference dequantizer, which the assembly reproduces bit for bit.
func q4kGo(dst []float32, src []byte) { _ = gguf.DequantizeRow(gguf.Q4_K, src[:len(dst)/256*144], dst) }
func q6kGo(dst []float32, src []byte) { _ = gguf.DequantizeRow(gguf.Q6_K, src[:len(dst)/256*210], dst) }
