package engine

import (
	"fmt"
	"math"
	"strings"
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

// TestRoPERows checks that RoPERows rotates each head vector as RoPELayer
// does, bit for bit: both pairings, full and partial rotary, with and
// without mscale, forward and inverse, every kernel set, runs of positions
// within a page, across pages and beyond the cached pages; that it leaves a
// layer outside the model alone; and that a rows slice of the wrong length
// panics with a message.
func TestRoPERows(t *testing.T) {
	last := ropePageRows * ropeCachePages
	pos := []int32{0, 1, 2, 255, 256, 300, 301, 4097, 4098, 4099, int32(last) - 1, int32(last), 1 << 21, 7, 8}
	for _, tc := range []struct {
		name       string
		d, dims    int
		neox       bool
		mscale     float64
		randomArch string // "": a model of head dim d built here
	}{
		{"adjacent 64", 64, 64, false, 1, ""},
		{"neox 64", 64, 64, true, 1, ""},
		{"neox partial 64/32", 64, 32, true, 1, ""},
		{"adjacent partial 64/16", 64, 16, false, 1, ""},
		{"neox 128 mscale", 128, 128, true, 1.19, ""},
		{"adjacent 8 (random llama)", 8, 8, false, 1, "llama"},
		{"neox 8 (random qwen2)", 8, 8, true, 1, "qwen2"},
	} {
		for _, ks := range kernelSets() {
			m := &Model{Config: Config{HeadDim: tc.d, Layers: 2}}
			m.rope = newRope(tc.dims, 10000, 1, tc.neox, nil, tc.mscale)
			m.layers = []layer{{rope: &m.rope}, {rope: &m.rope}}
			if tc.randomArch != "" {
				m = randomModel(tc.randomArch, 5)
			}
			m.ks = &ks
			d := m.Config.HeadDim
			for _, inverse := range []bool{false, true} {
				rows := randVec(len(pos)*d, 9)
				want := append([]float32(nil), rows...)
				for i, p := range pos {
					m.RoPELayer(1, want[i*d:(i+1)*d], int(p), inverse)
				}
				m.RoPERows(1, rows, pos, inverse)
				if orig := randVec(len(pos)*d, 9); rows[d] == orig[d] {
					t.Fatalf("%s %s: RoPERows did not rotate position 1", tc.name, ks.name)
				}
				for i := range rows {
					if math.Float32bits(rows[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s %s inverse=%v: rows[%d] (position %d) = %g, RoPELayer %g", tc.name, ks.name, inverse, i, pos[i/d], rows[i], want[i])
					}
				}
				same := append([]float32(nil), rows...)
				m.RoPERows(m.Config.Layers, same, pos, inverse)
				for i := range same {
					if same[i] != rows[i] {
						t.Fatalf("%s: RoPERows on a layer outside the model changed rows[%d]", tc.name, i)
					}
				}
			}
			func() {
				defer func() {
					if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "3 positions of head dim") {
						t.Errorf("%s: RoPERows with a short rows slice: recovered %v", tc.name, r)
					}
				}()
				m.RoPERows(0, make([]float32, 3*d-1), []int32{1, 2, 3}, false)
			}()
		}
	}
}

// BenchmarkRoPERows times RoPERows over 256 kept keys of head dim 64
// spread over 4096 positions, as a decode step from a packed cache
// re-rotates them.
func BenchmarkRoPERows(b *testing.B) {
	for _, neox := range []bool{false, true} {
		const d, rows = 64, 256
		m := &Model{Config: Config{HeadDim: d, Layers: 1}}
		m.rope = newRope(d, 10000, 1, neox, nil, 1)
		m.layers = []layer{{rope: &m.rope}}
		pos := make([]int32, rows)
		for i := range pos {
			pos[i] = int32(i * 16)
		}
		x := randVec(rows*d, 3)
		b.Run(map[bool]string{false: "adjacent", true: "neox"}[neox], func(b *testing.B) {
			for b.Loop() {
				m.RoPERows(0, x, pos, false)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
		})
	}
}
