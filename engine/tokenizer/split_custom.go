package tokenizer

// splitter refines pieces: given the code points, their flags and the current
// piece lengths (in code points), it returns the new piece lengths. Each piece
// is processed on its own, as llama.cpp's unicode_regex_split does.
type splitter func(cp []rune, fl []cpFlags, pieces []int) []int

// span is one piece being scanned: code points [ini, end) of cp. Positions at
// or past end read as -1 with zero flags, as llama.cpp's OUT_OF_RANGE.
type span struct {
	cp       []rune
	fl       []cpFlags
	ini, end int
	pos      int   // next code point to scan; equals the end of the last emitted piece
	out      []int // emitted piece lengths
}

func (s *span) at(i int) rune {
	if i < s.end {
		return s.cp[i]
	}
	return -1
}

func (s *span) flags(i int) cpFlags {
	if i < s.end {
		return s.fl[i]
	}
	return 0
}

// emit ends the current piece at e.
func (s *span) emit(e int) {
	if e > s.pos {
		s.out = append(s.out, e-s.pos)
	}
	s.pos = e
}

// eachSpan runs scan over every piece.
func eachSpan(cp []rune, fl []cpFlags, pieces []int, scan func(*span)) []int {
	s := span{cp: cp, fl: fl, out: make([]int, 0, len(pieces)+len(cp)/3)}
	start := 0
	for _, n := range pieces {
		s.ini, s.end, s.pos = start, start+n, start
		scan(&s)
		start += n
	}
	return s.out
}

const flagsWLN = flagWhitespace | flagLetter | flagNumber

// contraction returns the length of an English contraction ('s 't 're 've 'm
// 'll 'd) at pos, 0 if none; fold makes the letters case-insensitive.
func (s *span) contraction(pos int, fold bool) int {
	if s.cp[pos] != '\'' || pos+1 >= s.end {
		return 0
	}
	lower := func(r rune) rune {
		if fold && r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	switch n := lower(s.cp[pos+1]); n {
	case 's', 't', 'm', 'd':
		return 2
	case 'r', 'v', 'l':
		if pos+2 < s.end {
			nn := lower(s.cp[pos+2])
			if (n == 'r' && nn == 'e') || (n == 'v' && nn == 'e') || (n == 'l' && nn == 'l') {
				return 3
			}
		}
	}
	return 0
}

// whitespace handles the trailing alternatives shared by the GPT-2 and Llama-3
// scanners: \s+(?!\S)|\s+ (with \s*[\r\n]+ first when rn is set).
func (s *span) whitespace(rn bool) {
	pos := s.pos
	n, lastRN := 0, -1
	for s.flags(pos+n)&flagWhitespace != 0 {
		if c := s.cp[pos+n]; rn && (c == '\r' || c == '\n') {
			lastRN = pos + n + 1
		}
		n++
	}
	switch {
	case lastRN >= 0: // \s*[\r\n]+
		s.emit(lastRN)
	case n > 1 && pos+n < s.end: // \s+(?!\S): leave the last space to the next word
		s.emit(pos + n - 1)
	case n > 0: // \s+
		s.emit(pos + n)
	default:
		s.emit(pos + 1)
	}
}

// splitGPT2 is llama.cpp's custom scanner for the GPT-2 expression
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func splitGPT2(cp []rune, fl []cpFlags, pieces []int) []int {
	return eachSpan(cp, fl, pieces, scanGPT2)
}

func scanGPT2(s *span) {
	for s.pos < s.end {
		pos := s.pos
		if n := s.contraction(pos, false); n > 0 {
			s.emit(pos + n)
			continue
		}
		c, f := s.cp[pos], s.fl[pos]
		lead := 0
		if c == ' ' {
			f, lead = s.flags(pos+1), 1
		}
		e := pos + lead
		switch {
		case f&flagLetter != 0: // ' ?\p{L}+'
			for s.flags(e)&flagLetter != 0 {
				e++
			}
			s.emit(e)
		case f&flagNumber != 0: // ' ?\p{N}+'
			for s.flags(e)&flagNumber != 0 {
				e++
			}
			s.emit(e)
		case f&flagsWLN == 0 && f != 0: // ' ?[^\s\p{L}\p{N}]+'
			for g := f; g&flagsWLN == 0 && g != 0; g = s.flags(e) {
				e++
			}
			s.emit(e)
		default:
			s.whitespace(false)
		}
	}
}

// splitLlama3 is llama.cpp's custom scanner for the Llama-3 expression
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func splitLlama3(cp []rune, fl []cpFlags, pieces []int) []int {
	return eachSpan(cp, fl, pieces, func(s *span) { scanLlama3(s, 3, flagLetter) })
}

// splitQwen2 is llama.cpp's custom scanner for the Qwen2 expression, the
// Llama-3 one with \p{N} instead of \p{N}{1,3}.
func splitQwen2(cp []rune, fl []cpFlags, pieces []int) []int {
	return eachSpan(cp, fl, pieces, func(s *span) { scanLlama3(s, 1, flagLetter) })
}

// splitQwen35 is llama.cpp's custom scanner for the Qwen3.5 expression
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// the Qwen2 one with combining marks (\p{M}) joining the letter runs, so a
// base letter and its decomposed accents stay in one word.
func splitQwen35(cp []rune, fl []cpFlags, pieces []int) []int {
	return eachSpan(cp, fl, pieces, func(s *span) { scanLlama3(s, 1, flagLetter|flagMark) })
}

// scanLlama3 scans the Llama-3 family of expressions: at most maxDigits
// numbers per word, and word the flags of a word code point (\p{L}, or
// [\p{L}\p{M}] for Qwen3.5), which the punctuation alternative excludes.
func scanLlama3(s *span, maxDigits int, word cpFlags) {
	notPunct := flagWhitespace | flagNumber | word
	for s.pos < s.end {
		pos := s.pos
		if n := s.contraction(pos, true); n > 0 {
			s.emit(pos + n)
			continue
		}
		c, f := s.cp[pos], s.fl[pos]
		// [^\r\n\p{L}\p{N}]?\p{L}+ (or [\p{L}\p{M}]+): a word code point
		// that is not itself a letter (a mark) is taken as the optional
		// prefix, which matches the same text.
		if c != '\r' && c != '\n' && f&flagNumber == 0 && (f&word != 0 || s.flags(pos+1)&word != 0) {
			e := pos + 1
			for s.flags(e)&word != 0 {
				e++
			}
			s.emit(e)
			continue
		}
		// \p{N}{1,maxDigits}
		if f&flagNumber != 0 {
			for e, ini := pos, pos; s.flags(e)&flagNumber != 0; {
				e++
				if e-ini >= maxDigits || s.flags(e)&flagNumber == 0 {
					s.emit(e)
					ini = e
				}
			}
			continue
		}
		// ' ?[^\s\p{L}\p{N}]+[\r\n]*' (llama.cpp tests the flags of c itself here)
		f2, e := f, pos
		if c == ' ' {
			f2, e = s.flags(pos+1), pos+1
		}
		if f2&notPunct == 0 && f != 0 {
			for g := f2; g&notPunct == 0 && g != 0; g = s.flags(e) {
				e++
			}
			for r := s.at(e); r == '\r' || r == '\n'; r = s.at(e) {
				e++
			}
			s.emit(e)
			continue
		}
		s.whitespace(true)
	}
}
