package engine

import (
	"context"
	"fmt"
	"math"
)

// PerplexityResult is a corpus perplexity as llama-perplexity reports it.
type PerplexityResult struct {
	PPL, PPLErr    float64
	Chunks, Tokens int       // chunks evaluated, tokens scored
	Running        []float64 // PPL after each chunk
}

// Perplexity follows llama-perplexity: ids (the whole text, tokenized once
// with BOS when the vocabulary adds it) is cut into non-overlapping chunks of
// nctx tokens; the first token of each chunk is replaced by BOS when the
// vocabulary adds BOS; positions nctx/2 … nctx−2 of each chunk are scored
// (predicting tokens nctx/2+1 … nctx−1). At most chunks chunks are used
// (chunks ≤ 0: all). PPL = exp(mean NLL); PPLErr is llama.cpp's estimate,
// PPL·sqrt(var(NLL)/(N−1)). newCache makes each chunk's cache (nil: a
// FloatCache); progress, when set, is called after each chunk.
func (m *Model) Perplexity(ctx context.Context, ids []int32, nctx, chunks int, newCache func() Cache, progress func(done, total int)) (*PerplexityResult, error) {
	if nctx < 4 || nctx > m.Config.Ctx {
		return nil, fmt.Errorf("engine: perplexity: chunk of %d tokens must be between 4 and the context of %d", nctx, m.Config.Ctx)
	}
	if len(ids) < 2*nctx {
		return nil, fmt.Errorf("engine: perplexity: the text has %d tokens, a context of %d needs at least %d", len(ids), nctx, 2*nctx)
	}
	total := len(ids) / nctx
	if chunks > 0 {
		total = min(total, chunks)
	}
	if newCache == nil {
		newCache = func() Cache { return m.NewCache() }
	}
	addBOS := m.Tok != nil && m.Tok.AddBOS()
	run := m.ForContext(nctx) // LongRoPE factors as llama.cpp picks them for -c nctx
	first := nctx / 2
	vocab := m.Config.Vocab
	res := &PerplexityResult{Chunks: total}
	var nll, nll2 float64
	toks := make([]int32, nctx)
	for ch := 0; ch < total; ch++ {
		copy(toks, ids[ch*nctx:(ch+1)*nctx])
		if addBOS {
			toks[0] = m.Tok.BOS()
		}
		logits, _, err := run.Forward(ctx, newCache(), toks, 0, ForwardOptions{Logits: LogitsAll, LogitsFrom: first})
		if err != nil {
			return nil, fmt.Errorf("engine: perplexity: chunk %d: %w", ch+1, err)
		}
		for j := first; j < nctx-1; j++ {
			v := nllOf(logits[(j-first)*vocab:(j-first+1)*vocab], toks[j+1])
			nll += v
			nll2 += v * v
			res.Tokens++
		}
		res.Running = append(res.Running, math.Exp(nll/float64(res.Tokens)))
		if progress != nil {
			progress(ch+1, total)
		}
	}
	n := float64(res.Tokens)
	mean := nll / n
	res.PPL = math.Exp(mean)
	if v := nll2/n - mean*mean; v > 0 && res.Tokens > 1 {
		res.PPLErr = math.Sqrt(v/(n-1)) * res.PPL
	}
	return res, nil
}

// nllOf is −log softmax(logits)[tok], computed as llama-perplexity does: the
// maximum and differences in float32, the sum of exponentials in float64.
func nllOf(logits []float32, tok int32) float64 {
	mx := logits[0]
	for _, v := range logits[1:] {
		mx = max(mx, v)
	}
	var sum float64
	for _, v := range logits {
		sum += float64(float32(math.Exp(float64(v - mx))))
	}
	return -(float64(logits[tok]-mx) - math.Log(sum))
}
