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
	for _, pre := range []string{"default", "deepseek-llm", "qwen2", "qwen35", "falcon", "starcoder"} {
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

// noByteTokens returns the bytes, in order, that have no byte-level token in
// a byte-level BPE vocabulary.
func noByteTokens(tok *Tokenizer) string {
	var b []byte
	for c := range 256 {
		if _, ok := tok.ids[byteString[c]]; !ok {
			b = append(b, byte(c))
		}
	}
	return string(b)
}

// dropBytes returns s without the bytes in drop.
func dropBytes(s, drop string) string {
	b := make([]byte, 0, len(s))
	for i := range len(s) {
		if strings.IndexByte(drop, s[i]) < 0 {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// FuzzEncode: no input panics, ids stay in the vocabulary, byte-level BPE
// and SentencePiece give valid UTF-8 back exactly (SentencePiece with the
// space prefix; byte-level BPE less the bytes the vocabulary has no token
// for, which llama.cpp drops: see TestVocabByteTokens), and the
// segmented SentencePiece merge equals the merge over the whole text.
func FuzzEncode(f *testing.F) {
	toks, roundTrip := fuzzTokenizers(f)
	noByte := make([]string, len(toks))
	for i, tok := range toks {
		if tok.Model() == "gpt2" {
			noByte[i] = noByteTokens(tok)
		}
	}
	for _, s := range []string{"", " ", "Hello world", "  a\n\n b\t", "<s>x</s>", "<|user|>hi<|eot_id|>", "ab ab aab", "\xff\xc3", "🦙中文 123'RE", "▁a", "a\x04b \x1e\U00040000\U00080000"} {
		f.Add(s, uint8(3))
	}
	if _, ok := testfiles.Lookup(); ok {
		// The fixture texts, each once (most vocabularies share the same
		// strings; qwen35's adds decomposed accents).
		seen := map[string]bool{}
		for _, v := range vocabFixtures {
			for _, c := range readFixture(f, "vocab/ggml-vocab-"+v.name+".gguf") {
				if !seen[c.text] {
					seen[c.text] = true
					f.Add(c.text, uint8(0))
				}
			}
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
				if want := dropBytes(s, noByte[i]); got != want {
					t.Fatalf("tokenizer %d: Decode(Encode(%q)) = %q, want %q", i, s, got, want)
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
