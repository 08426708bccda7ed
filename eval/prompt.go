package eval

import (
	"context"
	"fmt"

	"nexusquant/engine"
	"nexusquant/stages"
)

// NewPromptExplorer evaluates a single prompt: the prompt is the prefix and the
// continuation is the baseline model's own greedy text of cont tokens (SPEC
// §8, --continuation self). Generation stops early at an end-of-generation
// token; at least 2 continuation tokens are needed.
func NewPromptExplorer(ctx context.Context, m *engine.Model, prompt []int32, cont, obsWindow int, onProgress func(Progress)) (*Explorer, error) {
	if len(prompt) == 0 {
		return nil, fmt.Errorf("the prompt is empty")
	}
	if len(prompt)+cont > m.Config.Ctx {
		return nil, fmt.Errorf("prompt (%d tokens) + continuation %d exceeds the model's context of %d", len(prompt), cont, m.Config.Ctx)
	}
	gen, err := greedy(ctx, m, m.NewCache(), prompt, 0, nil, cont)
	if err != nil {
		return nil, err
	}
	if len(gen) < 2 {
		return nil, fmt.Errorf("the model ended its greedy continuation after %d token(s); need at least 2 to score", len(gen))
	}
	ids := append(append([]int32{}, prompt...), gen...)
	return NewExplorer(ctx, m, [][]int32{ids}, len(prompt), obsWindow, onProgress)
}

// greedy generates up to n tokens greedily. With first == nil it prefills
// ids[start:] into c; otherwise c already holds ids and first are the logits
// predicting the next token. It stops at an end-of-generation token.
func greedy(ctx context.Context, m *engine.Model, c engine.Cache, ids []int32, start int, first []float32, n int) ([]int32, error) {
	if first == nil {
		var err error
		if first, _, err = m.Forward(ctx, c, ids[start:], start, engine.ForwardOptions{}); err != nil {
			return nil, err
		}
	}
	return m.GenerateFrom(ctx, c, first, len(ids), n, engine.Sampler{}, nil)
}

// TextDiff shows the baseline's and the compressed model's greedy
// continuations of window 0 and where they first differ (−1: nowhere).
type TextDiff struct {
	Base       string  `json:"base"`
	Compressed string  `json:"compressed"`
	BaseIDs    []int32 `json:"base_ids"`
	CompIDs    []int32 `json:"compressed_ids"`
	FirstDiff  int     `json:"first_diff"`
}

// GreedyDiff generates window 0's continuation greedily from the packed cache
// and sets it beside the baseline's. The first token comes from the prefill
// (before compression), as in the scored protocol.
func (e *Explorer) GreedyDiff(ctx context.Context, packed *stages.Compressed) (*TextDiff, error) {
	w := e.Windows[0]
	base := w.IDs[e.Prefix:]
	ov := NewOverlay(Packed(packed))
	comp, err := greedy(ctx, e.Model, ov, w.IDs[:e.Prefix], e.Prefix, w.first, e.Continuation)
	if err != nil {
		return nil, err
	}
	d := &TextDiff{BaseIDs: base, CompIDs: comp, FirstDiff: -1}
	for i := 0; i < max(len(base), len(comp)); i++ {
		if i >= len(base) || i >= len(comp) || base[i] != comp[i] {
			d.FirstDiff = i
			break
		}
	}
	if e.Model.Tok != nil {
		d.Base = e.Model.Tok.Decode(base)
		d.Compressed = e.Model.Tok.Decode(comp)
	}
	return d, nil
}
