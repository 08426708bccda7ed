package tokenizer

// symbol is a piece of the text being merged by the SentencePiece and BPE
// tokenizers, linked to its neighbours (−1 at either end).
type symbol struct {
	start, n   int
	prev, next int
}

// appendChars appends text's characters to syms as linked symbols, split by
// UTF-8 lead byte without validation (as llama.cpp splits them).
func appendChars[S ~string | ~[]byte](syms []symbol, text S) []symbol {
	base := len(syms)
	for off := 0; off < len(text); {
		n := min(utf8Len(text[off]), len(text)-off)
		i := len(syms)
		next := i + 1
		if off+n == len(text) {
			next = -1
		}
		prev := i - 1
		if i == base {
			prev = -1
		}
		syms = append(syms, symbol{start: off, n: n, prev: prev, next: next})
		off += n
	}
	return syms
}

// mergeSymbols joins the symbol at right into its left neighbour left and
// reports whether it did. A queued pair is stale, and is not merged, when a
// merge since it was queued emptied either symbol or changed their combined
// length from size (as llama.cpp checks).
func mergeSymbols(syms []symbol, left, right, size int) bool {
	l, r := &syms[left], &syms[right]
	if l.n == 0 || r.n == 0 || l.n+r.n != size {
		return false
	}
	l.n += r.n
	r.n = 0
	l.next = r.next
	if r.next >= 0 {
		syms[r.next].prev = left
	}
	return true
}
