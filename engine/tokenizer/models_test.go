package tokenizer

import (
	"slices"
	"testing"
)

// Tokenizations llama.cpp (commit c392e509) produced for the shared models,
// from reference/synthetic.md (c), stories260K.md and tiny-llama-hd64.md.
func TestModelReferences(t *testing.T) {
	cases := []struct {
		model string
		text  string
		bos   bool
		want  []int32
	}{
		{"models/syn-qwen2.f16.gguf", "Hello world! It's 2024-05-17, and the price is $1,234.56 (approx.).", true,
			[]int32{15496, 995, 0, 632, 338, 48609, 12, 2713, 12, 1558, 11, 290, 262, 2756, 318, 720, 16, 11, 24409, 13, 3980, 357, 1324, 13907, 15729}},
		{"models/syn-qwen2.f16.gguf", "Two  spaces,   three spaces;\ttab and a newline:\nnext line.", true,
			[]int32{7571, 220, 9029, 11, 220, 220, 1115, 9029, 26, 197, 8658, 290, 257, 649, 1370, 25, 198, 19545, 1627, 13}},
		{"models/syn-qwen2.f16.gguf", "Café, naïve, résumé — déjà vu! Ünïcödé façade.", true,
			[]int32{34, 1878, 2634, 11, 41492, 11, 40560, 16345, 2634, 851, 39073, 73, 24247, 410, 84, 0, 49363, 77, 26884, 66, 9101, 67, 2634, 24685, 16175, 671, 13}},
		{"models/stories260K.gguf", "Once upon a time", true, []int32{1, 403, 407, 261, 378}},
		{"models/stories260K.gguf", "Lily and Ben are friends. They like to play in the park.", true,
			[]int32{1, 317, 269, 368, 302, 261, 276, 374, 419, 426, 342, 397, 354, 267, 337, 322, 265, 282, 295, 433, 426}},
		{"models/stories260K.gguf", "Once upon a time", false, []int32{403, 407, 261, 378}},
		{"models/tiny-llama-hd64.f32.gguf", "The city is located in", true, []int32{1, 291, 280, 275, 422, 410, 293, 401, 429, 294, 266, 322}},
		{"models/syn-llama.f16.gguf", "Once upon a time", true, []int32{1, 403, 407, 261, 378}},
	}
	for _, c := range cases {
		t.Run(c.model+"/"+c.text, func(t *testing.T) {
			tok := load(t, c.model)
			got := tok.Encode(c.text, Options{AddSpecial: c.bos})
			if !slices.Equal(got, c.want) {
				t.Errorf("Encode(%q, AddSpecial=%v)\n got %v\nwant %v", c.text, c.bos, got, c.want)
			}
		})
	}
}

// TestModelVocabFacts checks the special ids and BOS rules of the shared models.
func TestModelVocabFacts(t *testing.T) {
	cases := []struct {
		model    string
		kind     string
		size     int
		bos, eos int32
		addBOS   bool
		eog      []int32
	}{
		{"models/stories260K.gguf", "llama", 512, 1, 2, true, []int32{2}},
		{"models/syn-qwen2.f16.gguf", "gpt2", 50257, 50256, 50256, false, []int32{50256}},
		{"vocab/ggml-vocab-phi-3.gguf", "llama", 32064, 1, 32000, true, []int32{32000, 32007, 2}},
		{"vocab/ggml-vocab-deepseek-coder.gguf", "gpt2", 32256, 32013, 32014, true, []int32{32014}},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			tok := load(t, c.model)
			if tok.Model() != c.kind || tok.Size() != c.size || tok.BOS() != c.bos || tok.EOS() != c.eos || tok.AddBOS() != c.addBOS {
				t.Errorf("Model %q Size %d BOS %d EOS %d AddBOS %v; want %q %d %d %d %v",
					tok.Model(), tok.Size(), tok.BOS(), tok.EOS(), tok.AddBOS(), c.kind, c.size, c.bos, c.eos, c.addBOS)
			}
			for _, id := range c.eog {
				if !tok.IsEOG(id) {
					t.Errorf("IsEOG(%d) = false", id)
				}
			}
			if c.bos != c.eos && tok.IsEOG(c.bos) {
				t.Errorf("IsEOG(BOS %d) = true", c.bos)
			}
		})
	}
}
