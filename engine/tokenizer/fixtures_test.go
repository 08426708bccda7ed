package tokenizer

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// The llama.cpp vocabulary test files: 46 strings each, tokenized without
// BOS/EOS and without special-token parsing.
var vocabFixtures = []struct {
	name  string
	model string
}{
	{"llama-spm", "llama"},
	{"phi-3", "llama"},
	{"gpt-2", "gpt2"},
	{"deepseek-coder", "gpt2"},
}

func TestVocabFixtures(t *testing.T) {
	total, passed := 0, 0
	for _, v := range vocabFixtures {
		t.Run(v.name, func(t *testing.T) {
			rel := "vocab/ggml-vocab-" + v.name + ".gguf"
			tok := load(t, rel)
			if tok.Model() != v.model {
				t.Fatalf("Model() = %q, want %q", tok.Model(), v.model)
			}
			cases := readFixture(t, rel)
			if len(cases) != 46 {
				t.Errorf("%d cases, want 46", len(cases))
			}
			for i, c := range cases {
				total++
				got := tok.Encode(c.text, Options{})
				if !slices.Equal(got, c.want) {
					t.Errorf("case %d %q:\n got %v\nwant %v", i, c.text, got, c.want)
					continue
				}
				passed++
			}
		})
	}
	t.Logf("%d/%d vocabulary cases pass", passed, total)
}

// TestVocabRoundTrip decodes the fixture encodings: byte-level BPE gives the
// text back exactly, SentencePiece with the added leading space.
func TestVocabRoundTrip(t *testing.T) {
	for _, v := range vocabFixtures {
		t.Run(v.name, func(t *testing.T) {
			rel := "vocab/ggml-vocab-" + v.name + ".gguf"
			tok := load(t, rel)
			for i, c := range readFixture(t, rel) {
				want := c.text
				if tok.Model() == "llama" && c.text != "" {
					want = " " + c.text
				}
				if got := tok.Decode(tok.Encode(c.text, Options{})); got != want {
					t.Errorf("case %d: Decode(Encode(%q)) = %q, want %q", i, c.text, got, want)
				}
				// The expected ids decode to the same text.
				if got := tok.Decode(c.want); got != want {
					t.Errorf("case %d: Decode(%v) = %q, want %q", i, c.want, got, want)
				}
			}
		})
	}
}

// TestPieceConcatenation checks that streaming Piece by Piece yields Decode.
func TestPieceConcatenation(t *testing.T) {
	for _, v := range vocabFixtures {
		t.Run(v.name, func(t *testing.T) {
			rel := "vocab/ggml-vocab-" + v.name + ".gguf"
			tok := load(t, rel)
			for i, c := range readFixture(t, rel) {
				ids := tok.Encode(c.text, Options{AddSpecial: true})
				var b strings.Builder
				for _, id := range ids {
					b.Write(tok.Piece(id))
				}
				if got, want := b.String(), tok.Decode(ids); got != want {
					t.Errorf("case %d: pieces %q, Decode %q", i, got, want)
				}
				if !utf8.ValidString(c.text) {
					t.Errorf("case %d: fixture text is not UTF-8", i)
				}
			}
		})
	}
}
