package tokenizer

import (
	"fmt"
	"strings"

	"nexusquant/engine/gguf"
)

// GGUF metadata keys read by FromGGUF.
const (
	keyModel          = "tokenizer.ggml.model"
	keyPre            = "tokenizer.ggml.pre"
	keyTokens         = "tokenizer.ggml.tokens"
	keyScores         = "tokenizer.ggml.scores"
	keyTokenType      = "tokenizer.ggml.token_type"
	keyMerges         = "tokenizer.ggml.merges"
	keyAddBOS         = "tokenizer.ggml.add_bos_token"
	keyAddEOS         = "tokenizer.ggml.add_eos_token"
	keyAddSpacePrefix = "tokenizer.ggml.add_space_prefix"
)

// FromGGUF builds the tokenizer described by f's tokenizer.ggml.* metadata.
// Errors name the file and the missing or malformed key.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	if f == nil {
		return nil, fmt.Errorf("tokenizer: nil GGUF file")
	}
	model, err := metaString(f, keyModel, true)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{model: model}
	switch model {
	case "llama", "gpt2":
	default:
		return nil, keyError(f, keyModel, "tokenizer model %q is not supported (supported: llama, gpt2)", model)
	}
	if err := t.loadVocab(f); err != nil {
		return nil, err
	}

	ids := specialIDs{bos: -1, eos: -1, eot: -1, eom: -1, unk: -1, fimPre: -1, fimSuf: -1, fimMid: -1, fimPad: -1, fimRep: -1, fimSep: -1}
	arch, _ := f.String("general.architecture")
	name, _ := f.String("general.name")
	var pre string
	if model == "llama" {
		ids.bos, ids.eos, ids.unk = 1, 2, 0
		t.addSpacePrefix, t.addBOS = true, true
	} else {
		if err := t.loadMerges(f); err != nil {
			return nil, err
		}
		if pre, err = metaString(f, keyPre, false); err != nil {
			return nil, err
		}
		if pre == "" {
			pre = "default" // llama.cpp warns and uses the default expressions
		}
		p, ok := preTokenizers[pre]
		if !ok {
			return nil, keyError(f, keyPre, "pre-tokenizer %q is not supported (supported: %s)", pre, supportedPre())
		}
		t.pre = p
		ids.bos, ids.eos = 11, 11 // llama.cpp's defaults for BPE vocabularies
		if p.noBOS {
			ids.bos = -1
		}
		t.addBOS = p.addBOS
	}
	readSpecialIDs(f, &ids, int32(len(t.tokens)))
	for _, flag := range []struct {
		key string
		dst *bool
	}{{keyAddBOS, &t.addBOS}, {keyAddEOS, &t.addEOS}, {keyAddSpacePrefix, &t.addSpacePrefix}} {
		if v, ok := f.Metadata[flag.key]; ok {
			b, isBool := v.V.(bool)
			if !isBool {
				return nil, keyError(f, flag.key, "want a bool, have %s", v.Type)
			}
			*flag.dst = b
		}
	}
	if t.addBOS && ids.bos < 0 {
		return nil, keyError(f, keyAddBOS, "is true, but tokenizer.ggml.bos_token_id is not set")
	}
	if t.addEOS && ids.eos < 0 {
		return nil, keyError(f, keyAddEOS, "is true, but tokenizer.ggml.eos_token_id is not set")
	}

	t.detectSpecial(&ids)
	t.buildSpecialCache()
	t.applyStripRules(name, pre, arch)
	t.bos, t.eos, t.unk = ids.bos, ids.eos, ids.unk
	t.buildPieces()
	if model == "llama" {
		t.buildByteTokens()
		t.buildSPMPairs()
	}
	return t, nil
}

// readSpecialIDs overrides the default special ids with those in the file.
// An id outside the vocabulary disables a default and is otherwise ignored,
// as in llama.cpp.
func readSpecialIDs(f *gguf.File, ids *specialIDs, n int32) {
	for _, id := range []*int32{&ids.bos, &ids.eos, &ids.unk} {
		if *id >= n {
			*id = -1
		}
	}
	// The deprecated fim spellings come last and win, as in llama.cpp.
	for _, k := range []struct {
		key string
		dst *int32
	}{
		{"tokenizer.ggml.bos_token_id", &ids.bos},
		{"tokenizer.ggml.eos_token_id", &ids.eos},
		{"tokenizer.ggml.eot_token_id", &ids.eot},
		{"tokenizer.ggml.eom_token_id", &ids.eom},
		{"tokenizer.ggml.unknown_token_id", &ids.unk},
		{"tokenizer.ggml.fim_pre_token_id", &ids.fimPre},
		{"tokenizer.ggml.fim_suf_token_id", &ids.fimSuf},
		{"tokenizer.ggml.fim_mid_token_id", &ids.fimMid},
		{"tokenizer.ggml.fim_pad_token_id", &ids.fimPad},
		{"tokenizer.ggml.fim_rep_token_id", &ids.fimRep},
		{"tokenizer.ggml.fim_sep_token_id", &ids.fimSep},
		{"tokenizer.ggml.prefix_token_id", &ids.fimPre},
		{"tokenizer.ggml.suffix_token_id", &ids.fimSuf},
		{"tokenizer.ggml.middle_token_id", &ids.fimMid},
	} {
		if v, ok := f.Uint(k.key); ok && v < uint64(n) {
			*k.dst = int32(v)
		}
	}
}

// loadVocab reads the tokens, scores and token types.
func (t *Tokenizer) loadVocab(f *gguf.File) error {
	v, ok := f.Metadata[keyTokens]
	if !ok {
		return keyError(f, keyTokens, "missing")
	}
	toks, ok := v.V.([]string)
	if !ok {
		return keyError(f, keyTokens, "want an array of strings, have %s of %s", v.Type, v.Elem)
	}
	if len(toks) == 0 || len(toks) > 1<<30 {
		return keyError(f, keyTokens, "bad vocabulary size %d", len(toks))
	}
	n := len(toks)
	t.tokens = make([]string, n)
	t.ids = make(map[string]int32, n)
	for i, s := range toks {
		if s == "" {
			s = fmt.Sprintf("[EMPTY_%d]", i) // as llama.cpp
		}
		if j, dup := t.ids[s]; dup {
			return keyError(f, keyTokens, "duplicate token %q at ids %d and %d", s, j, i)
		}
		t.tokens[i] = s
		t.ids[s] = int32(i)
	}

	t.scores = make([]float32, n)
	if v, ok := f.Metadata[keyScores]; ok {
		switch s := v.V.(type) {
		case []float32:
			if len(s) < n {
				return keyError(f, keyScores, "%d scores for %d tokens", len(s), n)
			}
			copy(t.scores, s)
		case []int32:
			if len(s) < n {
				return keyError(f, keyScores, "%d scores for %d tokens", len(s), n)
			}
			for i := range t.scores {
				t.scores[i] = float32(s[i])
			}
		default:
			return keyError(f, keyScores, "want an array of float32 or int32, have %s of %s", v.Type, v.Elem)
		}
	}

	t.attrs = make([]tokenAttr, n)
	if v, ok := f.Metadata[keyTokenType]; ok {
		tt, ok := v.V.([]int32)
		if !ok {
			return keyError(f, keyTokenType, "want an array of int32, have %s of %s", v.Type, v.Elem)
		}
		if len(tt) < n {
			return keyError(f, keyTokenType, "%d token types for %d tokens", len(tt), n)
		}
		for i := range t.attrs {
			t.attrs[i] = attrFromType(tt[i])
		}
	} else {
		for i := range t.attrs {
			t.attrs[i] = attrNormal
		}
	}
	return nil
}

// loadMerges reads the BPE merges; a merge's rank is its index, and the first
// of duplicate merges wins, as in llama.cpp.
func (t *Tokenizer) loadMerges(f *gguf.File) error {
	v, ok := f.Metadata[keyMerges]
	if !ok {
		return keyError(f, keyMerges, "missing (required by tokenizer model gpt2)")
	}
	merges, ok := v.V.([]string)
	if !ok {
		return keyError(f, keyMerges, "want an array of strings, have %s of %s", v.Type, v.Elem)
	}
	t.ranks = make(map[string]int32, len(merges))
	for i, m := range merges {
		// llama.cpp splits at the first space after the first byte; a merge
		// without one can never match.
		if len(m) < 2 || strings.IndexByte(m[1:], ' ') < 0 {
			continue
		}
		if _, dup := t.ranks[m]; !dup {
			t.ranks[m] = int32(i)
		}
	}
	return nil
}

// metaString reads a string key; a missing key is an error only if required.
func metaString(f *gguf.File, key string, required bool) (string, error) {
	v, ok := f.Metadata[key]
	if !ok {
		if required {
			return "", keyError(f, key, "missing")
		}
		return "", nil
	}
	s, ok := v.V.(string)
	if !ok {
		return "", keyError(f, key, "want a string, have %s", v.Type)
	}
	return s, nil
}

// keyError is a load error that names the file and the metadata key.
func keyError(f *gguf.File, key, format string, args ...any) error {
	return fmt.Errorf("tokenizer: %s: %s: %s", f.Path, key, fmt.Sprintf(format, args...))
}
