package eval

import (
	"context"
	"fmt"

	"nexusquant/engine"
	"nexusquant/engine/tokenizer"
)

// Input is what an exploration runs on: the text or prompt (Source: Kind
// "file" cuts Text into windows of Prefix+Continuation tokens; Kind "prompt"
// makes Text the prefix and generates the continuation, Prefix ignored) and
// the observer window of the attention statistics captured during prefill.
type Input struct {
	Source
	ObsWindow int
}

// Prepare tokenizes the input, cuts it into windows and builds the Explorer:
// every window's prefix is prefilled once and its baseline continuation
// computed. It is the setup that both the eval command and the explorer UI
// use. onProgress may be nil.
func Prepare(ctx context.Context, m *engine.Model, in Input, onProgress func(Progress)) (*Explorer, *Source, error) {
	if m.Tok == nil {
		return nil, nil, fmt.Errorf("%s has no tokenizer in its metadata", m.Path)
	}
	src := in.Source
	var ex *Explorer
	var err error
	switch in.Kind {
	case "file":
		name := in.Path
		if name == "" {
			name = "the text"
		}
		ids := m.Tok.Encode(in.Text, tokenizer.Options{AddSpecial: true})
		bos := int32(-1)
		if m.Tok.AddBOS() {
			bos = m.Tok.BOS()
		}
		wins, werr := Windows(ids, bos, in.Prefix, in.Continuation, in.Windows)
		if werr != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, werr)
		}
		ex, err = NewExplorer(ctx, m, wins, in.Prefix, in.ObsWindow, onProgress)
	case "prompt":
		if in.Text == "" {
			return nil, nil, fmt.Errorf("the prompt is empty")
		}
		ids := m.Tok.Encode(in.Text, tokenizer.Options{AddSpecial: true})
		ex, err = NewPromptExplorer(ctx, m, ids, in.Continuation, in.ObsWindow, onProgress)
	default:
		return nil, nil, fmt.Errorf("input kind %q: want file or prompt", in.Kind)
	}
	if err != nil {
		return nil, nil, err
	}
	src.Prefix, src.Continuation, src.Windows = ex.Prefix, ex.Continuation, len(ex.Windows)
	return ex, &src, nil
}
