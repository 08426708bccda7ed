package tokenizer

// llama.cpp decodes UTF-8 leniently (no overlong or surrogate checks) and
// replaces each byte it cannot decode with U+FFFD; these helpers reproduce that
// exactly, which Go's unicode/utf8 does not.

const replacementChar = 0xFFFD

// utf8Len is the sequence length announced by a lead byte, as llama.cpp's
// unicode_len_utf8 (continuation bytes count as 1).
func utf8Len(b byte) int {
	return [16]int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4}[b>>4]
}

// decodeCpts appends the code points of s to dst.
func decodeCpts(dst []rune, s string) []rune {
	for i := 0; i < len(s); {
		r, n := decodeCpt(s, i)
		dst = append(dst, r)
		i += n
	}
	return dst
}

// decodeCpt decodes the code point at s[i] and its length; an invalid
// sequence yields U+FFFD and length 1.
func decodeCpt(s string, i int) (rune, int) {
	b0 := s[i]
	cont := func(k int) bool { return i+k < len(s) && s[i+k]&0xC0 == 0x80 }
	switch {
	case b0&0x80 == 0:
		return rune(b0), 1
	case b0&0x40 == 0:
		return replacementChar, 1
	case b0&0x20 == 0:
		if cont(1) {
			return rune(b0&0x1F)<<6 | rune(s[i+1]&0x3F), 2
		}
	case b0&0x10 == 0:
		if cont(1) && cont(2) {
			return rune(b0&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F), 3
		}
	case b0&0x08 == 0:
		if cont(1) && cont(2) && cont(3) {
			r := rune(b0&0x07)<<18 | rune(s[i+1]&0x3F)<<12 | rune(s[i+2]&0x3F)<<6 | rune(s[i+3]&0x3F)
			if r > 0x10FFFF {
				// llama.cpp would throw when re-encoding this; treat it as invalid.
				return replacementChar, 1
			}
			return r, 4
		}
	}
	return replacementChar, 1
}

// appendCpt appends the UTF-8 encoding of r (0 ≤ r ≤ 0x10FFFF, surrogates
// included, as llama.cpp's unicode_cpt_to_utf8).
func appendCpt(b []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(b, byte(r))
	case r < 0x800:
		return append(b, 0xC0|byte(r>>6), 0x80|byte(r&0x3F))
	case r < 0x10000:
		return append(b, 0xE0|byte(r>>12), 0x80|byte(r>>6&0x3F), 0x80|byte(r&0x3F))
	default:
		return append(b, 0xF0|byte(r>>18&0x07), 0x80|byte(r>>12&0x3F), 0x80|byte(r>>6&0x3F), 0x80|byte(r&0x3F))
	}
}
