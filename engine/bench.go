package engine

import (
	"context"
	"fmt"
	"time"
)

// BenchResult is one Bench measurement, comparable with llama-bench's pp and
// tg rows.
type BenchResult struct {
	Threads          int
	Kernels          string // "avx2" or "go"
	PrefillTokens    int
	PrefillTokPerSec float64
	DecodeTokens     int
	DecodeTokPerSec  float64
}

// Bench times a prefill of prefill tokens into an empty cache, then decode
// single-token steps after it, with Threads goroutines. Token ids are a fixed
// pseudo-random sequence (the speed does not depend on them). A short prefill
// runs first to warm the caches.
func (m *Model) Bench(ctx context.Context, prefill, decode int) (*BenchResult, error) {
	if prefill < 1 || prefill+decode > m.Config.Ctx {
		return nil, fmt.Errorf("engine: bench: %d prefill + %d decode tokens must fit the context of %d (prefill ≥ 1)", prefill, decode, m.Config.Ctx)
	}
	ids := make([]int32, prefill+decode)
	x := uint32(12345)
	for i := range ids {
		x = x*1664525 + 1013904223
		ids[i] = int32(x>>8) % int32(m.Config.Vocab)
	}
	if _, _, err := m.Forward(ctx, m.NewCache(), ids[:min(prefill, 8)], 0, ForwardOptions{}); err != nil {
		return nil, err
	}
	res := &BenchResult{Threads: Threads(), Kernels: Kernels(), PrefillTokens: prefill, DecodeTokens: decode}
	c := m.NewCache()
	t0 := time.Now()
	if _, _, err := m.Forward(ctx, c, ids[:prefill], 0, ForwardOptions{}); err != nil {
		return nil, err
	}
	res.PrefillTokPerSec = float64(prefill) / time.Since(t0).Seconds()
	t0 = time.Now()
	for i := prefill; i < prefill+decode; i++ {
		if _, _, err := m.Forward(ctx, c, ids[i:i+1], i, ForwardOptions{}); err != nil {
			return nil, err
		}
	}
	if decode > 0 {
		res.DecodeTokPerSec = float64(decode) / time.Since(t0).Seconds()
	}
	return res, nil
}
