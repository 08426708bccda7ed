package tokenizer

import (
	"sync"
	"unicode"
)

// cpFlags classifies a code point as llama.cpp's unicode_cpt_flags: exactly
// one general-category bit (or flagUndefined for unassigned code points) plus
// flagWhitespace for the White_Space property. The zero value means "outside
// the current piece", which the scanners rely on.
type cpFlags uint16

const (
	flagUndefined cpFlags = 1 << iota
	flagNumber
	flagLetter
	flagSeparator
	flagMark
	flagPunct
	flagSymbol
	flagControl
	flagWhitespace
)

var (
	bmpOnce  sync.Once
	bmpFlags []cpFlags
)

// flagsOf returns the flags of r, from a table for the BMP.
func flagsOf(r rune) cpFlags {
	if r >= 0 && r < 0x10000 {
		bmpOnce.Do(buildBMPFlags)
		return bmpFlags[r]
	}
	return classify(r)
}

func buildBMPFlags() {
	t := make([]cpFlags, 0x10000)
	for r := range t {
		t[r] = classify(rune(r))
	}
	bmpFlags = t
}

// classify computes the flags of r from Go's Unicode 15.0 tables, patched to
// the Unicode 15.1 data llama.cpp was generated from.
func classify(r rune) cpFlags {
	if r < 0 || r > unicode.MaxRune {
		return flagUndefined
	}
	var f cpFlags
	switch {
	case unicode.IsLetter(r) || (r >= 0x2EBF0 && r <= 0x2EE5D): // 15.1: CJK Extension I
		f = flagLetter
	case unicode.IsNumber(r):
		f = flagNumber
	case unicode.IsMark(r):
		f = flagMark
	case unicode.IsPunct(r):
		f = flagPunct
	case unicode.IsSymbol(r) || (r >= 0x2FFC && r <= 0x2FFF) || r == 0x31EF: // 15.1 additions
		f = flagSymbol
	case unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp):
		f = flagSeparator
	case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs):
		// unicode.C would also include unassigned code points.
		f = flagControl
	default:
		f = flagUndefined
	}
	if unicode.Is(unicode.White_Space, r) {
		f |= flagWhitespace
	}
	return f
}

// cptFlags fills fl with the flags of each code point of cp.
func cptFlags(fl []cpFlags, cp []rune) []cpFlags {
	fl = fl[:0]
	for _, r := range cp {
		fl = append(fl, flagsOf(r))
	}
	return fl
}
