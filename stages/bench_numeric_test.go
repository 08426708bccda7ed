package stages

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
)

// Throughput of the numeric stages on a synthetic Mistral-7B-shaped cache
// (32 layers, 8 KV heads, head_dim 128) at T = 1024 and 4096 tokens.
//
// Every benchmark reports cache bytes: b.SetBytes is the float16 size of the K
// and V rows its work covers (2 · layers · 8 · T · 128 · 2 bytes), whether the
// stage reads both (hadamard, quantize) or only keys (score, rope). So for
// every stage, seconds for a whole cache = cache bytes / reported rate, and the
// times of consecutive stages add up: 1/rate(all) = Σ 1/rate(stage).
//
// Memory: a whole 4096-token Mistral cache is 1 GiB in float32, so the
// benchmarks work on a slice of benchLayers layers and count only that slice's
// bytes. Every stage is linear in layers (layers are independent), so the rate
// is the whole-cache rate. Eviction works on scores, not rows, and is timed for
// all 32 layers.
//
// "cores=1" runs one goroutine; "cores=N" runs GOMAXPROCS goroutines: inside
// ComputeScoresWorkers for score, and over KV heads here for the per-row stages
// (the pipeline parallelises those the same way).
//
//	go test ./stages -run '^$' -bench . -benchtime 3x

const (
	benchKVHeads = 8
	benchDim     = 128
	benchLayers  = 2
	mistralLayer = 32
)

var benchTokens = []int{1024, 4096}

// cacheBytes is the float16 size of K and V for layers layers of T tokens.
func cacheBytes(layers, T int) int64 {
	return int64(2 * layers * benchKVHeads * T * benchDim * 2)
}

// benchKVs caches the synthetic caches: built once per T, on first use, so that
// a -bench filter pays only for the sizes it runs.
var benchKVs = map[int]*KV{}

func benchKV(T int) *KV {
	if benchKVs[T] == nil {
		benchKVs[T] = randomKV(rand.New(rand.NewPCG(uint64(T), 99)), benchLayers, benchKVHeads, benchDim, T, 1)
	}
	return benchKVs[T]
}

// coreCounts are the worker counts each parallel benchmark runs with.
func coreCounts() []int {
	if n := runtime.GOMAXPROCS(0); n > 1 {
		return []int{1, n}
	}
	return []int{1}
}

// forGroups runs fn(g) for g = 0…groups−1 on workers goroutines.
func forGroups(workers, groups int, fn func(g int)) {
	if workers == 1 {
		for g := range groups {
			fn(g)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for g := w; g < groups; g += workers {
				fn(g)
			}
		})
	}
	wg.Wait()
}

func BenchmarkScore(b *testing.B) {
	for _, T := range benchTokens {
		for _, scorer := range []string{"keykey", "knorm"} {
			for _, cores := range coreCounts() {
				b.Run(fmt.Sprintf("%s/T=%d/cores=%d", scorer, T, cores), func(b *testing.B) {
					kv := benchKV(T)
					b.SetBytes(cacheBytes(benchLayers, T))
					b.ReportAllocs()
					for b.Loop() {
						if _, err := ComputeScoresWorkers(kv, nil, scorer, "global", 32, 0, cores); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

func BenchmarkEvict(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, T := range benchTokens {
		for _, gran := range []string{"global", "head"} {
			sc := &Scores{Granularity: gran, Layers: mistralLayer, KVHeads: benchKVHeads, T: T}
			sc.S = make([]float32, groupCount(gran, mistralLayer, benchKVHeads)*T)
			for i := range sc.S {
				sc.S[i] = rng.Float32()
			}
			b.Run(fmt.Sprintf("%s/T=%d", gran, T), func(b *testing.B) {
				b.SetBytes(cacheBytes(mistralLayer, T))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Evict(sc, 0.6, 32); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkRoPEUndo(b *testing.B) {
	rope := NormalRoPE(benchDim, 10000)
	for _, T := range benchTokens {
		pos := make([]int32, T)
		for i := range pos {
			pos[i] = int32(i)
		}
		groups := benchLayers * benchKVHeads
		for _, cores := range coreCounts() {
			b.Run(fmt.Sprintf("T=%d/cores=%d", T, cores), func(b *testing.B) {
				keys := slices.Clone(benchKV(T).K)
				b.SetBytes(cacheBytes(benchLayers, T))
				for b.Loop() {
					forGroups(cores, groups, func(g int) {
						UndoRoPE(keys[g*T*benchDim:(g+1)*T*benchDim], benchDim, 0, pos, rope)
					})
				}
			})
		}
	}
}

// benchRows times fn(row, x) over every K and V row x of the synthetic cache
// of T tokens (rows 0…n−1 are keys, n…2n−1 values, n = benchLayers·8·T),
// split by (layer, K/V, head) group over cores goroutines.
func benchRows(b *testing.B, T, cores int, fn func(row int, x []float32)) {
	kv := benchKV(T)
	x := slices.Concat(kv.K, kv.V)
	b.SetBytes(cacheBytes(benchLayers, T))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		forGroups(cores, 2*benchLayers*benchKVHeads, func(g int) {
			for r := g * T; r < (g+1)*T; r++ {
				fn(r, x[r*benchDim:(r+1)*benchDim])
			}
		})
	}
}

func BenchmarkHadamard(b *testing.B) {
	for _, d := range []int{benchDim, 96} { // 96: a padded size (first 96 coordinates of each row)
		h := NewHadamard(d, true, 1)
		for _, T := range benchTokens {
			rows := 2 * benchLayers * benchKVHeads * T
			for _, cores := range coreCounts() {
				name := fmt.Sprintf("d=%d/T=%d/cores=%d", d, T, cores)
				b.Run("forward/"+name, func(b *testing.B) {
					out := make([]float32, rows*h.DPad)
					benchRows(b, T, cores, func(r int, x []float32) {
						h.Forward(out[r*h.DPad:(r+1)*h.DPad], x[:d])
					})
				})
				b.Run("inverse/"+name, func(b *testing.B) {
					in := make([]float32, rows*h.DPad)
					benchRows(b, T, cores, func(r int, x []float32) {
						h.Inverse(x[:d], in[r*h.DPad:(r+1)*h.DPad])
					})
				})
			}
		}
	}
}

func BenchmarkQuantize(b *testing.B) {
	for _, T := range benchTokens {
		rows := 2 * benchLayers * benchKVHeads * T
		for _, lattice := range quantLattices {
			q, _ := NewQuantizer(lattice, 2)
			for _, cores := range coreCounts() {
				name := fmt.Sprintf("%s/b=2/T=%d/cores=%d", lattice, T, cores)
				b.Run("encode/"+name, func(b *testing.B) {
					codes := make([]int16, rows*benchDim)
					benchRows(b, T, cores, func(r int, x []float32) {
						q.Encode(codes[r*benchDim:(r+1)*benchDim], x)
					})
				})
				b.Run("decode/"+name, func(b *testing.B) {
					codes := make([]int16, rows*benchDim)
					benchRows(b, T, cores, func(r int, x []float32) {
						q.Decode(x, codes[r*benchDim:(r+1)*benchDim], 0x3c00)
					})
				})
			}
		}
	}
}
