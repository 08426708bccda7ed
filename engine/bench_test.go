package engine

import (
	"context"
	"math/rand/v2"
	"nexusquant/internal/cputime"
	"testing"
	"time"
	"unsafe"
)

// Benchmarks on the shared models, comparable with llama-bench -t 2 (pp128 and
// tg). Run, for example:
//
//	NEXUSQUANT_TESTDATA=/work/shared go test ./engine -run '^$' -bench 'Prefill|Decode' -benchtime 20x
var benchModels = []string{"stories260K.gguf", "syn-llama.f16.gguf", "syn-llama.Q8_0.gguf", "syn-llama.Q4_K_M.gguf"}

// benchIDs returns n token ids of m's vocabulary, starting with BOS.
func benchIDs(m *Model, n int) []int32 {
	r := rand.New(rand.NewPCG(1, 2))
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(r.IntN(m.Config.Vocab))
	}
	ids[0] = 1
	return ids
}

// BenchmarkPrefill runs 128 tokens through an empty cache: tok/s.
func BenchmarkPrefill(b *testing.B) {
	for _, name := range benchModels {
		b.Run(name, func(b *testing.B) {
			m := loadModel(b, name)
			ids := benchIDs(m, 128)
			ctx := context.Background()
			b.ResetTimer()
			cpu0 := cputime.Process()
			for i := 0; i < b.N; i++ {
				if _, _, err := m.Forward(ctx, m.NewCache(), ids, 0, ForwardOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			reportSpeed(b, b.N*len(ids), cputime.Process()-cpu0)
		})
	}
}

// BenchmarkDecode generates single tokens at positions 1…64 (then starts a
// new cache), as llama-bench's tg runs do: tok/s.
func BenchmarkDecode(b *testing.B) {
	for _, name := range benchModels {
		b.Run(name, func(b *testing.B) {
			m := loadModel(b, name)
			ids := benchIDs(m, 65)
			ctx := context.Background()
			var c *FloatCache
			pos := 0
			b.ResetTimer()
			cpu0 := cputime.Process()
			for i := 0; i < b.N; i++ {
				if pos == 0 || pos == len(ids) {
					b.StopTimer()
					c = m.NewCache()
					if _, _, err := m.Forward(ctx, c, ids[:1], 0, ForwardOptions{}); err != nil {
						b.Fatal(err)
					}
					pos = 1
					b.StartTimer()
				}
				if _, _, err := m.Forward(ctx, c, ids[pos:pos+1], pos, ForwardOptions{}); err != nil {
					b.Fatal(err)
				}
				pos++
			}
			reportSpeed(b, b.N, cputime.Process()-cpu0)
		})
	}
}

// reportSpeed reports tokens per second of wall time, the thread count, and
// tokens per CPU-second over the threads ("tok/cpu-s×thr"): on a machine
// shared with other work the wall-clock rate understates what the code does
// with the cores it gets, and the CPU-time rate is the better guide.
func reportSpeed(b *testing.B, tokens int, cpu time.Duration) {
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tok/s")
	b.ReportMetric(float64(Threads()), "threads")
	if cpu > 0 {
		b.ReportMetric(float64(tokens)*float64(Threads())/cpu.Seconds(), "tok/cpu-s×thr")
	}
}

// BenchmarkKernel compares the 4×2 tile kernel in assembly with its Go twin
// on a 512-long dot: GFLOP/s.
func BenchmarkKernel(b *testing.B) {
	const k = 512
	w := randVec(4*k, 1)
	x := randVec(2*k, 2)
	out := make([]float32, 2*4)
	for _, ks := range kernelSets() {
		b.Run(ks.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ks.gemm4x2(k, w, k, x, k, out, 4)
			}
			b.ReportMetric(float64(b.N)*2*8*k/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkStreamBandwidth puts the decode kernels (F16, and the integer
// Q8_0, Q4_K and Q6_K products of the CPU's kernel set) beside a plain read
// of the same bytes, all over a 96 MB buffer (larger than the caches) split
// across the workers: GB/s of weights. Their ratio to the read says how
// close decode runs to the machine's memory bandwidth.
func BenchmarkStreamBandwidth(b *testing.B) {
	const size, k = 96 << 20, 512
	w := make([]byte, size)
	for i := range w {
		w[i] = byte(i*7) & 0x3b // finite float16 values
	}
	x := randVec(k, 3)
	out := make([]float32, size/(2*k))
	threads := Threads()
	split := func(fn func(lo, hi int)) { // rows [lo, hi) per worker
		rows := len(out)
		parallel(threads, threads, func(_, u int) { fn(u*rows/threads, (u+1)*rows/threads) })
	}
	sums := make([]uint64, threads)
	cases := []struct {
		name string
		run  func()
	}{
		{"read", func() {
			words := unsafe.Slice((*uint64)(unsafe.Pointer(&w[0])), size/8)
			split(func(lo, hi int) {
				var s uint64
				p := words[lo*2*k/8 : hi*2*k/8]
				for i := 0; i+8 <= len(p); i += 8 {
					s += p[i] ^ p[i+1] ^ p[i+2] ^ p[i+3] ^ p[i+4] ^ p[i+5] ^ p[i+6] ^ p[i+7]
				}
				sums[lo*threads/len(out)] = s
			})
		}},
		{"gemvF16", func() {
			split(func(lo, hi int) { cpuKernels.gemvF16Decode(k, w[lo*2*k:], 2*k, hi-lo, x, out[lo:hi]) })
		}},
	}
	// The integer decode kernels over the same bytes read as Q8_0, Q4_K and
	// Q6_K rows of k values (block scales set to a normal float16).
	a8, a8k := quantQ80(x), quantQ8K(x)
	for _, q := range []struct {
		name       string
		block, rb  int // bytes per block, per row
		scaleBytes []int
		run        func(ks *kernelSet, w []byte, rows int, out []float32)
	}{
		{"q80Q80", 34, k / 32 * 34, []int{0}, func(ks *kernelSet, w []byte, rows int, out []float32) {
			ks.q80Q80Decode(k, w, k/32*34, rows, a8, out)
		}},
		{"q4kQ8K", 144, k / 256 * 144, []int{0, 2}, func(ks *kernelSet, w []byte, rows int, out []float32) {
			ks.q4kQ8KDecode(k, w, k/256*144, rows, a8k, out)
		}},
		{"q6kQ8K", 210, k / 256 * 210, []int{208}, func(ks *kernelSet, w []byte, rows int, out []float32) {
			if ks.q6kQ8KDecode == nil {
				ks.q6kGemvRows(k, w, k/256*210, rows, x, out)
				return
			}
			ks.q6kQ8KDecode(k, w, k/256*210, rows, a8k, out)
		}},
	} {
		wq := make([]byte, size)
		copy(wq, w)
		for b := 0; b+q.block <= size; b += q.block {
			for _, o := range q.scaleBytes {
				wq[b+o], wq[b+o+1] = 0x00, 0x1c // 2^-8
			}
		}
		rows := size / q.rb
		outQ := make([]float32, rows)
		cases = append(cases, struct {
			name string
			run  func()
		}{q.name, func() {
			split := func(fn func(lo, hi int)) {
				parallel(threads, threads, func(_, u int) { fn(u*rows/threads, (u+1)*rows/threads) })
			}
			split(func(lo, hi int) { q.run(cpuKernels, wq[lo*q.rb:], hi-lo, outQ[lo:hi]) })
		}})
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				tc.run()
			}
			b.ReportMetric(float64(b.N)*size/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
