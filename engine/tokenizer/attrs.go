package tokenizer

import (
	"slices"
	"strings"
)

// tokenAttr is llama.cpp's llama_token_attr bit set.
type tokenAttr uint16

const (
	attrUnknown tokenAttr = 1 << iota
	attrUnused
	attrNormal
	attrControl
	attrUserDefined
	attrByte
	attrNormalized
	attrLStrip
	attrRStrip
	attrSingleWord
)

// attrFromType maps a tokenizer.ggml.token_type value to its attribute.
func attrFromType(tt int32) tokenAttr {
	switch tt {
	case 1:
		return attrNormal
	case 2:
		return attrUnknown
	case 3:
		return attrControl
	case 4:
		return attrUserDefined
	case 5:
		return attrUnused
	case 6:
		return attrByte
	}
	return 0 // undefined
}

// Token texts llama.cpp recognises as end-of-generation (and forces to
// control), and the fill-in-the-middle roles it detects by text when the file
// does not name them.
var (
	eogTexts = []string{
		"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
		"<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
		"<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
		"<｜end▁of▁sentence｜>", "[e~[",
	}
	fimPreTexts = []string{"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"}
	fimSufTexts = []string{"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"}
	fimMidTexts = []string{"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"}
	fimPadTexts = []string{"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"}
	fimRepTexts = []string{"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"}
	fimSepTexts = []string{"<|file_sep|>"}
)

// specialIDs holds the special token ids read from the file or detected.
type specialIDs struct {
	bos, eos, eot, eom, unk int32
	fimPre, fimSuf, fimMid  int32
	fimPad, fimRep, fimSep  int32
}

// detectSpecial fills in the fill-in-the-middle roles llama.cpp detects from
// token texts, forces those tokens to control, and builds the
// end-of-generation set. (llama.cpp also detects EOT and EOM by text, but all
// those texts are end-of-generation texts, which get the same treatment.)
// llama.cpp walks a hash map, so when several texts could fill one role the
// one it picks is unspecified; here the lowest id wins.
func (t *Tokenizer) detectSpecial(ids *specialIDs) {
	find := func(role *int32, texts []string) {
		if *role >= 0 {
			return
		}
		best := int32(-1)
		for _, s := range texts {
			if id, ok := t.ids[s]; ok && (best < 0 || id < best) {
				best = id
			}
		}
		if best >= 0 {
			*role = best
			t.attrs[best] |= attrControl
		}
	}
	find(&ids.fimPre, fimPreTexts)
	find(&ids.fimSuf, fimSufTexts)
	find(&ids.fimMid, fimMidTexts)
	find(&ids.fimPad, fimPadTexts)
	find(&ids.fimRep, fimRepTexts)
	find(&ids.fimSep, fimSepTexts)

	t.eog = map[int32]bool{}
	for _, id := range []int32{ids.fimPad, ids.fimRep, ids.fimSep} {
		if id >= 0 {
			t.eog[id] = true
		}
	}
	for _, s := range eogTexts {
		if id, ok := t.ids[s]; ok {
			t.eog[id] = true
			t.attrs[id] |= attrControl
		}
	}
	// gpt-oss: these are always rendered.
	for _, s := range []string{"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"} {
		if id, ok := t.ids[s]; ok {
			t.attrs[id] = attrUserDefined
		}
	}
	for _, id := range []int32{ids.eos, ids.eot, ids.eom} {
		if id >= 0 {
			t.eog[id] = true
		}
	}
	has := func(s string) (int32, bool) {
		id, ok := t.ids[s]
		return id, ok && t.eog[id]
	}
	// o200k_harmony and solar-open: "<|end|>" ends a message, not generation.
	_, hasReturn := has("<|return|>")
	_, hasCall := has("<|call|>")
	_, hasCalls := has("<|calls|>")
	_, hasFlush := has("<|flush|>")
	if end, hasEnd := has("<|end|>"); hasEnd && ((hasReturn && (hasCall || hasCalls)) || ((hasCall || hasCalls) && hasFlush)) {
		delete(t.eog, end)
		t.attrs[end] = attrUserDefined
	}
	// gemma4 and paddleocr: "</s>" is not end-of-generation.
	if s, hasS := has("</s>"); hasS {
		if _, ok := has("<|tool_response>"); ok {
			delete(t.eog, s)
			t.attrs[s] = attrNormal
		}
	}
}

// buildSpecialCache lists the tokens matched verbatim in the input (control,
// user-defined and unknown), longest first.
func (t *Tokenizer) buildSpecialCache() {
	for id, a := range t.attrs {
		if a&(attrControl|attrUserDefined|attrUnknown) != 0 {
			t.special = append(t.special, int32(id))
		}
	}
	slices.SortStableFunc(t.special, func(a, b int32) int { return len(t.tokens[b]) - len(t.tokens[a]) })
}

// applyStripRules sets the lstrip/rstrip attributes llama.cpp gives some
// models by name.
func (t *Tokenizer) applyStripRules(name, pre, arch string) {
	name = strings.ToLower(name)
	set := func(s string, a tokenAttr, on bool) {
		id, ok := t.ids[s]
		if !ok {
			return
		}
		if on {
			t.attrs[id] |= a
		} else {
			t.attrs[id] &^= a
		}
	}
	containsAny := func(s string, subs ...string) bool {
		for _, sub := range subs {
			if strings.Contains(s, sub) {
				return true
			}
		}
		return false
	}
	switch {
	case containsAny(pre, "jina-v2-de", "jina-v2-es", "jina-v2-code") || containsAny(arch, "nomic-bert-moe", "jina-bert-v3"):
		set("<mask>", attrLStrip, true)
	case containsAny(name, "phi-3", "phi3"):
		for _, id := range t.special {
			t.attrs[id] |= attrRStrip
		}
		set("</s>", attrRStrip, true)
		for _, s := range []string{"<unk>", "<s>", "<|endoftext|>"} {
			set(s, attrRStrip, false)
		}
	case containsAny(name, "modern-bert"):
		set("[MASK]", attrLStrip, true)
	}
}
