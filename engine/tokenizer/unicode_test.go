package tokenizer

import (
	"fmt"
	"testing"
)

func TestFlags(t *testing.T) {
	cases := []struct {
		r    rune
		want cpFlags
	}{
		{'A', flagLetter},
		{'7', flagNumber},
		{'~', flagSymbol},
		{'!', flagPunct},
		{' ', flagSeparator | flagWhitespace},
		{'\n', flagControl | flagWhitespace},
		{0x1C, flagControl}, // not White_Space
		{0x85, flagControl | flagWhitespace},
		{0xA0, flagSeparator | flagWhitespace},
		{0x3000, flagSeparator | flagWhitespace},
		{0x0301, flagMark},
		{0x0378, flagUndefined},
		{0xFFFE, flagUndefined}, // noncharacter
		{0xD800, flagControl},   // surrogate
		{0xE000, flagControl},   // private use
		{0x2EBF0, flagLetter},   // Unicode 15.1 (CJK Extension I)
		{0x2FFC, flagSymbol},    // Unicode 15.1
		{0x1F999, flagSymbol},   // 🦙
		{0x110000, flagUndefined},
	}
	for _, c := range cases {
		if got := flagsOf(c.r); got != c.want {
			t.Errorf("flagsOf(%U) = %#x, want %#x", c.r, got, c.want)
		}
	}
}

func TestLenientUTF8(t *testing.T) {
	cases := []struct {
		in   string
		want []rune
	}{
		{"aé🦙", []rune{'a', 'é', 0x1F999}},
		{"\xc0\x80", []rune{0}},                                      // overlong, accepted as llama.cpp does
		{"\xed\xa0\x80", []rune{0xD800}},                             // surrogate, accepted
		{"\x80a", []rune{0xFFFD, 'a'}},                               // stray continuation byte
		{"\xe2\x96", []rune{0xFFFD, 0xFFFD}},                         // truncated
		{"\xf8\x88", []rune{0xFFFD, 0xFFFD}},                         // no such lead byte
		{"\xf7\xbf\xbf\xbf", []rune{0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD}}, // beyond U+10FFFF
	}
	for _, c := range cases {
		got := decodeCpts(nil, c.in)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("decodeCpts(%q) = %U, want %U", c.in, got, c.want)
		}
		var back []byte
		for _, r := range got {
			back = appendCpt(back, r)
		}
		if c.in == "aé🦙" && string(back) != c.in {
			t.Errorf("appendCpt round trip %q", back)
		}
	}
	if got := appendCpt(nil, 0xD800); string(got) != "\xed\xa0\x80" {
		t.Errorf("appendCpt(U+D800) = %q", got)
	}
}

func TestByteLevelTable(t *testing.T) {
	if byteString[' '] != "Ġ" || byteString['\n'] != "Ċ" || byteString['a'] != "a" || byteString[0xAD] != "Ń" {
		t.Errorf("byte table: space %q newline %q a %q 0xAD %q", byteString[' '], byteString['\n'], byteString['a'], byteString[0xAD])
	}
	for b := 0; b < 256; b++ {
		if got := byteLevelDecode(byteString[b]); got != string([]byte{byte(b)}) {
			t.Errorf("byte %#x decodes to %q", b, got)
		}
	}
	if got := byteLevelDecode("a€"); got != "a[UNK_BYTE_0xe282aca€]" {
		t.Errorf("byteLevelDecode of an unmapped code point = %q", got)
	}
}
