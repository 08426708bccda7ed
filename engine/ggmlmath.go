package engine

import (
	"math"

	"nexusquant/engine/gguf"
)

// Scalar twins of the ggml-cpu operations whose exact bits the Exact mode
// reproduces: the lane layout and reduction order of their vector loops,
// written out one lane at a time. The target is the build the reference
// figures came from (reference/synthetic: llama.cpp c392e509, x86 with
// AVX-512, FMA, F16C): float vector loops run 16 lanes wide (__m512), while
// the quantized dot products use ggml's 256-bit integer paths (exactmul.go).

// fma32 is a float32 fused multiply-add, a·b+c rounded once. It goes
// through float64, where a·b is exact, so the float64 sum is a·b+c rounded
// once; rounding that to float32 differs from a true float32 FMA only when
// it lands exactly on a float32 rounding midpoint — about once in 2^29
// operations.
func fma32(a, b, c float32) float32 {
	return float32(float64(a)*float64(b) + float64(c))
}

// round16 rounds x to float16 and back (nearest even), as F16C's
// vcvtps2ph does.
func round16(x float32) float32 { return gguf.F16ToF32(gguf.F32ToF16(x)) }

// hsum8 is ggml's hsum_float_8 (and tinyBLAS's hsum of a 256-bit register):
// ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)).
func hsum8(l *[8]float32) float32 {
	a0, a1, a2, a3 := l[0]+l[4], l[1]+l[5], l[2]+l[6], l[3]+l[7]
	return (a0 + a2) + (a1 + a3)
}

// reduce16 is _mm512_reduce_add_ps as GCC implements it: the two 256-bit
// halves added, then the two 128-bit halves, then (0+2, 1+3), then the sum.
func reduce16(l *[16]float32) float32 {
	var t3 [8]float32
	for i := range t3 {
		t3[i] = l[i+8] + l[i]
	}
	t6 := [4]float32{t3[4] + t3[0], t3[5] + t3[1], t3[6] + t3[2], t3[7] + t3[3]}
	return (t6[0] + t6[2]) + (t6[1] + t6[3])
}

// tinyK is the depth step of llamafile's tinyBLAS (16 floats per __m512): a
// batch product runs through tinyBLAS only when its depth is a multiple.
const tinyK = 16

// dotTiny is tinyBLAS's order for one output of a float product (k a
// multiple of tinyK): lane j accumulates elements j, j+16, … by FMA, then
// reduce16.
func dotTiny(a, b []float32) float32 {
	var l [16]float32
	b = b[:len(a)]
	for i := 0; i+16 <= len(a); i += 16 {
		for j := range l {
			l[j] = fma32(a[i+j], b[i+j], l[j])
		}
	}
	return reduce16(&l)
}

// dotVec is ggml_vec_dot_f16's order (and ggml_vec_dot_f32's, whose tail is
// summed in float32 by FMA instead of in float64, with f32Tail): four
// 16-lane FMA accumulators over steps of 64, reduced as (s0+s2)+(s1+s3)
// per lane and then by reduce16; elements past the last full step are
// added one at a time.
func dotVec(a, b []float32, f32Tail bool) float32 {
	var s [4][16]float32
	b = b[:len(a)]
	np := len(a) &^ 63
	for i := 0; i < np; i += 64 {
		for j := 0; j < 4; j++ {
			for l := 0; l < 16; l++ {
				s[j][l] = fma32(a[i+j*16+l], b[i+j*16+l], s[j][l])
			}
		}
	}
	var x [16]float32
	for l := range x {
		x[l] = (s[0][l] + s[2][l]) + (s[1][l] + s[3][l])
	}
	r := reduce16(&x)
	if f32Tail {
		for i := np; i < len(a); i++ {
			r = fma32(a[i], b[i], r)
		}
		return r
	}
	sum := float64(r)
	for i := np; i < len(a); i++ {
		sum += float64(a[i] * b[i])
	}
	return float32(sum)
}

// ggmlExp is one lane of ggml_v_expf (AVX-512): e^x = (1 + b·P(b))·2^n with
// n = round(x·log2 e) and b the reduced argument, accurate to ~1.5 ulp;
// |n| > 192 gives 0 or +Inf.
func ggmlExp(x float32) float32 {
	const r = float32(0x1.8p23)
	z := fma32(x, 0x1.715476p+0, r)
	n := z - r
	b := fma32(-n, 0x1.7f7d1cp-20, fma32(-n, 0x1.62e4p-1, x))
	u := b * b
	j := fma32(fma32(fma32(0x1.0e4020p-7, b, 0x1.573e2ep-5), u, fma32(0x1.555e66p-3, b, 0x1.fffdb6p-2)), u, fma32(0x1.ffffecp-1, b, 1))
	if n != n {
		return n
	}
	if math.Abs(float64(n)) > 192 {
		if n <= 0 {
			return 0
		}
		return float32(math.Inf(1))
	}
	// _mm512_scalef_ps: j·2^n rounded once (exact in float64).
	return float32(math.Ldexp(float64(j), int(n)))
}

// siluLanes is the width of ggml_vec_silu_f32's vector loop.
const siluLanes = 16

// ggmlSiluMul sets g[i] = silu(g[i])·u[i] for each row of ff values as
// ggml_vec_silu_f32 and then ggml_mul compute it: x/(1+e^−x), rounded, times
// u, with ggml_v_expf for each full group of 16 in a row and libm's expf
// for the rest.
func ggmlSiluMul(g, u []float32, ff int) {
	u = u[:len(g)]
	vec := ff / siluLanes * siluLanes
	for i, x := range g {
		var e float32
		if i%ff < vec {
			e = ggmlExp(0 - x)
		} else {
			e = float32(math.Exp(float64(-x)))
		}
		s := x / (1 + e)
		g[i] = s * u[i]
	}
}
