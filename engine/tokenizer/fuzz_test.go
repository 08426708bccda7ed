package tokenizer

import (
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"nexusquant/internal/testfiles"
)

// fuzzTokenizers returns small synthetic tokenizers, plus the fixture
// vocabularies when the shared test data is configured. roundTrip marks those
// for which Decode(Encode(s)) must give s back (SentencePiece: with the space
// prefix, for text without "▁").
func fuzzTokenizers(tb testing.TB) (toks []*Tokenizer, roundTrip []bool) {
	spm := mustTokenizer(tb, spmVocab(map[string]float32{"▁": -5, "a": -5, "b": -5, "▁a": -1, "ab": -2, "é": -3, "▁▁": -4}, nil))
	bpe := mustTokenizer(tb, bpeVocab("llama-bpe", []string{"a b", "Ġ a", "Ġa b", "Ċ Ċ"}, map[string]int32{"<|user|>": 4, "<|eot_id|>": 3}))
	toks, roundTrip = []*Tokenizer{spm, bpe}, []bool{true, true}
	for _, pre := range []string{"default", "deepseek-llm", "qwen2", "falcon", "starcoder"} {
		toks = append(toks, mustTokenizer(tb, bpeVocab(pre, []string{"a b", "Ġ a"}, nil)))
		roundTrip = append(roundTrip, true)
	}
	if _, ok := testfiles.Lookup(); ok {
		for _, v := range vocabFixtures {
			toks = append(toks, load(tb, "vocab/ggml-vocab-"+v.name+".gguf"))
			roundTrip = append(roundTrip, true)
		}
	}
	return toks, roundTrip
}

// FuzzEncode: no input panics, ids stay in the vocabulary, byte-level BPE
// and SentencePiece give valid UTF-8 back exactly (SentencePiece with the
// space prefix), and the
// segmented SentencePiece merge equals the merge over the whole text.
func FuzzEncode(f *testing.F) {
	toks, roundTrip := fuzzTokenizers(f)
	for _, s := range []string{"", " ", "Hello world", "  a\n\n b\t", "<s>x</s>", "<|user|>hi<|eot_id|>", "ab ab aab", "\xff\xc3", "🦙中文 123'RE", "▁a"} {
		f.Add(s, uint8(3))
	}
	if _, ok := testfiles.Lookup(); ok {
		for _, c := range readFixture(f, "vocab/ggml-vocab-gpt-2.gguf") {
			f.Add(c.text, uint8(0))
		}
	}
	f.Fuzz(func(t *testing.T, s string, flags uint8) {
		for i, tok := range toks {
			opt := Options{AddSpecial: flags&1 != 0, ParseSpecial: flags&2 != 0}
			ids := tok.Encode(s, opt)
			for _, id := range ids {
				if id < 0 || int(id) >= tok.Size() {
					t.Fatalf("tokenizer %d: Encode(%q, %+v) gave id %d outside [0, %d)", i, s, opt, id, tok.Size())
				}
			}
			_ = tok.Decode(ids)
			if !roundTrip[i] {
				continue
			}
			got := tok.Decode(tok.Encode(s, Options{}))
			switch {
			case tok.Model() == "gpt2" && utf8.ValidString(s):
				if got != s {
					t.Fatalf("tokenizer %d: Decode(Encode(%q)) = %q", i, s, got)
				}
			case tok.Model() == "llama" && s != "" && utf8.ValidString(s) && !strings.Contains(s, "▁"):
				// Invalid UTF-8 need not come back: a lead byte swallows the
				// bytes after it, escaped spaces included, as in llama.cpp.
				if got != " "+s {
					t.Fatalf("tokenizer %d: Decode(Encode(%q)) = %q", i, s, got)
				}
			}
			if tok.Model() == "llama" {
				checkSegmented(t, tok, s)
			}
		}
	})
}

// checkSegmented compares the segmented SentencePiece merge with one merge
// over the whole escaped text.
func checkSegmented(t *testing.T, tok *Tokenizer, s string) {
	t.Helper()
	text := strings.ReplaceAll(" "+s, " ", "▁")
	var a, b spmSession
	whole := a.tokenize(tok, nil, text)
	seg := b.tokenizeText(tok, nil, text)
	if !slices.Equal(whole, seg) {
		t.Fatalf("segmented merge of %q:\n got %v\nwant %v", s, seg, whole)
	}
}

// TestSPMSegmentation checks the segmented merge against the whole-text merge
// on real text.
func TestSPMSegmentation(t *testing.T) {
	tok := load(t, "vocab/ggml-vocab-llama-spm.gguf")
	for _, rel := range []string{"text/tinystories-sample.txt", "text/dict-eval.txt", "text/wiki.test.raw"} {
		data, err := os.ReadFile(testfiles.Path(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		checkSegmented(t, tok, string(data[:min(len(data), 150_000)]))
	}
	for _, c := range readFixture(t, "vocab/ggml-vocab-llama-spm.gguf") {
		checkSegmented(t, tok, c.text)
	}
}
