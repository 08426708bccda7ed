package stages

import (
	"context"
	"encoding/json"
	"fmt"
	"nexusquant/internal/cputime"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Throughput of the whole pipeline, of the entropy stage and of block
// decoding on a synthetic Mistral-7B-shaped cache (32 layers, 8 KV heads,
// head_dim 128, random N(0,1) keys and N(0,0.5²) values) at T = 1024 tokens.
//
// b.SetBytes is the float16 size of the prefix cache (baseline_bytes =
// 2·T·32·2·8·128 = 128 MiB at T=1024), so MB/s is "MB of float16 KV cache
// per second". Each benchmark also reports "bytes": what it produced (the
// stored file for the pipeline, the row frames for the entropy stage).
//
// T = 4096 holds 1 GiB of float32 input plus about 1 GiB of stage outputs;
// set NEXUSQUANT_BENCH_T4096=1 to add it.
//
// "cores=1" sets GOMAXPROCS to 1 for the sub-benchmark; "cores=N" runs on
// GOMAXPROCS goroutines. The zstd encoders are created at full concurrency
// before any 1-core run, since an encoder keeps the concurrency it was
// created with.
//
//	go test ./stages -run '^$' -bench 'Pipeline|Entropy|ZstdEncodeAll|ReadBlocks' -benchtime 1x

const (
	nqBenchLayers  = 32
	nqBenchKVHeads = 8
	nqBenchDim     = 128
)

var (
	nqBenchMu    sync.Mutex
	nqBenchCache = map[int]*KV{}
)

// nqBenchKV returns the (shared, read-only) Mistral-shaped cache of T tokens.
func nqBenchKV(T int) *KV {
	nqBenchMu.Lock()
	defer nqBenchMu.Unlock()
	if kv := nqBenchCache[T]; kv != nil {
		return kv
	}
	kv := nqKV(int64(T), nqBenchLayers, nqBenchKVHeads, nqBenchDim, T)
	nqBenchCache[T] = kv
	return kv
}

func nqBenchTokens() []int {
	if os.Getenv("NEXUSQUANT_BENCH_T4096") != "" {
		return []int{1024, 4096}
	}
	return []int{1024}
}

func nqBenchCores() []int {
	if n := runtime.GOMAXPROCS(0); n > 1 {
		return []int{1, n}
	}
	return []int{1}
}

// nqWithCores runs fn with GOMAXPROCS set to cores.
func nqWithCores(cores int, fn func()) {
	old := runtime.GOMAXPROCS(cores)
	defer runtime.GOMAXPROCS(old)
	fn()
}

func nqWarmEncoders(b *testing.B) {
	for _, lv := range settingZstdLevels {
		if _, err := zstdEncoder(lv); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := zstdEncoder(posLevel); err != nil {
		b.Fatal(err)
	}
}

func nqBaseline(kv *KV) int64 {
	return int64(2 * kv.T * kv.Layers * 2 * kv.KVHeads * kv.HeadDim)
}

// BenchmarkPipeline runs the whole pipeline from scratch (a new Pipeline per
// iteration) with the default settings at each zstd level.
func BenchmarkPipeline(b *testing.B) {
	nqWarmEncoders(b)
	for _, T := range nqBenchTokens() {
		kv := nqBenchKV(T)
		rope := NormalRoPE(nqBenchDim, 1e6)
		for _, lv := range settingZstdLevels {
			for _, cores := range nqBenchCores() {
				b.Run(fmt.Sprintf("T=%d/level=%s/cores=%d", T, lv, cores), func(b *testing.B) {
					s := DefaultSettings()
					s.ZstdLevel = lv
					nqWithCores(cores, func() {
						b.SetBytes(nqBaseline(kv))
						var res *Result
						for b.Loop() {
							var err error
							if res, err = NewPipeline(kv, nil, rope, "bench").Run(context.Background(), s); err != nil {
								b.Fatal(err)
							}
						}
						b.ReportMetric(float64(res.Compressed.Stored().Total()), "bytes")
						b.ReportMetric(res.Report.RatioTotal, "ratio_total")
						b.ReportMetric(res.Report.RatioResident, "ratio_resident")
					})
				})
			}
		}
	}
}

// nqQuantized returns a pipeline that has run the default settings (so its
// quantize-stage output is cached).
func nqQuantized(b *testing.B, T int) (*Pipeline, Settings) {
	kv := nqBenchKV(T)
	p := NewPipeline(kv, nil, NormalRoPE(nqBenchDim, 1e6), "bench")
	s := DefaultSettings()
	s.ZstdLevel = "fastest"
	if _, err := p.Run(context.Background(), s); err != nil {
		b.Fatal(err)
	}
	return p, s
}

// BenchmarkEntropy times the entropy stage's own work — delta coding, one
// zstd frame per block, raw fallback — on the quantize stage's codes, at each
// zstd level. The error and blocking-cost measurements the pipeline adds are
// not included (BenchmarkPipeline has them).
func BenchmarkEntropy(b *testing.B) {
	nqWarmEncoders(b)
	for _, T := range nqBenchTokens() {
		p, s := nqQuantized(b, T)
		for _, lv := range settingZstdLevels {
			for _, cores := range nqBenchCores() {
				b.Run(fmt.Sprintf("T=%d/level=%s/cores=%d", T, lv, cores), func(b *testing.B) {
					s.ZstdLevel = lv
					enc, _ := zstdEncoder(lv)
					nqWithCores(cores, func() {
						p.workers = cores
						encs := make([]*groupEncoder, cores)
						for i := range encs {
							encs[i] = &groupEncoder{block: s.BlockTokens, enc: enc}
						}
						b.SetBytes(nqBaseline(p.kv))
						var gf []groupFrames
						for b.Loop() {
							var err error
							if gf, err = p.encodeFrames(context.Background(), s, p.outs.evict.recent(), p.outs.quant.recent(), encs); err != nil {
								b.Fatal(err)
							}
						}
						var n int
						for _, g := range gf {
							n += len(g.frames)
						}
						b.ReportMetric(float64(n), "bytes")
					})
				})
			}
		}
	}
}

// BenchmarkZstdEncodeAll is the yardstick for BenchmarkEntropy: zstd's own
// EncodeAll on the same bytes (each block already delta-coded), in the same
// parallel structure, appending to a reused buffer.
func BenchmarkZstdEncodeAll(b *testing.B) {
	nqWarmEncoders(b)
	for _, T := range nqBenchTokens() {
		p, s := nqQuantized(b, T)
		qo := p.outs.quant.recent()
		w := codeWidth(nqBenchDim, s)
		var blocks [][][]byte // per group, per block: delta-coded bytes
		for _, codes := range qo.codes {
			var gb [][]byte
			rowBytes := w
			for off := 0; off < len(codes); off += s.BlockTokens * rowBytes {
				src := codes[off:min(len(codes), off+s.BlockTokens*rowBytes)]
				gb = append(gb, deltaRows(nil, src, rowBytes, 1))
			}
			blocks = append(blocks, gb)
		}
		for _, lv := range settingZstdLevels {
			for _, cores := range nqBenchCores() {
				b.Run(fmt.Sprintf("T=%d/level=%s/cores=%d", T, lv, cores), func(b *testing.B) {
					enc, _ := zstdEncoder(lv)
					nqWithCores(cores, func() {
						b.SetBytes(nqBaseline(p.kv))
						outs := make([][]byte, len(blocks))
						var n int64
						for b.Loop() {
							_ = runTasks(context.Background(), cores, len(blocks), func(_, g int) error {
								dst := outs[g][:0]
								for _, blk := range blocks[g] {
									dst = enc.EncodeAll(blk, dst)
								}
								outs[g] = dst
								return nil
							})
						}
						for _, o := range outs {
							n += int64(len(o))
						}
						b.ReportMetric(float64(n), "bytes")
					})
				})
			}
		}
	}
}

// BenchmarkReadBlocks decodes every block of the cache (all layers, heads,
// K and V) through ReadBlock, one Block per goroutine.
func BenchmarkReadBlocks(b *testing.B) {
	nqWarmEncoders(b)
	for _, T := range nqBenchTokens() {
		kv := nqBenchKV(T)
		res, err := NewPipeline(kv, nil, NormalRoPE(nqBenchDim, 1e6), "bench").Run(context.Background(), DefaultSettings())
		if err != nil {
			b.Fatal(err)
		}
		c := res.Compressed
		for _, cores := range nqBenchCores() {
			b.Run(fmt.Sprintf("T=%d/cores=%d", T, cores), func(b *testing.B) {
				nqWithCores(cores, func() {
					blocks := make([]*Block, cores)
					for i := range blocks {
						blocks[i] = c.NewBlock()
					}
					b.SetBytes(nqBaseline(kv))
					b.ReportAllocs()
					for b.Loop() {
						err := runTasks(context.Background(), cores, nqBenchLayers*nqBenchKVHeads, func(wk, i int) error {
							l, h := i/nqBenchKVHeads, i%nqBenchKVHeads
							for j := range c.NumBlocks(l, h) {
								if err := c.ReadBlock(l, h, j, blocks[wk]); err != nil {
									return err
								}
							}
							return nil
						})
						if err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(c.ResidentBytes()), "resident_bytes")
				})
			})
		}
	}
}

// BenchmarkReportK2V2 runs the default settings (K2V2, ρ 0.6, e8, zstd
// best) once per iteration on a random cache of L=4, Hkv=8, d=128, T=1024 and
// reports every stage's bytes, the three ratios and the blocking cost; -v
// logs the report as JSON.
func BenchmarkReportK2V2(b *testing.B) {
	nqWarmEncoders(b)
	kv := nqKV(1, 4, 8, 128, 1024)
	s := DefaultSettings()
	b.SetBytes(nqBaseline(kv))
	var res *Result
	for b.Loop() {
		var err error
		if res, err = NewPipeline(kv, nil, NormalRoPE(128, 1e6), "bench").Run(context.Background(), s); err != nil {
			b.Fatal(err)
		}
	}
	r := res.Report
	for _, st := range r.Stages {
		b.ReportMetric(float64(st.Bytes), st.Name+"_bytes")
	}
	b.ReportMetric(r.RatioPayload, "ratio_payload")
	b.ReportMetric(r.RatioTotal, "ratio_total")
	b.ReportMetric(r.RatioResident, "ratio_resident")
	b.ReportMetric(r.Blocking.CostPct, "blocking_cost_pct")
	js, _ := json.MarshalIndent(r, "", "  ")
	b.Logf("%s", js)
}

// BenchmarkReadRows prices the read-block rule (Compressed.ReadBlockRows):
// one goroutine decodes every read block of the BenchmarkReportK2V2 cache
// (L=4, Hkv=8, d=128, T=1024: 1.4 MB stored, so the rule picks a small R)
// at the R the rule picked and at R = block_tokens, and reports one reader's
// buffers at each.
func BenchmarkReadRows(b *testing.B) {
	nqWarmEncoders(b)
	kv := nqKV(1, 4, 8, 128, 1024)
	res, err := NewPipeline(kv, nil, NormalRoPE(128, 1e6), "bench").Run(context.Background(), DefaultSettings())
	if err != nil {
		b.Fatal(err)
	}
	c := res.Compressed
	picked := c.ReadBlockRows()
	for _, R := range []int{picked, c.Settings().BlockTokens} {
		b.Run(fmt.Sprintf("R=%d", R), func(b *testing.B) {
			nqSetReadRows(c, R)
			defer nqSetReadRows(c, picked)
			blk := &Block{}
			b.SetBytes(nqBaseline(kv))
			b.ReportAllocs()
			for b.Loop() {
				for l := range kv.Layers {
					for h := range kv.KVHeads {
						for j := range c.NumBlocks(l, h) {
							if err := c.ReadBlock(l, h, j, blk); err != nil {
								b.Fatal(err)
							}
						}
					}
				}
			}
			b.ReportMetric(float64(c.readerBytesAt(R)), "reader_bytes")
			b.ReportMetric(float64(c.Stored().Total()), "stored_bytes")
		})
	}
}

// BenchmarkReadBlocksBalanced decodes every read block of a cache shaped as
// `nexusquant bench --method nexusquant --preset balanced --prefill 4032`
// packs on syn-qwen3 (L=4, Hkv=2, d=64, T=4032, random N(0,1) keys and
// N(0,0.5²) values) with the balanced preset's settings, one goroutine: the
// read-path cost of one decode step over that prefix, from the stored
// frames and from the decode form (PrepareDecode). cpu-ns/op is the
// process's CPU time per op, steadier than ns/op on a busy machine.
func BenchmarkReadBlocksBalanced(b *testing.B) {
	kv := nqKV(5, 4, 2, 64, 4032)
	s := DefaultSettings()
	for _, set := range [][2]string{{"eviction_rate", "0.6"}, {"key_bits", "2"}, {"value_bits", "2"},
		{"sliding_window", "32"}, {"obs_window", "32"}, {"scorer", "keykey"}, {"granularity", "global"},
		{"hadamard", "true"}, {"rope_undo", "true"}, {"zstd_level", "best"}, {"lattice", "relaxed"}} {
		if err := s.Set(set[0], set[1]); err != nil {
			b.Fatal(err)
		}
	}
	res, err := NewPipeline(kv, nil, NeoxRoPE(64, 1e6), "bench").Run(context.Background(), s)
	if err != nil {
		b.Fatal(err)
	}
	c := res.Compressed
	for _, form := range []string{"stream", "resident"} {
		b.Run("from="+form, func(b *testing.B) {
			if form == "resident" {
				if err := c.PrepareDecode(); err != nil {
					b.Fatal(err)
				}
			}
			blk := c.NewBlock()
			b.SetBytes(nqBaseline(kv))
			b.ReportAllocs()
			var cpu time.Duration
			for b.Loop() {
				cpu0 := cputime.Process()
				for l := range kv.Layers {
					for h := range kv.KVHeads {
						for j := range c.NumBlocks(l, h) {
							if err := c.ReadBlock(l, h, j, blk); err != nil {
								b.Fatal(err)
							}
						}
					}
				}
				cpu += cputime.Process() - cpu0
			}
			if cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
			b.ReportMetric(float64(c.Stored().Total()), "stored_bytes")
			b.ReportMetric(float64(c.DecodeFormBytes()), "decode_form_bytes")
		})
	}
}
