package tokenizer

import "strings"

// fragment is a run of raw text [start, end) or, when tok ≥ 0, one token
// matched verbatim.
type fragment struct {
	tok        int32
	start, end int
}

// partition splits text around the special tokens found in it, longest token
// first, as llama.cpp's tokenizer_st_partition: each token is searched in the
// text fragments the longer ones left.
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	if text == "" {
		return nil
	}
	frags := []fragment{{tok: -1, start: 0, end: len(text)}}
	var next []fragment
	for _, id := range t.special {
		a := t.attrs[id]
		if !parseSpecial && a&(attrControl|attrUnknown) != 0 {
			continue
		}
		tok := t.tokens[id]
		if !strings.Contains(text, tok) {
			continue
		}
		next = next[:0]
		for _, fr := range frags {
			if fr.tok >= 0 {
				next = append(next, fr)
				continue
			}
			off, end := fr.start, fr.end
			for {
				i := strings.Index(text[off:end], tok)
				if i < 0 {
					break
				}
				left := off + i
				if a&attrLStrip != 0 {
					for left > off && isCSpace(text[left-1]) {
						left--
					}
				}
				if left > off {
					next = append(next, fragment{tok: -1, start: off, end: left})
				}
				next = append(next, fragment{tok: id})
				off += i + len(tok)
				if a&attrRStrip != 0 {
					for off < end && isCSpace(text[off]) {
						off++
					}
				}
			}
			if off < end {
				next = append(next, fragment{tok: -1, start: off, end: end})
			}
		}
		frags, next = next, frags
	}
	return frags
}

// isCSpace is C's isspace in the "C" locale.
func isCSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}
