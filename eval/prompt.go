package eval

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"nexusquant/engine"
	"nexusquant/engine/tokenizer"
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
	if cont < 2 {
		return nil, fmt.Errorf("continuation %d: need at least 2 tokens (the first is predicted before compression)", cont)
	}
	if len(prompt)+cont > m.Config.Ctx {
		return nil, fmt.Errorf("prompt (%d tokens) + continuation %d exceeds the model's context of %d", len(prompt), cont, m.Config.Ctx)
	}
	m = m.ForContext(len(prompt) + cont) // LongRoPE: the factors of a run this long
	gen, err := greedy(ctx, m, m.NewCache(), prompt, 0, nil, cont)
	if err != nil {
		return nil, err
	}
	if len(gen) < 2 {
		return nil, fmt.Errorf("the model ended its greedy continuation after %d token(s); need at least 2 to score", len(gen))
	}
	ids := append(append([]int32{}, prompt...), gen...)
	e, err := NewExplorer(ctx, m, [][]int32{ids}, len(prompt), obsWindow, onProgress)
	if err != nil {
		return nil, err
	}
	e.Windows[0].greedyBase = gen
	return e, nil
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
	// BasePieces and CompPieces are the decoded text of each token (see
	// Pieces), so a UI can mark the first differing token in the text.
	BasePieces []string `json:"-"`
	CompPieces []string `json:"-"`
}

// GreedyDiff generates window 0's continuation greedily from the packed cache
// and sets it beside the baseline's greedy continuation from the
// uncompressed cache (for a prompt, the continuation itself; for a text,
// generated once and kept). The first token comes from the prefill (before
// compression), as in the scored protocol.
func (e *Explorer) GreedyDiff(ctx context.Context, packed *stages.Compressed) (*TextDiff, error) {
	w := e.Windows[0]
	if w.greedyBase == nil {
		base, err := greedy(ctx, e.Model, e.Model.NewCache(), w.IDs[:e.Prefix], 0, nil, e.Continuation)
		if err != nil {
			return nil, err
		}
		w.greedyBase = base
	}
	base := w.greedyBase
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
		d.BasePieces = Pieces(e.Model.Tok, base)
		d.CompPieces = Pieces(e.Model.Tok, comp)
	}
	return d, nil
}

// Pieces decodes each token to its text. A token that ends inside a UTF-8
// sequence (byte-fallback tokens) gives "" and its bytes join the next
// token's piece, so the pieces concatenate to valid text.
func Pieces(tok *tokenizer.Tokenizer, ids []int32) []string {
	out := make([]string, len(ids))
	var pending []byte
	for i, id := range ids {
		pending = append(pending, tok.Piece(id)...)
		if utf8.Valid(pending) || len(pending) > 8 {
			out[i] = strings.ToValidUTF8(string(pending), "\uFFFD")
			pending = pending[:0]
		}
	}
	if len(pending) > 0 && len(out) > 0 {
		out[len(out)-1] += strings.ToValidUTF8(string(pending), "\uFFFD")
	}
	return out
}

// PrefixPieces is Pieces of window 0's prefix.
func (e *Explorer) PrefixPieces() []string {
	if e.Model.Tok == nil {
		return nil
	}
	return Pieces(e.Model.Tok, e.Windows[0].IDs[:e.Prefix])
}
