package tokenizer

import "sort"

// The expressions llama.cpp has no custom scanner for run through std::regex:
// with a \p{..} class, over a "collapsed" text where every non-ASCII code
// point is replaced by one byte for its category (whitespace first, so a
// non-ASCII space is \s and nothing else); without one, over the code points
// with non-ASCII whitespace replaced by \v. Either way a non-ASCII whitespace
// code point only ever matches \s, which the classes below reproduce. The
// expressions used here have no nested quantifiers, so the leftmost match at
// each position is found by direct scanning.

// matcher returns the length of the match starting at pos (0: no match), for
// a piece ending at end.
type matcher func(cp []rune, fl []cpFlags, pos, end int) int

// class reports whether a code point belongs to a character class.
type class func(r rune, f cpFlags) bool

// splitMatches splits every piece into its leftmost non-overlapping matches
// and the text between them, as llama.cpp's unicode_regex_split_stl.
func splitMatches(m matcher) splitter {
	return func(cp []rune, fl []cpFlags, pieces []int) []int {
		out := make([]int, 0, len(pieces)*2)
		start := 0
		for _, n := range pieces {
			end := start + n
			prev := start
			for pos := start; pos < end; {
				k := m(cp, fl, pos, end)
				if k == 0 {
					pos++
					continue
				}
				if pos > prev {
					out = append(out, pos-prev)
				}
				out = append(out, k)
				pos += k
				prev = pos
			}
			if end > prev {
				out = append(out, end-prev)
			}
			start = end
		}
		return out
	}
}

// one matches a single member of c: [c]
func one(c class) matcher {
	return func(cp []rune, fl []cpFlags, pos, end int) int {
		if c(cp[pos], fl[pos]) {
			return 1
		}
		return 0
	}
}

// run matches a run of members of c: [c]+
func run(c class) matcher {
	return func(cp []rune, fl []cpFlags, pos, end int) int {
		e := pos
		for e < end && c(cp[e], fl[e]) {
			e++
		}
		return e - pos
	}
}

// spaceThenRun matches \s?[c]+ (no member of the classes used is whitespace,
// so the greedy \s? needs no backtracking beyond one step).
func spaceThenRun(c class) matcher {
	r := run(c)
	return func(cp []rune, fl []cpFlags, pos, end int) int {
		if fl[pos]&flagWhitespace != 0 && pos+1 < end {
			if n := r(cp, fl, pos+1, end); n > 0 {
				return n + 1
			}
		}
		return r(cp, fl, pos, end)
	}
}

// splitTrailingSpace splits off \s+$, the whitespace that ends each piece
// (scanning for it position by position would be quadratic in long runs).
func splitTrailingSpace(cp []rune, fl []cpFlags, pieces []int) []int {
	out := make([]int, 0, len(pieces)+1)
	start := 0
	for _, n := range pieces {
		end := start + n
		ws := end
		for ws > start && fl[ws-1]&flagWhitespace != 0 {
			ws--
		}
		if ws > start {
			out = append(out, ws-start)
		}
		if end > ws {
			out = append(out, end-ws)
		}
		start = end
	}
	return out
}

// threeDigits matches [0-9][0-9][0-9].
func threeDigits(cp []rune, fl []cpFlags, pos, end int) int {
	if pos+3 > end {
		return 0
	}
	for _, r := range cp[pos : pos+3] {
		if r < '0' || r > '9' {
			return 0
		}
	}
	return 3
}

func isRN(r rune, _ cpFlags) bool     { return r == '\r' || r == '\n' }
func isLetter(_ rune, f cpFlags) bool { return f&flagLetter != 0 }
func isNumber(_ rune, f cpFlags) bool { return f&flagNumber != 0 }

// isPunct is \p{P}; for ASCII llama.cpp's collapsed class lists exactly the
// characters Unicode puts in P.
func isPunct(_ rune, f cpFlags) bool { return f&flagPunct != 0 }

// punctOr returns [\p{P}extra...].
func punctOr(extra string) class {
	var ascii [128]bool
	for _, c := range extra {
		ascii[c] = true
	}
	return func(r rune, f cpFlags) bool {
		return f&flagPunct != 0 || (r >= 0 && r < 128 && ascii[r])
	}
}

// inRanges returns a class of literal code point ranges; non-ASCII whitespace
// never matches, because llama.cpp replaces it by \v before matching.
func inRanges(ranges [][2]rune) class {
	rs := append([][2]rune(nil), ranges...)
	sort.Slice(rs, func(i, j int) bool { return rs[i][0] < rs[j][0] })
	return func(r rune, f cpFlags) bool {
		if r > 0x7F && f&flagWhitespace != 0 {
			return false
		}
		i := sort.Search(len(rs), func(i int) bool { return rs[i][1] >= r })
		return i < len(rs) && rs[i][0] <= r
	}
}

// cjkRanges is [一-龥ࠀ-一가-퟿] (U+4E00–U+9FA5, U+0800–U+4E00, U+AC00–U+D7FF).
var cjkRanges = [][2]rune{{0x0800, 0x9FA5}, {0xAC00, 0xD7FF}}

// deepseekPunctRanges is DeepSeek-LLM's [!-/:-~！-／：-～‘-‟　-。].
var deepseekPunctRanges = [][2]rune{
	{0x21, 0x2F}, {0x3A, 0x7E}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E}, {0x2018, 0x201F}, {0x3000, 0x3002},
}

// deepseekLetterRanges is DeepSeek-LLM's letter class: the cased letters (L&)
// of the Unicode version it was written for, A-Za-z through U+1E943.
var deepseekLetterRanges = [][2]rune{
	{0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x1BA},
	{0x1BC, 0x1BF}, {0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373}, {0x376, 0x377},
	{0x37B, 0x37D}, {0x37F, 0x37F}, {0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C},
	{0x38E, 0x3A1}, {0x3A3, 0x3F5}, {0x3F7, 0x481}, {0x48A, 0x52F}, {0x531, 0x556},
	{0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF},
	{0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15}, {0x1F18, 0x1F1D},
	{0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B},
	{0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE},
	{0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC},
	{0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113},
	{0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126}, {0x2128, 0x2128},
	{0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F}, {0x2145, 0x2149},
	{0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE},
	{0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787},
	{0xA78B, 0xA78E}, {0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A},
	{0xFF41, 0xFF5A}, {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
	{0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
}
