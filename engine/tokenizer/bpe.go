package tokenizer

// Byte-level BPE tokenization, as llama.cpp's llm_tokenizer_bpe.

// bpeBigram is a candidate merge of two adjacent symbols.
type bpeBigram struct {
	left, right int
	rank        int32
	size        int
}

// before orders lower ranks first, then the leftmost.
func (b bpeBigram) before(x bpeBigram) bool {
	return b.rank < x.rank || (b.rank == x.rank && b.left < x.left)
}

// maxCachedWords bounds the per-call cache of tokenized words.
const maxCachedWords = 1 << 16

type bpeSession struct {
	t     *Tokenizer
	cp    []rune
	fl    []cpFlags
	raw   []byte
	enc   []byte
	key   []byte
	syms  []symbol
	q     queue[bpeBigram]
	cache map[string][]int32
}

// encodeBPE tokenizes the fragments.
func (t *Tokenizer) encodeBPE(out []int32, text string, frags []fragment) []int32 {
	s := bpeSession{t: t}
	for _, fr := range frags {
		if fr.tok >= 0 {
			out = append(out, fr.tok)
			continue
		}
		out = s.tokenize(out, text[fr.start:fr.end])
	}
	return out
}

// tokenize pre-tokenizes text into words and merges each word.
func (s *bpeSession) tokenize(out []int32, text string) []int32 {
	s.cp = decodeCpts(s.cp[:0], text)
	s.fl = cptFlags(s.fl, s.cp)
	pieces := s.t.pre.split(s.cp, s.fl)
	if s.cache == nil && len(pieces) > 64 {
		s.cache = make(map[string][]int32)
	}
	start := 0
	for _, n := range pieces {
		s.raw = s.raw[:0]
		for _, r := range s.cp[start : start+n] {
			s.raw = appendCpt(s.raw, r)
		}
		start += n
		if ids, ok := s.cache[string(s.raw)]; ok {
			out = append(out, ids...)
			continue
		}
		n0 := len(out)
		out = s.word(out)
		if s.cache != nil && len(s.cache) < maxCachedWords {
			s.cache[string(s.raw)] = append([]int32(nil), out[n0:]...)
		}
	}
	return out
}

// word merges the byte-encoded s.raw, lowest rank first.
func (s *bpeSession) word(out []int32) []int32 {
	t := s.t
	s.enc = appendByteEncoded(s.enc[:0], s.raw)
	enc := s.enc
	if len(enc) == 0 {
		return out
	}
	if t.pre.ignoreMerges {
		if id, ok := t.ids[string(enc)]; ok {
			return append(out, id)
		}
	}
	s.syms = appendChars(s.syms[:0], enc)
	s.q.reset()
	for i := 1; i < len(s.syms); i++ {
		s.tryAdd(i-1, i)
	}
	for s.q.len() > 0 {
		b := s.q.pop()
		if !mergeSymbols(s.syms, b.left, b.right, b.size) {
			continue
		}
		l := &s.syms[b.left]
		s.tryAdd(l.prev, b.left)
		s.tryAdd(b.left, l.next)
	}
	for _, sym := range s.syms {
		if sym.n == 0 {
			continue
		}
		piece := enc[sym.start : sym.start+sym.n]
		if id, ok := t.ids[string(piece)]; ok {
			out = append(out, id)
			continue
		}
		// Not a token: each byte of the encoded piece that is a token by itself.
		for j := range piece {
			if id, ok := t.ids[string(piece[j:j+1])]; ok {
				out = append(out, id)
			}
		}
	}
	return out
}

func (s *bpeSession) tryAdd(left, right int) {
	if left < 0 || right < 0 {
		return
	}
	l, r := s.syms[left], s.syms[right]
	s.key = append(append(append(s.key[:0], s.enc[l.start:l.start+l.n]...), ' '), s.enc[r.start:r.start+r.n]...)
	rank, ok := s.t.ranks[string(s.key)]
	if !ok {
		return
	}
	s.q.push(bpeBigram{left: left, right: right, rank: rank, size: l.n + r.n})
}
