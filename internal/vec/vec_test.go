package vec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// ulps is the distance between a and b in units in the last place (0 when
// both are NaN, a large number when only one is).
func ulps(a, b float32) int64 {
	if a != a || b != b {
		if a != a && b != b {
			return 0
		}
		return math.MaxInt64
	}
	key := func(f float32) int64 { // monotone in f, −0 == +0
		u := int64(math.Float32bits(f) &^ (1 << 31))
		if math.Signbit(float64(f)) {
			return -u
		}
		return u
	}
	d := key(a) - key(b)
	return max(d, -d)
}

// specials are inputs at the edges of Exp32's domain.
var specials = []float32{
	0, float32(math.Copysign(0, -1)), 1, -1, 0.5, -0.5, 1e-30, -1e-30, 1e-45,
	-87, -86.99999, -87.00001, -88, -100, -1e30,
	88, 88.3762626647949, 88.38, 89, 100, 1e30,
	float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
	0.34657359, -0.34657359, 0.693359375, -0.693359375,
}

// inputs returns n values: the specials, then normal draws of spread sigma.
func inputs(r *rand.Rand, n int, sigma float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		if i < len(specials) && sigma == 0 {
			x[i] = specials[i]
			continue
		}
		x[i] = float32(r.NormFloat64() * sigma)
	}
	return x
}

var lengths = []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 64, 100, 1000}

// TestExpMatchesTwin: Exp (the assembly where it runs) is within 1 ulp of
// ExpGo for every value, and gives exactly 0 where the twin does (below −87,
// NaN).
func TestExpMatchesTwin(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range lengths {
		for _, sigma := range []float64{0, 0.1, 3, 30, 200} {
			x := inputs(r, n, sigma)
			got, want := slices.Clone(x), slices.Clone(x)
			Exp(got)
			ExpGo(want)
			for i := range x {
				if d := ulps(got[i], want[i]); d > 1 || (want[i] == 0) != (got[i] == 0) {
					t.Fatalf("n=%d: Exp(%g) = %g, ExpGo %g (%d ulp)", n, x[i], got[i], want[i], d)
				}
			}
		}
	}
}

// TestExpSweep compares Exp with ExpGo on a strided sweep of every float32
// bit pattern (about a million values, both signs, every exponent).
func TestExpSweep(t *testing.T) {
	const stride = 4093 * 8
	x := make([]float32, 0, 1<<20/8*8+8)
	for b := uint64(0); b < 1<<32; b += stride {
		for j := range uint64(8) {
			x = append(x, math.Float32frombits(uint32(b+j)))
		}
	}
	got, want := slices.Clone(x), slices.Clone(x)
	Exp(got)
	ExpGo(want)
	var off int
	for i := range x {
		if d := ulps(got[i], want[i]); d > 1 {
			t.Fatalf("Exp(%g) = %g, ExpGo %g (%d ulp)", x[i], got[i], want[i], d)
		} else if d == 1 {
			off++
		}
	}
	t.Logf("%d of %d values 1 ulp from the twin", off, len(x))
}

// TestExp32Accuracy: the twin is within 2e-7 relative of exp in float64 over
// its domain, 0 below −87 and saturates above 88.376.
func TestExp32Accuracy(t *testing.T) {
	for v := float32(-86.9); v < 88.3; v += 0.0137 {
		got, want := float64(Exp32(v)), math.Exp(float64(v))
		if math.Abs(got-want) > 2e-7*want {
			t.Fatalf("Exp32(%g) = %g, exp %g", v, got, want)
		}
	}
	cases := []struct{ v, want float32 }{
		{-87.5, 0}, {float32(math.Inf(-1)), 0}, {float32(math.NaN()), 0}, {0, 1},
		{float32(math.Inf(1)), Exp32(88.3762626647949)}, {1e30, Exp32(88.3762626647949)},
	}
	for _, tc := range cases {
		if got := Exp32(tc.v); got != tc.want {
			t.Errorf("Exp32(%g) = %g, want %g", tc.v, got, tc.want)
		}
	}
}

// TestSiluMulMatchesTwin: SiluMul is within 4 ulp of SiluMulGo (1 ulp of exp
// through 1 + e, a division and a product).
func TestSiluMulMatchesTwin(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range lengths {
		for _, sigma := range []float64{0.1, 3, 30} {
			g, u := inputs(r, n, sigma), inputs(r, n, 2)
			got, want := slices.Clone(g), slices.Clone(g)
			SiluMul(got, u)
			SiluMulGo(want, u)
			for i := range g {
				if d := ulps(got[i], want[i]); d > 4 {
					t.Fatalf("n=%d: SiluMul(%g, %g) = %g, SiluMulGo %g (%d ulp)", n, g[i], u[i], got[i], want[i], d)
				}
			}
			// The reference: x·σ(x)·u in float64.
			for i := range g {
				x := float64(g[i])
				ref := x / (1 + math.Exp(-x)) * float64(u[i])
				if math.Abs(float64(want[i])-ref) > 1e-6*math.Abs(ref)+1e-30 {
					t.Fatalf("SiluMulGo(%g, %g) = %g, want %g", g[i], u[i], want[i], ref)
				}
			}
		}
	}
}

// TestExpSubSum: the values are within 1 ulp of the twin's, and the sum is
// bit for bit the twin's order of summation over the values written (the
// twin defines the order); the sum is close to the twin's own.
func TestExpSubSum(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 8, 16, 24, 64, 1000, 4096} {
		for _, sigma := range []float64{0, 0.1, 3, 30, 200} {
			x := inputs(r, n, sigma)
			var m float32
			for _, v := range x {
				if v == v {
					m = max(m, v)
				}
			}
			got, want := slices.Clone(x), slices.Clone(x)
			sum := ExpSubSum(got, m)
			wantSum := ExpSubSumGo(want, m)
			for i := range x {
				if d := ulps(got[i], want[i]); d > 1 {
					t.Fatalf("n=%d: exp(%g − %g) = %g, twin %g (%d ulp)", n, x[i], m, got[i], want[i], d)
				}
			}
			if ordered := laneSum(got); math.Float64bits(sum) != math.Float64bits(ordered) {
				t.Fatalf("n=%d sigma=%g: sum %v, the twin's order over the same values %v", n, sigma, sum, ordered)
			}
			if math.Abs(sum-wantSum) > 1e-6*math.Abs(wantSum) {
				t.Fatalf("n=%d sigma=%g: sum %v, twin %v", n, sigma, sum, wantSum)
			}
		}
	}
}

// TestExpSubSumOrder feeds ExpSubSum a row whose float64 sum depends on the
// order of the last additions (e^40 is 2^58 large; the e^3 lanes add less
// than its ulp one at a time, more together), so the assembly's sum equals
// the twin's order only if it adds in that order.
func TestExpSubSumOrder(t *testing.T) {
	x := []float32{40, 3, 40, 3, 0, 0, 0, 0}
	e := slices.Clone(x)
	sum := ExpSubSum(e, 0)
	if want := laneSum(e); math.Float64bits(sum) != math.Float64bits(want) {
		t.Fatalf("sum %v, the twin's order %v", sum, want)
	}
	var seq float64
	for _, v := range e {
		seq += float64(v)
	}
	if seq == sum {
		t.Fatalf("the row does not tell the orders apart: sequential sum %v = lane sum", seq)
	}
}

func TestExpSubSumNeedsEights(t *testing.T) {
	for _, fn := range []func([]float32, float32) float64{ExpSubSum, ExpSubSumGo} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("9 values accepted")
				}
			}()
			fn(make([]float32, 9), 0)
		}()
	}
}

// TestLaneSumOrder pins the order laneSum adds in, with values whose float64
// sum depends on it.
func TestLaneSumOrder(t *testing.T) {
	// Lanes 0–3 hold 1e20, 1, −1e20, 1 (lanes 4–7 and the second block
	// add 0, 0, 0, 2 to them): (1e20 + −1e20) + (1 + 3) = 4 in this order,
	// 1, 3 or 5 in others.
	x := []float32{1e20, 1, -1e20, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}
	if got := laneSum(x); got != 4 {
		t.Errorf("laneSum = %v, want 4", got)
	}
}

// BenchmarkExp compares the kernels with their twins over a size ladder.
func BenchmarkExp(b *testing.B) {
	for _, n := range []int{64, 1024, 16384} {
		x := inputs(rand.New(rand.NewPCG(7, 8)), n, 3)
		buf := make([]float32, n)
		for _, k := range []struct {
			name string
			fn   func([]float32)
		}{{"Exp", Exp}, {"ExpGo", ExpGo}} {
			b.Run(fmt.Sprintf("%s/n=%d", k.name, n), func(b *testing.B) {
				b.SetBytes(int64(4 * n))
				for b.Loop() {
					copy(buf, x)
					k.fn(buf)
				}
			})
		}
	}
}
