package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Sampler picks the next token from a row of logits. Temp == 0 is greedy
// (argmax, lowest id on ties); otherwise the logits are divided by Temp,
// restricted to the TopK best (TopK > 0) and to the smallest set whose
// probability reaches TopP (0 < TopP < 1), and sampled from a generator seeded
// with Seed.
type Sampler struct {
	Temp float32
	TopK int
	TopP float32
	Seed int64
}

// argmax returns the index of the largest value (the first on ties).
func argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}

// pick draws a token from logits.
func (s Sampler) pick(logits []float32, rng *rand.Rand) int32 {
	if s.Temp <= 0 {
		return argmax(logits)
	}
	type cand struct {
		id int32
		p  float64
	}
	cands := make([]cand, len(logits))
	for i, v := range logits {
		cands[i] = cand{int32(i), float64(v) / float64(s.Temp)}
	}
	sort.SliceStable(cands, func(a, b int) bool { return cands[a].p > cands[b].p })
	if s.TopK > 0 && s.TopK < len(cands) {
		cands = cands[:s.TopK]
	}
	top := cands[0].p
	var sum float64
	for i := range cands {
		cands[i].p = math.Exp(cands[i].p - top)
		sum += cands[i].p
	}
	if s.TopP > 0 && s.TopP < 1 {
		var cum float64
		for i := range cands {
			cum += cands[i].p / sum
			if cum >= float64(s.TopP) {
				cands = cands[:i+1]
				break
			}
		}
		sum = 0
		for _, c := range cands {
			sum += c.p
		}
	}
	r := rng.Float64() * sum
	for _, c := range cands {
		if r < c.p {
			return c.id
		}
		r -= c.p
	}
	return cands[len(cands)-1].id
}

// Generate prefills prompt into a fresh cache and produces up to n tokens
// with sampler, stopping early at an end-of-generation token (not included
// in the result), when onToken returns false, or at the end of the context.
// It returns the generated ids.
func (m *Model) Generate(ctx context.Context, prompt []int32, n int, sampler Sampler, onToken func(id int32) bool) ([]int32, error) {
	if len(prompt) == 0 {
		return nil, fmt.Errorf("engine: generate: empty prompt")
	}
	if len(prompt) > m.Config.Ctx {
		return nil, fmt.Errorf("engine: generate: prompt of %d tokens is longer than the context of %d", len(prompt), m.Config.Ctx)
	}
	if n <= 0 {
		return nil, nil
	}
	c := m.NewCache()
	logits, _, err := m.Forward(ctx, c, prompt, 0, ForwardOptions{})
	if err != nil {
		return nil, err
	}
	return m.GenerateFrom(ctx, c, logits, len(prompt), n, sampler, onToken)
}

// GenerateFrom continues generation from a cache that already holds
// positions 0..pos−1: logits are the last logits of that prefix (they pick the
// first new token, at position pos). It produces up to n tokens with sampler
// and stops like Generate. The cache may be any implementation, a packed
// compressed prefix included.
func (m *Model) GenerateFrom(ctx context.Context, c Cache, logits []float32, pos, n int, sampler Sampler, onToken func(id int32) bool) ([]int32, error) {
	if len(logits) < m.Config.Vocab {
		return nil, fmt.Errorf("engine: generate: %d logits, want a row of %d", len(logits), m.Config.Vocab)
	}
	rng := rand.New(rand.NewPCG(uint64(sampler.Seed), 0x6e657875737175))
	var out []int32
	var err error
	for len(out) < n {
		id := sampler.pick(logits, rng)
		if m.Tok != nil && m.Tok.IsEOG(id) {
			break
		}
		out = append(out, id)
		if onToken != nil && !onToken(id) {
			break
		}
		if len(out) == n || pos >= m.Config.Ctx {
			break
		}
		if logits, _, err = m.Forward(ctx, c, []int32{id}, pos, ForwardOptions{}); err != nil {
			return out, err
		}
		pos++
	}
	return out, nil
}
