package engine

import (
	"math"

	"nexusquant/engine/gguf"
)

// Element-wise kernels: Go twins of vecmath_amd64.s.

// expGo sets x[j] = exp(x[j]) as Cephes expf computes it: n = floor(x·log2e
// + ½), r = x − n·ln2 (ln 2 split in two parts), e^r by a degree-5
// polynomial, scaled by 2^n. The relative error is below 2e-7; arguments below
// −87 give 0 (attention's masked scores are −Inf).
func expGo(x []float32) {
	for i, v := range x {
		x[i] = exp32(v)
	}
}

func exp32(v float32) float32 {
	if !(v >= -87) {
		return 0
	}
	v = min(v, 88.3762626647949)
	fx := float32(math.Floor(float64(v*1.44269504088896341 + 0.5)))
	v -= fx * 0.693359375
	v -= fx * -2.12194440e-4
	z := v * v
	y := float32(1.9875691500e-4)
	y = y*v + 1.3981999507e-3
	y = y*v + 8.3334519073e-3
	y = y*v + 4.1665795894e-2
	y = y*v + 1.6666665459e-1
	y = y*v + 5.0000001201e-1
	y = y*z + v + 1
	return y * math.Float32frombits(uint32(int32(fx)+127)<<23)
}

// siluMulGo sets g[j] = silu(g[j])·u[j] = g[j]/(1+e^−g[j])·u[j].
func siluMulGo(g, u []float32) {
	u = u[:len(g)]
	for i, x := range g {
		g[i] = x / (1 + exp32(-x)) * u[i]
	}
}

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
