package tokenizer

import "strings"

// Options controls Encode.
type Options struct {
	// AddSpecial adds BOS (and EOS) when the vocabulary says to
	// (tokenizer.ggml.add_bos_token / add_eos_token, with llama.cpp's defaults:
	// BOS for SentencePiece vocabularies and Llama-3-style BPE, none for
	// other BPE vocabularies, no EOS).
	AddSpecial bool
	// ParseSpecial matches the text of control and unknown tokens such as
	// "<s>" or "<|im_end|>" in the input and emits their ids. User-defined
	// tokens are always matched, as in llama.cpp.
	ParseSpecial bool
}

// Tokenizer encodes and decodes text for one GGUF vocabulary.
type Tokenizer struct {
	model  string // "llama" or "gpt2"
	tokens []string
	ids    map[string]int32
	scores []float32
	attrs  []tokenAttr
	pieces []string // token_to_piece(special=true) for every id

	bos, eos, unk  int32 // -1 when absent
	addBOS, addEOS bool
	addSpacePrefix bool
	eog            map[int32]bool
	special        []int32 // tokens matched verbatim, longest first

	// SentencePiece: the token for each byte (<0xXX>), or unk, or -1, and
	// the pairs of characters adjacent inside some token (see buildSPMPairs).
	byteTokens [256]int32
	spmPairs   map[uint64]struct{}

	// Byte-level BPE.
	ranks map[string]int32 // "left right" → merge rank
	pre   preTokenizer
}

// Encode tokenizes text as llama.cpp's llama_tokenize does.
func (t *Tokenizer) Encode(text string, opt Options) []int32 {
	frags := t.partition(text, opt.ParseSpecial)
	out := make([]int32, 0, len(text)/4+2)
	if opt.AddSpecial && t.addBOS && t.bos >= 0 {
		out = append(out, t.bos)
	}
	if t.model == "llama" {
		out = t.encodeSPM(out, text, frags)
	} else {
		out = t.encodeBPE(out, text, frags)
	}
	if opt.AddSpecial && t.addEOS && t.eos >= 0 {
		out = append(out, t.eos)
	}
	return out
}

// Piece returns the bytes one token renders as (nothing for ids outside the
// vocabulary). Control and unknown tokens render as their text, like
// llama.cpp's common_token_to_piece default, which the reference generations
// were recorded with; stop at IsEOG before printing. The caller owns the
// returned slice.
func (t *Tokenizer) Piece(id int32) []byte {
	return []byte(t.piece(id))
}

func (t *Tokenizer) piece(id int32) string {
	if id < 0 || int(id) >= len(t.pieces) {
		return ""
	}
	return t.pieces[id]
}

// Decode concatenates the pieces of ids.
func (t *Tokenizer) Decode(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(t.piece(id))
	}
	return b.String()
}

// BOS is the beginning-of-sequence id, -1 if the vocabulary has none.
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS is the end-of-sequence id, -1 if the vocabulary has none.
func (t *Tokenizer) EOS() int32 { return t.eos }

// AddBOS reports whether Encode with AddSpecial prepends BOS.
func (t *Tokenizer) AddBOS() bool { return t.addBOS && t.bos >= 0 }

// IsEOG reports whether id ends generation (EOS, EOT, EOM and the tokens
// llama.cpp recognises by text, such as "<|im_end|>").
func (t *Tokenizer) IsEOG(id int32) bool { return t.eog[id] }

// Size is the number of tokens in the vocabulary.
func (t *Tokenizer) Size() int { return len(t.tokens) }

// Model is the vocabulary kind: "llama" (SentencePiece-style) or "gpt2"
// (byte-level BPE).
func (t *Tokenizer) Model() string { return t.model }

// buildPieces renders every token as llama.cpp's token_to_piece with
// special=true.
func (t *Tokenizer) buildPieces() {
	t.pieces = make([]string, len(t.tokens))
	for id, text := range t.tokens {
		a := t.attrs[id]
		switch {
		case a&(attrUnknown|attrControl|attrUserDefined) != 0:
			t.pieces[id] = text
		case a&attrNormal != 0:
			if t.model == "llama" {
				t.pieces[id] = strings.ReplaceAll(text, "▁", " ")
			} else {
				t.pieces[id] = byteLevelDecode(text)
			}
		case a&attrByte != 0:
			t.pieces[id] = string([]byte{byteOfToken(text)})
		}
	}
}

// byteOfToken reads the byte of a "<0xXX>" token like llama.cpp's
// strtol(text.substr(3, 2), 16).
func byteOfToken(text string) byte {
	var v byte
	for i := 3; i < 5 && i < len(text); i++ {
		c := text[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | (c - '0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | (c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | (c - 'A' + 10)
		default:
			return v
		}
	}
	return v
}
