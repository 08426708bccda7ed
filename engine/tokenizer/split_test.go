package tokenizer

import (
	"fmt"
	"testing"
)

// splitWords runs a pre-tokenizer over text and returns the words.
func splitWords(pre string, text string) []string {
	cp := decodeCpts(nil, text)
	fl := cptFlags(nil, cp)
	pieces := preTokenizers[pre].split(cp, fl)
	words := make([]string, 0, len(pieces))
	start := 0
	for _, n := range pieces {
		var b []byte
		for _, r := range cp[start : start+n] {
			b = appendCpt(b, r)
		}
		words = append(words, string(b))
		start += n
	}
	return words
}

// The expected splits follow the expressions in llama.cpp's llama-vocab.cpp.
func TestPreTokenizers(t *testing.T) {
	cases := []struct {
		pre, text string
		want      []string
	}{
		{"gpt-2", "Hello world's  foo123 !!  \n", []string{"Hello", " world", "'s", " ", " foo", "123", " !!", "  \n"}},
		{"gpt-2", "I'M 'll", []string{"I", "'", "M", " '", "ll"}},
		{"gpt-2", " x", []string{" x"}},
		{"gpt-2", "a  ", []string{"a", "  "}},
		{"gpt-2", "\t\tb", []string{"\t", "\t", "b"}},
		{"llama-bpe", "I'M 12345 ok\n\n  x", []string{"I", "'M", " ", "123", "45", " ok", "\n\n", " ", " x"}},
		{"llama-bpe", "(hi) ..\n\nx", []string{"(hi", ")", " ..\n\n", "x"}},
		{"qwen2", "ab 12345", []string{"ab", " ", "1", "2", "3", "4", "5"}},
		{"qwen2", "Hello, world!\n", []string{"Hello", ",", " world", "!\n"}},
		// Qwen2 leaves a combining mark (U+0301) out of \p{L}+ words; Qwen3.5
		// keeps it with its letters, and a mark can follow the optional
		// non-letter prefix.
		{"qwen2", "re\u0301sume\u0301 12", []string{"re", "\u0301sume", "\u0301", " ", "1", "2"}},
		{"qwen35", "re\u0301sume\u0301 12", []string{"re\u0301sume\u0301", " ", "1", "2"}},
		{"qwen35", "I'M \u0301x!\u0301\u0300.\n\n", []string{"I", "'M", " \u0301x", "!\u0301\u0300", ".\n\n"}},
		{"qwen35", "\u0300\u0300 a", []string{"\u0300\u0300", " a"}},
		{"starcoder", "abc 123", []string{"abc", " ", "1", "2", "3"}},
		{"deepseek-coder", "a1 b\nc", []string{"a", "1", " b", "\n", "c"}},
		{"deepseek-coder", "x, 中文 y", []string{"x", ",", " ", "中文", " y"}},
		// U+3000 is whitespace, never part of the literal CJK range.
		{"deepseek-coder", "中\u3000文", []string{"中", "\u3000", "文"}},
		// Neither letter nor punctuation: only the CJK-range step splits these.
		{"deepseek-coder", "♠♣×", []string{"♠♣", "×"}},
		{"deepseek-llm", "Hello 世界 123  ", []string{"Hello", " ", "世界", " ", "123", "  "}},
		{"deepseek-llm", "a, b!", []string{"a", ",", " b", "!"}},
		{"default", "a+b 12345", []string{"a", "+", "b", " ", "123", "45"}},
		{"falcon", "x`y 1234", []string{"x", "`", "y", " ", "123", "4"}},
	}
	for _, c := range cases {
		got := splitWords(c.pre, c.text)
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", c.want) {
			t.Errorf("%s %q:\n got %q\nwant %q", c.pre, c.text, got, c.want)
		}
	}
}

// TestPreTokenizersCover: every pre-tokenizer splits any text into pieces that
// cover it exactly.
func TestPreTokenizersCover(t *testing.T) {
	texts := []string{"", " ", "\n \n\n", "Hello, y'all! 🦙 3.14 中文 — 'RE  x\t\r\n", "\xff\xfe a\xc3"}
	for pre := range preTokenizers {
		for _, text := range texts {
			cp := decodeCpts(nil, text)
			fl := cptFlags(nil, cp)
			pieces := preTokenizers[pre].split(cp, fl)
			sum := 0
			for _, n := range pieces {
				if n <= 0 {
					t.Errorf("%s %q: empty piece in %v", pre, text, pieces)
				}
				sum += n
			}
			if sum != len(cp) {
				t.Errorf("%s %q: pieces %v cover %d of %d code points", pre, text, pieces, sum, len(cp))
			}
		}
	}
}
