package engine

import (
	"math"
	"sync"
	"testing"
)

// TestRoPEPages checks that rotate gives, bit for bit, what the uncached
// computation (table then apply's scalar loop) gives, with every kernel set
// (the assembly ones rotate eight pairs at a time where the lengths allow),
// for ropes of every kind, at positions in the first, a middle and the last
// page, and past the pages, forward and inverse, also from goroutines racing
// to fill the same page.
func TestRoPEPages(t *testing.T) {
	last := ropePageRows*ropeCachePages - 1
	positions := []int{0, 1, 255, 256, 4031, 4095, 70000, last, last + 1, last + 1000}
	ropes := []struct {
		name string
		r    rope
	}{
		{"normal", newRope(64, 10000, 1, false, nil, 1)},
		{"neox", newRope(64, 1e6, 1, true, nil, 1)},
		{"partial", newRope(32, 10000, 1, true, nil, 1)},
		{"scaled", newRope(16, 500000, 4, false, nil, 1)},
		{"factors and mscale", newRope(8, 10000, 1, true, []float32{1, 1.5, 2, 4}, 1.19)},
		{"neox 16", newRope(16, 10000, 1, true, nil, 1)},
		{"normal 8", newRope(8, 10000, 1, false, nil, 1)},
		{"normal mscale", newRope(64, 10000, 1, false, nil, 1.19)},
	}
	x := make([]float32, 64)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.7)) * 3
	}
	for _, tc := range ropes {
		t.Run(tc.name, func(t *testing.T) {
			r := &tc.r
			want := func(pos int, inverse bool) []float32 {
				cs := make([]float32, r.dims)
				r.table(pos, cs)
				y := append([]float32(nil), x...)
				r.apply(nil, y, cs, inverse)
				return y
			}
			var wg sync.WaitGroup
			for g := 0; g < 4; g++ {
				ks := kernelSets()[g%len(kernelSets())]
				wg.Add(1)
				go func() {
					defer wg.Done()
					for _, pos := range positions {
						for _, inv := range []bool{false, true} {
							y := append([]float32(nil), x...)
							r.rotate(&ks, y, pos, inv)
							w := want(pos, inv)
							for i := range y {
								if math.Float32bits(y[i]) != math.Float32bits(w[i]) {
									t.Errorf("%s pos %d inverse %v: x[%d] = %g, want %g", ks.name, pos, inv, i, y[i], w[i])
									return
								}
							}
						}
					}
				}()
			}
			wg.Wait()
			if got := r.cached(last + 1); got != nil {
				t.Errorf("position %d is past the pages but has a table", last+1)
			}
			if got := r.cached(-1); got != nil {
				t.Error("position -1 has a table")
			}
		})
	}
}

// BenchmarkRoPE rotates one head per call at positions 0…4095, as a packed
// cache re-applies RoPE to its kept keys on every decode step.
func BenchmarkRoPE(b *testing.B) {
	r := newRope(128, 1e6, 1, true, nil, 1)
	x := make([]float32, 128)
	b.ReportAllocs()
	pos := 0
	for b.Loop() {
		r.rotate(cpuKernels, x, pos, false)
		pos = (pos + 1) % 4096
	}
}
