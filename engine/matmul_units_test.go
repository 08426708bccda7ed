package engine

import (
	"math"
	"testing"

	"nexusquant/engine/gguf"
)

// TestMulUnitsMatchTile checks mul, with its units of several tiles, the
// prefetch of the next tile and the pooled rounded activations, against
// one mulTile over the whole dequantized matrix with the activations
// rounded by hand, bit for bit: tiling must not change any output. Shapes
// with rows not a multiple of the tile or of 4, for every kernel set,
// thread count, and with and without rounding; each product runs twice
// (the second time on pooled buffers), with a larger one in between, and
// the caller's jobs must keep their activations.
func TestMulUnitsMatchTile(t *testing.T) {
	defer SetThreads(0)
	for _, typ := range []gguf.Type{gguf.F16, gguf.Q8_0, gguf.Q4_K} {
		for _, sh := range []struct{ n, rows, cols int }{{5, 203, 512}, {2, 130, 256}, {9, 64, 1536}} {
			var m *matrix
			if typ == gguf.Q4_K {
				m = randKQuant(typ, sh.rows, sh.cols, uint64(sh.rows))
			} else {
				m = quantMatrix(t, typ, randVec(sh.rows*sh.cols, uint64(sh.rows)), sh.rows, sh.cols)
			}
			x := randVec(sh.n*sh.cols, 7)
			big := randVec(4*sh.n*sh.cols, 8)
			for _, ks := range kernelSets() {
				deq := make([]float32, sh.rows*sh.cols)
				if err := m.dequant(&ks, 0, sh.rows, deq); err != nil {
					t.Fatal(err)
				}
				for _, round := range []bool{false, true} {
					xr := x
					if round {
						xr = make([]float32, len(x))
						for i := 0; i < sh.n; i++ {
							roundActs(&ks, actKindOf(typ), x[i*sh.cols:(i+1)*sh.cols], xr[i*sh.cols:(i+1)*sh.cols])
						}
					}
					want := make([]float32, sh.n*sh.rows)
					mulTile(&ks, sh.n, xr, sh.cols, sh.cols, deq, sh.cols, sh.rows, want, sh.rows)
					for _, threads := range []int{1, 3} {
						SetThreads(threads)
						for rep := 0; rep < 2; rep++ {
							out := make([]float32, sh.n*sh.rows)
							jobs := []mulJob{{m, x, out}}
							if err := mul(&ks, sh.n, round, jobs...); err != nil {
								t.Fatal(err)
							}
							if &jobs[0].x[0] != &x[0] {
								t.Fatalf("%s %s %+v: mul replaced the caller's activations", ks.name, typ, sh)
							}
							for i := range want {
								if math.Float32bits(out[i]) != math.Float32bits(want[i]) {
									t.Fatalf("%s %s %+v round=%v threads=%d rep %d: out[%d] = %g, one tile %g",
										ks.name, typ, sh, round, threads, rep, i, out[i], want[i])
								}
							}
							// A larger product in between puts other buffers in the pool.
							junk := make([]float32, 4*sh.n*sh.rows)
							if err := mul(&ks, 4*sh.n, round, mulJob{m, big, junk}); err != nil {
								t.Fatal(err)
							}
						}
					}
				}
			}
		}
	}
}
