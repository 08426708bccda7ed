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
	Kernels          string // "avx512", "avx2" or "go"
	PrefillTokens    int
	PrefillTokPerSec float64
	DecodeTokens     int
	DecodeTokPerSec  float64
}

// BenchIDs returns the token ids Bench and BenchDecode feed the model: a fixed
// pseudo-random sequence of n ids below vocab (the speed does not depend on
// them). Position i always gets the same id, whatever n is.
func BenchIDs(vocab, n int) []int32 {
	ids := make([]int32, n)
	x := uint32(12345)
	for i := range ids {
		x = x*1664525 + 1013904223
		ids[i] = int32(x>>8) % int32(vocab)
	}
	return ids
}

// Bench times a prefill of prefill tokens into an empty cache, then decode
// single-token steps after it, with Threads goroutines. Token ids are
// BenchIDs. As llama-bench does, an untimed run of the same prefill goes
// first: it brings the weights into the caches and the activation buffers
// into the pools, with their pages mapped, and the cache is reserved before
// it (llama.cpp makes its KV cache with the context).
func (m *Model) Bench(ctx context.Context, prefill, decode int) (*BenchResult, error) {
	if prefill < 1 || prefill+decode > m.Config.Ctx {
		return nil, fmt.Errorf("engine: bench: %d prefill + %d decode tokens must fit the context of %d (prefill ≥ 1)", prefill, decode, m.Config.Ctx)
	}
	ids := BenchIDs(m.Config.Vocab, prefill+decode)
	c := m.NewCache()
	c.Reserve(prefill + decode)
	if _, _, err := m.Forward(ctx, c, ids[:prefill], 0, ForwardOptions{}); err != nil {
		return nil, err
	}
	c.Truncate(0)
	res := &BenchResult{Threads: Threads(), Kernels: m.Kernels(), PrefillTokens: prefill, DecodeTokens: decode}
	t0 := time.Now()
	if _, _, err := m.Forward(ctx, c, ids[:prefill], 0, ForwardOptions{}); err != nil {
		return nil, err
	}
	res.PrefillTokPerSec = float64(prefill) / time.Since(t0).Seconds()
	if decode > 0 {
		var err error
		if res.DecodeTokPerSec, err = m.BenchDecode(ctx, c, prefill, decode); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// BenchDecode times n single-token decode steps over c, which holds positions
// 0…start−1: the tokens BenchIDs gives positions start…start+n−1 are
// appended one forward pass each. It returns tokens per second. c may be any
// Cache (a float cache, or a packed prefix with a float tail), so the same
// steps time decoding from either.
func (m *Model) BenchDecode(ctx context.Context, c Cache, start, n int) (float64, error) {
	if start < 0 || n < 1 || start+n > m.Config.Ctx {
		return 0, fmt.Errorf("engine: bench: decoding %d tokens after %d must fit the context of %d (n ≥ 1)", n, start, m.Config.Ctx)
	}
	ids := BenchIDs(m.Config.Vocab, start+n)
	t0 := time.Now()
	for i := start; i < start+n; i++ {
		if _, _, err := m.Forward(ctx, c, ids[i:i+1], i, ForwardOptions{}); err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}
