package engine

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The reductions must add in ggml's order, not merely to the same value:
// each case is built so that a plain left-to-right sum gives another answer.
func TestReductionOrders(t *testing.T) {
	const big = 1 << 24 // 2^24 + 1 is not a float32
	var l8 [8]float32
	l8[0], l8[4], l8[2], l8[6] = 1, big, 1, -big
	var l16 [16]float32
	l16[0], l16[8], l16[4], l16[12] = 1, big, 1, -big
	seq := func(xs []float32) (s float32) {
		for _, x := range xs {
			s += x
		}
		return
	}
	tests := []struct {
		name      string
		got, want float32
		plain     float32
	}{
		// (l0+l4) rounds to 2^24, (l2+l6) = −(2^24−1): their sum is 1.
		{"hsum8", hsum8(&l8), 1, seq(l8[:])},
		// (x0+x8) rounds to 2^24, (x4+x12) = −(2^24−1).
		{"reduce16", reduce16(&l16), 1, seq(l16[:])},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = %g, want %g", tc.name, tc.got, tc.want)
		}
		if tc.plain == tc.want {
			t.Errorf("%s: the case does not tell the orders apart", tc.name)
		}
	}
}

func TestDotKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{16, 64, 70, 128, 200} {
		a, b := make([]float32, n), make([]float32, n)
		var want, mag float64
		for i := range a {
			a[i], b[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
			want += float64(a[i]) * float64(b[i])
			mag += math.Abs(float64(a[i]) * float64(b[i]))
		}
		check := func(name string, got float32) {
			if math.Abs(float64(got)-want) > 1e-6*mag {
				t.Errorf("n=%d %s = %g, float64 sum %g", n, name, got, want)
			}
		}
		if n%tinyK == 0 {
			check("dotTiny", dotTiny(a, b))
		}
		check("dotVec", dotVec(a, b, false))
		check("dotVec f32 tail", dotVec(a, b, true))
	}
}

func TestGGMLExp(t *testing.T) {
	ulp := func(x float32) float64 {
		return float64(math.Nextafter32(x, float32(math.Inf(1))) - x)
	}
	var worst float64
	for x := float32(-87); x < 88; x += 0.0137 {
		got, want := ggmlExp(x), math.Exp(float64(x))
		if e := math.Abs(float64(got)-want) / ulp(float32(want)); e > worst {
			worst = e
		}
	}
	// ggml documents 1.45 ulp plus the final rounding; ulp here is the
	// spacing above the true value, half the one below at powers of two.
	if worst > 2.5 {
		t.Errorf("ggmlExp is off by %.2f ulp at worst, want ≤ 2.5", worst)
	}
	special := []struct{ x, want float32 }{
		{0, 1},
		{float32(math.Inf(-1)), 0},
		{-200, 0},
		{200, float32(math.Inf(1))},
	}
	for _, tc := range special {
		if got := ggmlExp(tc.x); got != tc.want {
			t.Errorf("ggmlExp(%g) = %g, want %g", tc.x, got, tc.want)
		}
	}
	if got := ggmlExp(float32(math.NaN())); got == got {
		t.Errorf("ggmlExp(NaN) = %g, want NaN", got)
	}
}

func TestGGMLSiluMul(t *testing.T) {
	const ff = 20 // one vector group of 16 and a scalar tail of 4 per row
	g, u := make([]float32, 2*ff), make([]float32, 2*ff)
	for i := range g {
		g[i], u[i] = float32(i-ff)/3, float32(i%7)-2
	}
	want := make([]float64, len(g))
	for i := range g {
		x := float64(g[i])
		want[i] = x / (1 + math.Exp(-x)) * float64(u[i])
	}
	ggmlSiluMul(g, u, ff)
	for i := range g {
		if math.Abs(float64(g[i])-want[i]) > 1e-6*(1+math.Abs(want[i])) {
			t.Errorf("silu·u [%d] = %g, want %g", i, g[i], want[i])
		}
	}
}
