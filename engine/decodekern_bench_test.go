package engine

import (
	"fmt"
	"testing"
	"time"

	"nexusquant/engine/gguf"
)

// BenchmarkDecodeKernels runs each kernel set's one-row (decode) product —
// the one mul runs: integer where the set has it, else float — over a Q4_K,
// Q8_0 and Q6_K matrix of 512 columns, one worker, at two
// sizes: 1536 rows (in L2, what a small model's layer streams) and 16384
// rows (past L2). It reports each set's best time as GB/s of weights read,
// interleaving the sets so that a noisy machine hits them alike. Run:
//
//	go test ./engine -run '^$' -bench DecodeKernels -benchtime 200x
func BenchmarkDecodeKernels(b *testing.B) {
	const k = 512
	x := randVec(k, 5)
	a8k, a8 := quantQ8K(x), quantQ80(x)
	for _, typ := range []gguf.Type{gguf.Q4_K, gguf.Q8_0, gguf.Q6_K} {
		for _, rows := range []int{1536, 16384} {
			var m *matrix
			if typ == gguf.Q8_0 {
				m = quantMatrix(b, typ, randVec(rows*k, 6), rows, k)
			} else {
				m = randKQuant(typ, rows, k, 6)
			}
			out := make([]float32, rows)
			sets := kernelSets()
			run := func(ks *kernelSet) {
				switch {
				case typ == gguf.Q4_K:
					ks.q4kQ8KDecode(k, m.data, m.rowBytes, rows, a8k, out)
				case typ == gguf.Q8_0:
					ks.q80Q80Decode(k, m.data, m.rowBytes, rows, a8, out)
				case ks.q6kQ8KDecode != nil:
					ks.q6kQ8KDecode(k, m.data, m.rowBytes, rows, a8k, out)
				default:
					ks.q6kGemvRows(k, m.data, m.rowBytes, rows, x, out)
				}
			}
			b.Run(fmt.Sprintf("%s/%d", typ, rows), func(b *testing.B) {
				best := make([]time.Duration, len(sets))
				for i := 0; i < b.N; i++ {
					for s := range sets {
						t0 := time.Now()
						run(&sets[s])
						if d := time.Since(t0); i == 0 || d < best[s] {
							best[s] = d
						}
					}
				}
				for s, ks := range sets {
					b.ReportMetric(float64(len(m.data))/best[s].Seconds()/1e9, ks.name+"-GB/s")
				}
			})
		}
	}
}
