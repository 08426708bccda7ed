package engine

import (
	"math"
	"sync"

	"nexusquant/engine/gguf"
)

// GELU and soft-capping, computed as ggml-cpu computes them.
//
// ggml-cpu evaluates GELU (tanh form) through a table indexed by the input
// rounded to float16 (GGML_GELU_FP16): inputs ≤ −10 give 0, inputs ≥ 10 pass
// through, the rest read gelu(f16(x)) rounded to float16. gegluMul does the
// same, so a gemma block rounds where llama.cpp rounds.

// geluTable is ggml_table_gelu_f16: gelu of every float16 value, as float16
// bits, built on first use.
var geluTable = sync.OnceValue(func() []uint16 {
	t := make([]uint16, 1<<16)
	for i := range t {
		x := gguf.F16ToF32(uint16(i))
		t[i] = gguf.F32ToF16(geluF32(x))
	}
	return t
})

// geluF32 is ggml_gelu_f32: 0.5x(1+tanh(√(2/π)·x·(1+0.044715x²))).
func geluF32(x float32) float32 {
	const sqrt2OverPi = 0.79788456080286535587989211986876
	const coefA = 0.044715
	return 0.5 * x * (1 + float32(math.Tanh(float64(sqrt2OverPi*x*(1+coefA*x*x)))))
}

// gegluMul sets g[j] = gelu(g[j])·u[j] (ggml_vec_geglu_f32).
func gegluMul(g, u []float32) {
	t := geluTable()
	u = u[:len(g)]
	for j, x := range g {
		switch {
		case x <= -10:
			g[j] = 0
		case x >= 10:
			g[j] = x * u[j]
		default:
			g[j] = gguf.F16ToF32(t[gguf.F32ToF16(x)]) * u[j]
		}
	}
}

// softcap sets x = c·tanh(x/c) for every value, as three ggml ops (scale by
// 1/c, tanh, scale by c).
func softcap(x []float32, c float32) {
	inv := 1 / c
	for i, v := range x {
		x[i] = float32(math.Tanh(float64(v*inv))) * c
	}
}
