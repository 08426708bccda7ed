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

// scaleMaxGo multiplies x by scale in place and returns the largest result
// (−Inf for an empty x).
func scaleMaxGo(x []float32, scale float32) float32 {
	m := negInf
	for i, v := range x {
		v *= scale
		x[i] = v
		m = max(m, v)
	}
	return m
}

// sum8 is the sum of x in eight interleaved partial sums, added pairwise at
// the end: a softmax row's denominator without one long chain of additions.
func sum8(x []float32) float32 {
	var s [8]float32
	n := len(x) &^ 7
	for i := 0; i < n; i += 8 {
		c := x[i : i+8 : i+8]
		s[0] += c[0]
		s[1] += c[1]
		s[2] += c[2]
		s[3] += c[3]
		s[4] += c[4]
		s[5] += c[5]
		s[6] += c[6]
		s[7] += c[7]
	}
	for i, v := range x[n:] {
		s[i] += v
	}
	return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
}
