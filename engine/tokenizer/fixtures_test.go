package tokenizer

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// The llama.cpp vocabulary test files, tokenized without BOS/EOS and without
// special-token parsing: 46 strings each, except qwen35's, which adds four
// with decomposed accents (é as e U+0301, ...) for its [\p{L}\p{M}]+ words.
// model is tokenizer.ggml.model; the tokenizer.ggml.pre of the gpt2 ones is
// the fixture name. noByte lists, for byte-level BPE, the bytes that have no
// byte-level token (see TestVocabByteTokens).
var vocabFixtures = []struct {
	name   string
	model  string
	cases  int
	noByte string
}{
	{"llama-spm", "llama", 46, ""},
	{"phi-3", "llama", 46, ""},
	{"gpt-2", "gpt2", 46, ""},
	{"deepseek-coder", "gpt2", 46, ""},
	{"llama-bpe", "gpt2", 46, ""},
	{"qwen2", "gpt2", 46, ""},
	{"qwen35", "gpt2", 50, ""},
	{"falcon", "gpt2", 46, "\x03\x04\x05\x0b\x11\x13\x14\x15\x16\x17\x19\x1c\x1d\x1e\xf2" + notUTF8},
	{"deepseek-llm", "gpt2", 46, ""},
	{"starcoder", "gpt2", 46, "\xf1" + notUTF8},
	{"refact", "gpt2", 46, "\xf1" + notUTF8},
	{"mpt", "gpt2", 46, notUTF8},
}

// notUTF8 holds the bytes that never occur in UTF-8.
const notUTF8 = "\xc0\xc1\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc\xfd\xfe\xff"

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
			if len(cases) != v.cases {
				t.Errorf("%d cases, want %d", len(cases), v.cases)
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

// TestVocabByteTokens pins down the bytes a byte-level vocabulary has no
// token for (Falcon lacks some C0 controls and 0xF2, StarCoder and Refact
// 0xF1, the lead byte of planes 4-7). llama.cpp drops such a byte when
// encoding: a symbol that is not a token falls back to the tokens of its
// single bytes, and the two bytes of the byte-level character have none. No
// token contains the character either, so the byte can never come back from
// Decode: Decode(Encode(s)) is s without these bytes (FuzzEncode checks it).
func TestVocabByteTokens(t *testing.T) {
	for _, v := range vocabFixtures {
		if v.model != "gpt2" {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			tok := load(t, "vocab/ggml-vocab-"+v.name+".gguf")
			got, want := []byte(noByteTokens(tok)), []byte(v.noByte)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("bytes without a token: %x, want %x", got, want)
			}
			for _, b := range got {
				for id, text := range tok.tokens {
					if strings.Contains(text, byteString[b]) {
						t.Errorf("byte %#02x has no token, but token %d %q contains it", b, id, text)
					}
				}
			}
		})
	}
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
