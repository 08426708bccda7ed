// Package demo embeds the explorer's demo: two small, really trained models
// and a text for each, so that the program runs without a model download and
// tests that need only a real model run without the shared test data.
//
//   - "tiny-llama" (the default): tiny-llama-hd64.Q8_0.gguf, 3.41M
//     parameters, head_dim 64 with GQA 4/2 (the realistic geometry for
//     compression quality), with entries of Ambrose Bierce's The Devil's
//     Dictionary (public domain).
//   - "stories": Karpathy's stories260K.gguf (MIT), head_dim 8, with
//     TinyStories text (CDLA-Sharing-1.0).
//
// The model files are byte-identical copies of ../shared/models files
// (checked by sha256 in the tests); README.md beside them says where each
// file comes from and its license. Each text holds well over one window of a
// 256-token prefix and a 128-token continuation with its model's tokenizer.
package demo

import (
	_ "embed"
	"fmt"
	"strings"

	"nexusquant/engine"
)

// Default is the name of the demo that Get("") returns.
const Default = "tiny-llama"

var (
	//go:embed tiny-llama-hd64.Q8_0.gguf
	tinyLlamaModel []byte
	//go:embed devils-dictionary.txt
	devilsText string
	//go:embed stories260K.gguf
	storiesModel []byte
	//go:embed tinystories.txt
	storiesText string
)

// The sha256 of each embedded model, as in ../shared/models/SHA256SUMS.
const (
	tinyLlamaSHA256 = "76c299ed082895d767adf836b33cf621e9e01e706766882f1b12ae75cfa2f88b"
	storiesSHA256   = "5a9d168bd9d9e29302e0d604e9a4c97184057ad87661cd7e7cc4318fdeba6d9c"
)

// Demo is one embedded model and its text.
type Demo struct {
	Name     string // "tiny-llama" (default) or "stories"
	File     string // the model's file name, e.g. "tiny-llama-hd64.Q8_0.gguf"
	Text     string // the demo text
	TextName string // e.g. "devils-dictionary.txt"

	model  []byte // the embedded GGUF image
	sha256 string // its sha256, hex
}

// demos lists the demos, the default first.
var demos = []Demo{
	{Name: Default, File: "tiny-llama-hd64.Q8_0.gguf", Text: devilsText, TextName: "devils-dictionary.txt", model: tinyLlamaModel, sha256: tinyLlamaSHA256},
	{Name: "stories", File: "stories260K.gguf", Text: storiesText, TextName: "tinystories.txt", model: storiesModel, sha256: storiesSHA256},
}

// Names returns the names of the available demos, the default first.
func Names() []string {
	out := make([]string, len(demos))
	for i := range demos {
		out[i] = demos[i].Name
	}
	return out
}

// Get returns the demo called name; "" means the default. An unknown name is
// an error listing the available ones.
func Get(name string) (*Demo, error) {
	if name == "" {
		name = Default
	}
	for i := range demos {
		if demos[i].Name == name {
			d := demos[i] // a copy: callers cannot change the list
			return &d, nil
		}
	}
	return nil, fmt.Errorf("demo: no demo named %q (available: %s)", name, strings.Join(Names(), ", "))
}

// Load loads the demo's model from the embedded bytes, without writing or
// reading any file; its Path is the model's file name (d.File), so headers
// and cache files show it. The caller must Close the model.
func (d *Demo) Load() (*engine.Model, error) {
	return engine.LoadBytes(d.File, d.model)
}

// ModelBytes returns the embedded GGUF image of the demo's model (d.File's
// bytes, e.g. to write the model to a file). The slice is shared, not a
// copy: the caller must not modify it.
func (d *Demo) ModelBytes() []byte { return d.model }
