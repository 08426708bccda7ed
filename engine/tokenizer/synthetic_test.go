package tokenizer

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"nexusquant/engine/gguf"
)

// memFile builds an in-memory GGUF file holding only metadata.
func memFile(kv map[string]any) *gguf.File {
	f := &gguf.File{Path: "mem.gguf", Metadata: map[string]gguf.Value{}}
	for k, v := range kv {
		f.Metadata[k] = gguf.ValueOf(v)
	}
	return f
}

// spmVocab is a small SentencePiece-style vocabulary: <unk> <s> </s>, the 256
// byte tokens, then the pieces given with their scores.
func spmVocab(pieces map[string]float32, extra map[string]any) map[string]any {
	toks := []string{"<unk>", "<s>", "</s>"}
	types := []int32{2, 3, 3}
	for b := 0; b < 256; b++ {
		toks = append(toks, fmt.Sprintf("<0x%02X>", b))
		types = append(types, 6)
	}
	scores := make([]float32, len(toks))
	for p, s := range pieces {
		toks = append(toks, p)
		types = append(types, 1)
		scores = append(scores, s)
	}
	kv := map[string]any{
		"tokenizer.ggml.model":      "llama",
		"tokenizer.ggml.tokens":     toks,
		"tokenizer.ggml.scores":     scores,
		"tokenizer.ggml.token_type": types,
	}
	for k, v := range extra {
		kv[k] = v
	}
	return kv
}

// bpeVocab is a small byte-level BPE vocabulary: the 256 byte tokens, the
// results of the merges, then extra tokens (token types: 1, or as given).
func bpeVocab(pre string, merges []string, extra map[string]int32) map[string]any {
	var toks []string
	var types []int32
	seen := map[string]bool{}
	add := func(s string, tt int32) {
		if !seen[s] {
			seen[s] = true
			toks = append(toks, s)
			types = append(types, tt)
		}
	}
	for b := 0; b < 256; b++ {
		add(byteString[b], 1)
	}
	for _, m := range merges {
		add(strings.Replace(m, " ", "", 1), 1)
	}
	for _, s := range slices.Sorted(maps.Keys(extra)) {
		add(s, extra[s])
	}
	kv := map[string]any{
		"tokenizer.ggml.model":      "gpt2",
		"tokenizer.ggml.tokens":     toks,
		"tokenizer.ggml.token_type": types,
		"tokenizer.ggml.merges":     merges,
	}
	if pre != "" {
		kv["tokenizer.ggml.pre"] = pre
	}
	return kv
}

func mustTokenizer(t testing.TB, kv map[string]any) *Tokenizer {
	t.Helper()
	tok, err := FromGGUF(memFile(kv))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// texts renders ids as token texts, for readable failures.
func (t *Tokenizer) texts(ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if id >= 0 && int(id) < len(t.tokens) {
			out[i] = t.tokens[id]
		} else {
			out[i] = fmt.Sprint(id)
		}
	}
	return out
}

func TestSPMMerges(t *testing.T) {
	cases := []struct {
		name   string
		pieces map[string]float32
		text   string
		want   []string
	}{
		{"higher score first", map[string]float32{"a": -5, "b": -5, "c": -5, "ab": -1, "bc": -2}, "abc", []string{"ab", "c"}},
		{"higher score first, reversed", map[string]float32{"a": -5, "b": -5, "c": -5, "ab": -2, "bc": -1}, "abc", []string{"a", "bc"}},
		{"ties go leftmost", map[string]float32{"a": -5, "aa": -1}, "aaa", []string{"aa", "a"}},
		{"chains of merges", map[string]float32{"a": -5, "b": -5, "ab": -1, "abab": -0.5}, "abab", []string{"abab"}},
		{"byte fallback", map[string]float32{"a": -5}, "aé", []string{"a", "<0xC3>", "<0xA9>"}},
		{"spaces become ▁", map[string]float32{"▁": -5, "a": -5, "▁a": -1}, "a a", []string{"a", "▁a"}},
		{"invalid UTF-8 as bytes", map[string]float32{"a": -5}, "a\xff\xc3", []string{"a", "<0xFF>", "<0xC3>"}},
		{"merges through non-token pieces", map[string]float32{"xy": -1}, "xy", []string{"xy"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := mustTokenizer(t, spmVocab(c.pieces, map[string]any{"tokenizer.ggml.add_space_prefix": false}))
			got := tok.texts(tok.Encode(c.text, Options{}))
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("Encode(%q) = %q, want %q", c.text, got, c.want)
			}
			if dec := tok.Decode(tok.Encode(c.text, Options{})); dec != c.text {
				t.Errorf("Decode(Encode(%q)) = %q", c.text, dec)
			}
		})
	}
}

func TestSPMSpecialRules(t *testing.T) {
	pieces := map[string]float32{"▁": -5, "h": -5, "i": -5, "▁hi": -1, "hi": -2}
	tok := mustTokenizer(t, spmVocab(pieces, nil))
	cases := []struct {
		text string
		opt  Options
		want []string
	}{
		{"hi", Options{}, []string{"▁hi"}},
		{"hi", Options{AddSpecial: true}, []string{"<s>", "▁hi"}},
		{"", Options{AddSpecial: true}, []string{"<s>"}},
		{"", Options{}, []string{}},
		// Control text is plain text unless ParseSpecial; after a special
		// token the text gets the space prefix again.
		{"<s>hi", Options{ParseSpecial: true}, []string{"<s>", "▁hi"}},
		{"hi</s>hi", Options{ParseSpecial: true}, []string{"▁hi", "</s>", "▁hi"}},
		{"<unk>", Options{ParseSpecial: true}, []string{"<unk>"}},
	}
	for _, c := range cases {
		got := tok.texts(tok.Encode(c.text, c.opt))
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("Encode(%q, %+v) = %q, want %q", c.text, c.opt, got, c.want)
		}
	}
	if ids := tok.Encode("<s>", Options{}); len(ids) < 2 {
		t.Errorf("Encode(\"<s>\") without ParseSpecial = %q, want the text tokenized", tok.texts(ids))
	}
	if got := tok.Decode(tok.Encode("<s>hi</s>", Options{ParseSpecial: true})); got != "<s> hi</s>" {
		t.Errorf("control tokens should decode to their text, got %q", got)
	}
	if !tok.AddBOS() || tok.BOS() != 1 || tok.EOS() != 2 || !tok.IsEOG(2) || tok.IsEOG(1) || tok.Model() != "llama" {
		t.Errorf("AddBOS %v BOS %d EOS %d IsEOG(2) %v IsEOG(1) %v Model %q", tok.AddBOS(), tok.BOS(), tok.EOS(), tok.IsEOG(2), tok.IsEOG(1), tok.Model())
	}
	noBOS := mustTokenizer(t, spmVocab(pieces, map[string]any{"tokenizer.ggml.add_bos_token": false, "tokenizer.ggml.add_eos_token": true}))
	if got := noBOS.texts(noBOS.Encode("hi", Options{AddSpecial: true})); fmt.Sprint(got) != "[▁hi </s>]" {
		t.Errorf("add_bos false, add_eos true: %q", got)
	}
}

func TestBPEMerges(t *testing.T) {
	merges := []string{"a b", "ab c", "Ġ ab", "Ġ abc", "x y"}
	tok := mustTokenizer(t, bpeVocab("gpt-2", merges, map[string]int32{"<|endoftext|>": 3, "<|user|>": 4}))
	cases := []struct {
		text string
		opt  Options
		want []string
	}{
		{"abc", Options{}, []string{"abc"}},
		// "Ġ a" is no merge, so "a b" goes first, then "ab c" (rank 1) before "Ġ ab" (rank 2).
		{" abc", Options{}, []string{"Ġabc"}},
		{" ab", Options{}, []string{"Ġab"}},
		{"xyz", Options{}, []string{"xy", "z"}},
		{"a\n", Options{}, []string{"a", "Ċ"}},
		// Without ParseSpecial control text is plain text; "endoftext" has no merges.
		{"<|endoftext|>", Options{}, []string{"<", "|", "e", "n", "d", "o", "f", "t", "e", "x", "t", "|", ">"}},
		{"<|endoftext|>", Options{ParseSpecial: true}, []string{"<|endoftext|>"}},
		// User-defined tokens are matched even without ParseSpecial.
		{"a<|user|>b", Options{}, []string{"a", "<|user|>", "b"}},
	}
	for _, c := range cases {
		ids := tok.Encode(c.text, c.opt)
		got := tok.texts(ids)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("Encode(%q, %+v) = %q, want %q", c.text, c.opt, got, c.want)
		}
		if dec := tok.Decode(ids); dec != c.text && !c.opt.ParseSpecial {
			t.Errorf("Decode(Encode(%q)) = %q", c.text, dec)
		}
	}
	if tok.AddBOS() || tok.Model() != "gpt2" {
		t.Errorf("gpt-2 pre: AddBOS %v Model %q", tok.AddBOS(), tok.Model())
	}
	if got := tok.Encode("abc", Options{AddSpecial: true}); len(got) != 1 {
		t.Errorf("AddSpecial added tokens to a gpt-2 vocabulary without add_bos: %q", tok.texts(got))
	}
	if !tok.IsEOG(tok.ids["<|endoftext|>"]) {
		t.Error("<|endoftext|> is not end-of-generation")
	}
}

// TestBPEIgnoreMerges: Llama-3 style vocabularies take a word that is a token
// as is, even when the merges would not build it.
func TestBPEIgnoreMerges(t *testing.T) {
	kv := bpeVocab("llama-bpe", []string{"a b"}, map[string]int32{"abc": 1, "<|begin_of_text|>": 3})
	kv["tokenizer.ggml.bos_token_id"] = uint32(slices.Index(kv["tokenizer.ggml.tokens"].([]string), "<|begin_of_text|>"))
	tok := mustTokenizer(t, kv)
	if got := tok.texts(tok.Encode("abc", Options{AddSpecial: true})); fmt.Sprint(got) != "[<|begin_of_text|> abc]" {
		t.Errorf("llama-bpe Encode(abc) = %q", got)
	}
	kv["tokenizer.ggml.pre"] = "gpt-2"
	tok = mustTokenizer(t, kv)
	if got := tok.texts(tok.Encode("abc", Options{AddSpecial: true})); fmt.Sprint(got) != "[ab c]" {
		t.Errorf("gpt-2 Encode(abc) = %q", got)
	}
}

func TestFromGGUFErrors(t *testing.T) {
	base := func() map[string]any { return spmVocab(map[string]float32{"a": -1}, nil) }
	cases := []struct {
		name   string
		edit   func(kv map[string]any)
		substr []string
	}{
		{"no model", func(kv map[string]any) { delete(kv, "tokenizer.ggml.model") }, []string{"mem.gguf", "tokenizer.ggml.model", "missing"}},
		{"model not a string", func(kv map[string]any) { kv["tokenizer.ggml.model"] = uint32(1) }, []string{"tokenizer.ggml.model", "want a string"}},
		{"unknown model", func(kv map[string]any) { kv["tokenizer.ggml.model"] = "bert" }, []string{"tokenizer.ggml.model", "bert", "llama, gpt2"}},
		{"no tokens", func(kv map[string]any) { delete(kv, "tokenizer.ggml.tokens") }, []string{"tokenizer.ggml.tokens", "missing"}},
		{"tokens not strings", func(kv map[string]any) { kv["tokenizer.ggml.tokens"] = []int32{1} }, []string{"tokenizer.ggml.tokens", "array of strings"}},
		{"duplicate token", func(kv map[string]any) {
			kv["tokenizer.ggml.tokens"].([]string)[5] = "a"
		}, []string{"tokenizer.ggml.tokens", "duplicate"}},
		{"short scores", func(kv map[string]any) { kv["tokenizer.ggml.scores"] = []float32{1} }, []string{"tokenizer.ggml.scores"}},
		{"short token types", func(kv map[string]any) { kv["tokenizer.ggml.token_type"] = []int32{1} }, []string{"tokenizer.ggml.token_type"}},
		{"add_bos not a bool", func(kv map[string]any) { kv["tokenizer.ggml.add_bos_token"] = uint32(1) }, []string{"tokenizer.ggml.add_bos_token", "bool"}},
		{"gpt2 without merges", func(kv map[string]any) { kv["tokenizer.ggml.model"] = "gpt2" }, []string{"tokenizer.ggml.merges", "missing"}},
		{"unknown pre", func(kv map[string]any) {
			kv["tokenizer.ggml.model"] = "gpt2"
			kv["tokenizer.ggml.merges"] = []string{"a b"}
			kv["tokenizer.ggml.pre"] = "no-such-pre"
		}, []string{"tokenizer.ggml.pre", "no-such-pre", "deepseek-coder", "qwen2"}},
		{"add_eos without eos", func(kv map[string]any) {
			kv["tokenizer.ggml.tokens"] = []string{"<unk>", "<s>"}
			delete(kv, "tokenizer.ggml.scores")
			delete(kv, "tokenizer.ggml.token_type")
			kv["tokenizer.ggml.add_eos_token"] = true
		}, []string{"tokenizer.ggml.add_eos_token", "eos_token_id"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kv := base()
			c.edit(kv)
			_, err := FromGGUF(memFile(kv))
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range c.substr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
	if _, err := FromGGUF(nil); err == nil {
		t.Error("FromGGUF(nil): no error")
	}
}

// TestDecodeOutOfRange: ids outside the vocabulary decode to nothing.
func TestDecodeOutOfRange(t *testing.T) {
	tok := mustTokenizer(t, spmVocab(map[string]float32{"a": -1}, nil))
	if got := tok.Decode([]int32{-5, int32(tok.Size()), 1 << 30}); got != "" {
		t.Errorf("Decode(out of range) = %q", got)
	}
	if p := tok.Piece(-1); len(p) != 0 {
		t.Errorf("Piece(-1) = %q", p)
	}
	if tok.IsEOG(-1) || tok.IsEOG(1<<30) {
		t.Error("IsEOG true out of range")
	}
}

// TestConcurrentEncode: one Tokenizer serves many goroutines (run with -race).
func TestConcurrentEncode(t *testing.T) {
	spm := mustTokenizer(t, spmVocab(map[string]float32{"▁": -5, "a": -5, "▁a": -1}, nil))
	bpe := mustTokenizer(t, bpeVocab("gpt-2", []string{"a b", "Ġ a"}, nil))
	text := strings.Repeat("a ab ba é\n", 100)
	for _, tok := range []*Tokenizer{spm, bpe} {
		want := tok.Encode(text, Options{AddSpecial: true})
		done := make(chan bool)
		for range 4 {
			go func() {
				done <- slices.Equal(tok.Encode(text, Options{AddSpecial: true}), want)
			}()
		}
		for range 4 {
			if !<-done {
				t.Errorf("%s: concurrent Encode differs", tok.Model())
			}
		}
	}
}
