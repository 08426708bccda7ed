//go:build amd64

package stages

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// withAsm runs f with the assembly kernels on (when the CPU has them) or off.
func withAsm(t *testing.T, on bool, f func()) {
	t.Helper()
	old := useAsm
	useAsm = on && old
	defer func() { useAsm = old }()
	f()
}

// edgeFloats are inputs every differential test mixes into its random data.
var edgeFloats = []float32{0, float32(math.Copysign(0, -1)), 0.5, -0.5, 1.5, -2.5, 1, -1, 1e-30, -1e-38, 1e-45, 3e38, -3e38, 65504, 1 << 20, 0.49999997, 0.50000006,
	float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}

// randomRow fills x with a mix of normal values of scale sigma, exact halves
// and integers, and edge values.
func randomRow(rng *rand.Rand, x []float32, sigma float64) {
	mode := rng.IntN(4)
	for i := range x {
		v := rng.NormFloat64() * sigma
		switch {
		case mode == 1:
			v = math.Round(v*2) / 2
		case mode == 2 && rng.IntN(8) == 0:
			x[i] = edgeFloats[rng.IntN(len(edgeFloats))]
			continue
		}
		x[i] = float32(v)
	}
}

func sameFloats(a, b []float32) bool {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return true
}

func TestHadamardAsmMatchesGo(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA, or NEXUSQUANT_NOASM set")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	dims := []int{1, 3, 7, 8, 9, 12, 16, 24, 32, 64, 96, 100, 127, 128, 129, 256, 512, 1000, 1024}
	for _, d := range dims {
		for _, signs := range []bool{false, true} {
			h := NewHadamard(d, signs, int64(d))
			for range 50 {
				src := make([]float32, d)
				randomRow(rng, src, []float64{1e-3, 1, 100}[rng.IntN(3)])
				var fa, fg, ia, ig []float32
				fa, fg = make([]float32, h.DPad), make([]float32, h.DPad)
				withAsm(t, true, func() { h.Forward(fa, src) })
				withAsm(t, false, func() { h.Forward(fg, src) })
				if !sameFloats(fa, fg) {
					t.Fatalf("d=%d signs=%v: Forward asm %v, Go %v", d, signs, fa, fg)
				}
				ia, ig = make([]float32, d), make([]float32, d)
				withAsm(t, true, func() { h.Inverse(ia, fa) })
				withAsm(t, false, func() { h.Inverse(ig, fg) })
				if !sameFloats(ia, ig) {
					t.Fatalf("d=%d signs=%v: Inverse asm %v, Go %v", d, signs, ia, ig)
				}
				if d == h.DPad { // in place
					x := slices.Clone(fa)
					withAsm(t, true, func() { h.Forward(x, x); h.Inverse(x, x) })
					y := slices.Clone(fa)
					withAsm(t, false, func() { h.Forward(y, y); h.Inverse(y, y) })
					if !sameFloats(x, y) {
						t.Fatalf("d=%d in place: asm %v, Go %v", d, x, y)
					}
				}
			}
		}
	}
}

// nearestAsm is nearestDoubled through e8EncodeAVX (inv 1, no clamp that
// matters): y must satisfy |y_i| < 16000 so that the codes fit an int16.
func nearestAsm(y *[8]float32, halfParity bool) (twice [8]int32) {
	var xb [64]float32
	var cb [64]int16
	copy(xb[:], y[:])
	e8EncodeAVX(&cb[0], &xb[0], 1, 1, 0, 1<<15-1, false, halfParity)
	for i := range twice {
		twice[i] = int32(cb[i])
	}
	return twice
}

// TestNearestAsmVersusBruteForce is TestNearestPointsVersusBruteForce for the
// assembly kernel, and checks it picks the very point nearestDoubled picks.
func TestNearestAsmVersusBruteForce(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA, or NEXUSQUANT_NOASM set")
	}
	perScale := 100_000
	if testing.Short() {
		perScale = 10_000
	}
	for _, sigma := range []float64{0.3, 1.3, 4, 20, 1000} {
		rng := rand.New(rand.NewPCG(1, uint64(sigma*1000)))
		var y, p [8]float32
		for n := range perScale {
			for i := range y {
				y[i] = float32(rng.NormFloat64() * sigma)
			}
			if n%97 == 0 {
				for i := range y {
					y[i] = float32(math.Round(float64(y[i])*2) / 2)
				}
			}
			if n%101 == 0 { // exact ties between the two cosets
				for i := range y {
					y[i] = float32(math.Round(float64(y[i])*4) / 4)
				}
			}
			d8 := bruteCoset(&y, 0, true)
			d8half := bruteCoset(&y, 0.5, true)
			free := bruteCoset(&y, 0.5, false)
			const eps = 1e-9
			for _, hp := range []bool{true, false} {
				twice := nearestAsm(&y, hp)
				if want, _ := nearestDoubled(&y, hp); twice != want {
					t.Fatalf("sigma=%g y=%v parity=%v: asm %v, Go %v", sigma, y, hp, twice, want)
				}
				for i, c := range twice {
					p[i] = float32(c) / 2
				}
				inInt, inHalf, inFree := latticeMember(&p)
				want := min(d8, free)
				ok := inInt || inFree
				if hp {
					want, ok = min(d8, d8half), inInt || inHalf
				}
				if !ok || dist64(&y, &p) > want+eps*(1+want) {
					t.Fatalf("sigma=%g parity=%v: nearest(%v) = %v, distance %g, brute force %g", sigma, hp, y, p, dist64(&y, &p), want)
				}
			}
		}
	}
}

// TestEncodeAsmMatchesGo: Quantizer.Encode gives the same codes and scale with
// and without the assembly kernels, for every lattice and bit width, on rows
// of every length class and with edge values (zeros, halves, huge, tiny,
// ±Inf, NaN).
func TestEncodeAsmMatchesGo(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA, or NEXUSQUANT_NOASM set")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	lengths := []int{0, 1, 5, 8, 13, 16, 56, 63, 64, 65, 96, 120, 128, 136, 200, 256}
	specials := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e30, -7e37, 1e-40}
	for _, lattice := range quantLattices {
		for _, bits := range quantBits {
			q, _ := NewQuantizer(lattice, bits)
			for _, n := range lengths {
				for rep := range 60 {
					x := make([]float32, n)
					randomRow(rng, x, []float64{1e-9, 1e-6, 0.01, 1, 300, 1e5}[rng.IntN(6)])
					if n > 0 && rep%5 == 0 {
						x[rng.IntN(n)] = specials[rng.IntN(len(specials))]
					}
					if rep == 1 {
						clear(x)
					}
					ca, cg := make([]int16, n+3), make([]int16, n+3)
					var sa, sg uint16
					withAsm(t, true, func() { sa = q.Encode(ca, x) })
					withAsm(t, false, func() { sg = q.Encode(cg, x) })
					if sa != sg || !slices.Equal(ca, cg) {
						t.Fatalf("%s/%d n=%d x=%v:\nasm scale %#x codes %v\nGo  scale %#x codes %v", lattice, bits, n, x, sa, ca, sg, cg)
					}
				}
			}
		}
	}
}

// TestKeyKeyLogitsAsmMatchesGo: the FMA logit kernel agrees with the Go dot
// products to float32 rounding, relative to Σ|q_j·k_j| (FMA and the lane-wise
// summation order change the rounding, not the products).
func TestKeyKeyLogitsAsmMatchesGo(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA, or NEXUSQUANT_NOASM set")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for _, d := range []int{8, 16, 64, 128, 256} {
		for _, T := range []int{1, 2, 3, 5, 8, 33, 64, 101} {
			for _, w := range []int{1, 2, 3, 4, 5, 7, 8, 31, 32} {
				if w > T {
					continue
				}
				keys := make([]float32, T*d)
				randomRow(rng, keys, []float64{0.01, 1, 30}[rng.IntN(3)])
				for i, v := range keys { // no huge edge values: the products would overflow
					if !(math.Abs(float64(v)) <= 1e6) { // also NaN
						keys[i] = 1
					}
				}
				nb := min(w, keyKeyBlock)
				p0 := T - w
				queries := keys[p0*d : (p0+nb)*d]
				la, lg := make([]float32, nb*T), make([]float32, nb*T)
				scale := float32(1 / math.Sqrt(float64(d)))
				keyKeyLogitsAVX(la, queries, keys, d, p0, nb, T, scale)
				keyKeyLogits(lg, queries, keys, d, p0, nb, T, scale)
				for b := range nb {
					for tt := range p0 + b + 1 {
						var mag float64
						for j := range d {
							mag += math.Abs(float64(queries[b*d+j]) * float64(keys[tt*d+j]))
						}
						mag *= float64(scale)
						a, g := la[b*T+tt], lg[b*T+tt]
						if math.Abs(float64(a)-float64(g)) > 1e-6*mag+1e-30 {
							t.Fatalf("d=%d T=%d w=%d logit[%d][%d]: asm %g, Go %g (Σ|q·k| %g)", d, T, w, b, tt, a, g, mag)
						}
					}
				}
			}
		}
	}
}

// TestSoftmaxAsmMatchesGo: the vectorised softmax accumulation agrees with the
// Go one to 1e-6 relative (plus the probabilities below e^−87, which the
// vector exp flushes to 0), and propagates NaN like it.
func TestSoftmaxAsmMatchesGo(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA, or NEXUSQUANT_NOASM set")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{8, 9, 15, 16, 17, 64, 100, 1000, 1024} {
		for rep := range 40 {
			row := make([]float32, n)
			sigma := []float64{0, 0.1, 3, 30, 200}[rep%5]
			for i := range row {
				row[i] = float32(rng.NormFloat64() * sigma)
			}
			if rep%7 == 3 {
				row[rng.IntN(n)] = float32(math.NaN())
			}
			accA, accG := make([]float64, n), make([]float64, n)
			for i := range accA {
				accA[i] = rng.Float64()
				accG[i] = accA[i]
			}
			ra, rg := slices.Clone(row), slices.Clone(row)
			softmaxAccumulateAVX(accA, ra)
			withAsm(t, false, func() { softmaxAccumulate(accG, rg) })
			for i := range accA {
				a, g := accA[i], accG[i]
				if math.IsNaN(g) != math.IsNaN(a) || math.Abs(a-g) > 1e-6*math.Abs(g)+1e-30 {
					t.Fatalf("n=%d sigma=%g: acc[%d] asm %g, Go %g", n, sigma, i, a, g)
				}
			}
		}
	}
}

// TestKeyKeyScoresAsmMatchesGo: whole keykey scores with and without the
// kernels, for head dimensions with and without a multiple of 8, several
// windows and worker counts. A logit's rounding error δ changes its
// probability by the factor e^δ, so the tolerance is relative to the logit
// magnitudes: 2e-5 relative to each score plus 1e-6 of the largest.
func TestKeyKeyScoresAsmMatchesGo(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA, or NEXUSQUANT_NOASM set")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for _, d := range []int{4, 8, 24, 64, 128} {
		for _, T := range []int{1, 7, 40, 130} {
			kv := randomKV(rng, 2, 2, d, T, 1)
			for _, w := range []int{1, 5, 32, 33, 200} {
				for _, gran := range scoreGranularities {
					var a, g *Scores
					var err error
					withAsm(t, true, func() { a, err = ComputeScoresWorkers(kv, nil, "keykey", gran, w, 0, 2) })
					if err != nil {
						t.Fatal(err)
					}
					withAsm(t, false, func() { g, err = ComputeScoresWorkers(kv, nil, "keykey", gran, w, 0, 1) })
					if err != nil {
						t.Fatal(err)
					}
					var top float64
					for _, v := range g.S {
						top = max(top, math.Abs(float64(v)))
					}
					for i := range g.S {
						x, y := float64(a.S[i]), float64(g.S[i])
						if math.Abs(x-y) > 2e-5*math.Abs(y)+1e-6*top {
							t.Fatalf("d=%d T=%d w=%d %s: S[%d] asm %g, Go %g", d, T, w, gran, i, x, y)
						}
					}
				}
			}
		}
	}
}

// TestDecodeAsmMatchesGo: Quantizer.Decode gives bit-identical floats with and
// without the assembly kernels, for every code, length class and scale
// (subnormal, largest finite, infinite and NaN scale bits included).
func TestDecodeAsmMatchesGo(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA, or NEXUSQUANT_NOASM set")
	}
	rng := rand.New(rand.NewPCG(15, 16))
	scales := []uint16{0x3c00, 0x0001, 0x03ff, 0x0400, 0x7bff, 0x7c00, 0x7e00, 0x1234, 0x8001}
	for _, lattice := range quantLattices {
		for _, bits := range quantBits {
			q, _ := NewQuantizer(lattice, bits)
			lo, hi := q.codeRange()
			for _, n := range []int{0, 1, 7, 8, 9, 64, 100, 128, 1024} {
				codes := make([]int16, n+2)
				for i := range codes {
					codes[i] = int16(lo + rng.IntN(hi-lo+1))
				}
				for _, sc := range append(scales, uint16(rng.Uint32())) {
					xa, xg := make([]float32, n), make([]float32, n)
					withAsm(t, true, func() { q.Decode(xa, codes, sc) })
					withAsm(t, false, func() { q.Decode(xg, codes, sc) })
					if !sameFloats(xa, xg) {
						t.Fatalf("%s/%d n=%d scale %#x: asm %v, Go %v", lattice, bits, n, sc, xa, xg)
					}
				}
			}
		}
	}
}

// TestEncodeDecodeNoAllocs: the kernels' wrappers keep Encode and Decode
// allocation-free (the tail buffers stay on the stack).
func TestEncodeDecodeNoAllocs(t *testing.T) {
	x := make([]float32, 100)
	for i := range x {
		x[i] = float32(i) - 50.5
	}
	codes := make([]int16, 100)
	for _, lattice := range quantLattices {
		q, _ := NewQuantizer(lattice, 3)
		if n := testing.AllocsPerRun(100, func() { q.Decode(x, codes, q.Encode(codes, x)) }); n != 0 {
			t.Errorf("%s: %g allocations per Encode+Decode", lattice, n)
		}
	}
}
