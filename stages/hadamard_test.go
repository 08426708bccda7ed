package stages

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestFWHTSylvesterOrder checks fwht and fwhtRef against the definition
// H[i][j] = (−1)^popcount(i AND j) on every unit vector, for n = 1…1024.
func TestFWHTSylvesterOrder(t *testing.T) {
	for n := 1; n <= 1024; n *= 2 {
		for name, f := range map[string]func([]float32){"fwht": fwht, "fwhtRef": fwhtRef} {
			x := make([]float32, n)
			for j := range n {
				clear(x)
				x[j] = 1
				f(x)
				for i, v := range x {
					want := float32(1 - 2*(bits.OnesCount(uint(i&j))&1))
					if v != want {
						t.Fatalf("%s n=%d: column %d row %d = %g, want %g", name, n, j, i, v, want)
					}
				}
			}
		}
	}
}

// TestHadamardOrthonormal: for d = 8, 64, 96 (padded to 128) and 128, with and
// without seeded signs, the D columns of the transform are orthonormal
// (MᵀM = I within 1e-6), norms of random vectors are preserved within 1e-6
// relative, and Inverse(Forward(x)) = x within 1e-6 without touching its input.
func TestHadamardOrthonormal(t *testing.T) {
	for _, d := range []int{8, 64, 96, 128} {
		for _, signs := range []bool{false, true} {
			t.Run(fmt.Sprintf("d=%d/signs=%v", d, signs), func(t *testing.T) {
				h := NewHadamard(d, signs, 42)
				if want := 1 << bits.Len(uint(d-1)); h.DPad != want {
					t.Fatalf("DPad = %d, want %d", h.DPad, want)
				}
				// Column j of M is Forward(e_j).
				cols := make([][]float32, d)
				e := make([]float32, d)
				for j := range d {
					clear(e)
					e[j] = 1
					cols[j] = make([]float32, h.DPad)
					h.Forward(cols[j], e)
				}
				for i := range d {
					for j := range d {
						var dot float64
						for k := range h.DPad {
							dot += float64(cols[i][k]) * float64(cols[j][k])
						}
						want := 0.0
						if i == j {
							want = 1
						}
						if math.Abs(dot-want) > 1e-6 {
							t.Fatalf("(MᵀM)[%d][%d] = %g, want %g", i, j, dot, want)
						}
					}
				}

				rng := rand.New(rand.NewPCG(uint64(d), 1))
				x := make([]float32, d)
				y := make([]float32, h.DPad)
				back := make([]float32, d)
				for range 100 {
					for i := range x {
						x[i] = float32(rng.NormFloat64())
					}
					h.Forward(y, x)
					if nx, ny := norm64(x), norm64(y); math.Abs(nx-ny) > 1e-6*nx {
						t.Fatalf("norm %g → %g", nx, ny)
					}
					saved := append([]float32(nil), y...)
					h.Inverse(back, y)
					for i := range y {
						if y[i] != saved[i] {
							t.Fatalf("Inverse modified its input at %d", i)
						}
					}
					for i := range x {
						if math.Abs(float64(back[i]-x[i])) > 1e-6 {
							t.Fatalf("Inverse(Forward(x))[%d] = %g, want %g", i, back[i], x[i])
						}
					}
				}
			})
		}
	}
}

// TestHadamardFullMatrixSelfInverse: without signs the DPad×DPad transform is
// symmetric and its own inverse: H·Hᵀ = H·H = I within 1e-6.
func TestHadamardFullMatrixSelfInverse(t *testing.T) {
	for _, n := range []int{8, 64, 128} {
		h := NewHadamard(n, false, 0)
		m := make([][]float32, n)
		e := make([]float32, n)
		for j := range n {
			clear(e)
			e[j] = 1
			m[j] = make([]float32, n)
			h.Forward(m[j], e) // column j (= row j, H is symmetric)
		}
		for i := range n {
			for j := range n {
				if m[i][j] != m[j][i] {
					t.Fatalf("n=%d: H not symmetric at (%d,%d)", n, i, j)
				}
				var dot float64
				for k := range n {
					dot += float64(m[k][i]) * float64(m[j][k]) // (H·H)[j][i]
				}
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(dot-want) > 1e-6 {
					t.Fatalf("n=%d: (H·H)[%d][%d] = %g, want %g", n, j, i, dot, want)
				}
			}
		}
	}
}

func TestHadamardSigns(t *testing.T) {
	// SplitMix64 seeded with 0: first output from the published reference code.
	s := splitMix64(0)
	if got := s.next(); got != 0xe220a8397b1dcdaf {
		t.Fatalf("splitmix64(0) first output %#x, want 0xe220a8397b1dcdaf", got)
	}
	a, b, c := hadamardSigns(1, 128), hadamardSigns(1, 128), hadamardSigns(2, 128)
	nNeg, nDiff := 0, 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed, different signs")
		}
		if a[i] {
			nNeg++
		}
		if a[i] != c[i] {
			nDiff++
		}
	}
	// 128 fair coins: 64 ± 8 standard deviations would be < 1e-9 likely to miss.
	if nNeg < 32 || nNeg > 96 || nDiff < 32 {
		t.Errorf("seed 1: %d negative of 128; %d differ from seed 2", nNeg, nDiff)
	}
	// With signs the transform differs from the plain one.
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	y1, y2 := make([]float32, 8), make([]float32, 8)
	NewHadamard(8, false, 1).Forward(y1, x)
	NewHadamard(8, true, 1).Forward(y2, x)
	if fmt.Sprint(y1) == fmt.Sprint(y2) {
		t.Error("seeded signs changed nothing")
	}
}

// TestHadamardConcurrent runs Forward and Inverse from many goroutines on one
// value (run with -race to check the scratch pool).
func TestHadamardConcurrent(t *testing.T) {
	h := NewHadamard(96, true, 3)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 0))
			x, y, back := make([]float32, 96), make([]float32, 128), make([]float32, 96)
			for range 500 {
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				h.Forward(y, x)
				h.Inverse(back, y)
				for i := range x {
					if math.Abs(float64(back[i]-x[i])) > 1e-5 {
						t.Errorf("goroutine %d: round trip off at %d", g, i)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestHadamardInverseAllocs(t *testing.T) {
	h := NewHadamard(96, false, 0)
	src, dst := make([]float32, 128), make([]float32, 96)
	h.Inverse(dst, src) // fill the pool
	if n := testing.AllocsPerRun(100, func() { h.Inverse(dst, src) }); n != 0 {
		t.Errorf("Inverse allocates %g times per call", n)
	}
}

func norm64(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}
