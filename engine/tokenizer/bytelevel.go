package tokenizer

import "fmt"

// The GPT-2 byte-level mapping: every byte is shown as a printable code point.
// Printable Latin-1 bytes map to themselves; the other 68 bytes map, in byte
// order, to U+0100 onwards (so a space becomes "Ġ" and a newline "Ċ").
var (
	byteString [256]string     // byte → its code point in UTF-8
	runeByte   [256 + 68]int16 // code point → byte, -1 if none
)

func init() {
	for i := range runeByte {
		runeByte[i] = -1
	}
	n := rune(0)
	for b := 0; b < 256; b++ {
		printable := (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		r := rune(b)
		if !printable {
			r = 256 + n
			n++
		}
		byteString[b] = string(r)
		runeByte[r] = int16(b)
	}
}

// appendByteEncoded appends the byte-level encoding of raw to dst.
func appendByteEncoded(dst []byte, raw []byte) []byte {
	for _, b := range raw {
		dst = append(dst, byteString[b]...)
	}
	return dst
}

// byteLevelDecode maps the code points of a byte-level token back to bytes, as
// llama.cpp's llama_decode_text, including its marker for code points outside
// the table.
func byteLevelDecode(text string) string {
	out := make([]byte, 0, len(text))
	for i := 0; i < len(text); {
		r, n := decodeCpt(text, i)
		i += n
		if r >= 0 && int(r) < len(runeByte) && runeByte[r] >= 0 {
			out = append(out, byte(runeByte[r]))
			continue
		}
		out = append(out, "[UNK_BYTE_0x"...)
		for _, b := range appendCpt(nil, r) {
			out = fmt.Appendf(out, "%02x", b)
		}
		out = append(out, text...)
		out = append(out, ']')
	}
	return string(out)
}
