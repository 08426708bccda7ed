package tokenizer

// SentencePiece-style tokenization, as llama.cpp's llm_tokenizer_spm.

// spmBigram is a candidate merge of two adjacent symbols.
type spmBigram struct {
	left, right int
	score       float32
	size        int
}

// before orders higher scores first, then the leftmost.
func (b spmBigram) before(x spmBigram) bool {
	return b.score > x.score || (b.score == x.score && b.left < x.left)
}

// encodeSPM tokenizes the fragments. Raw text gets a leading space when it
// starts the input or follows a special token (add_space_prefix), and spaces
// become ▁.
func (t *Tokenizer) encodeSPM(out []int32, text string, frags []fragment) []int32 {
	var s spmSession
	prevSpecial := true
	var buf []byte
	for _, fr := range frags {
		if fr.tok >= 0 {
			out = append(out, fr.tok)
			prevSpecial = true
			continue
		}
		buf = buf[:0]
		if t.addSpacePrefix && prevSpecial {
			buf = append(buf, "▁"...)
		}
		for i := fr.start; i < fr.end; i++ {
			if c := text[i]; c == ' ' {
				buf = append(buf, "▁"...)
			} else {
				buf = append(buf, c)
			}
		}
		out = s.tokenizeText(t, out, string(buf))
		prevSpecial = false
	}
	return out
}

type spmSession struct {
	syms  []symbol
	q     queue[spmBigram]
	cache map[string][]int32
}

// maxCachedSegments bounds the per-call cache of tokenized segments.
const maxCachedSegments = 1 << 16

// spmChar packs the bytes of a character into an integer (little-endian).
// Distinct characters may share a code only when one is cut short by the end
// of the text, which can only make splitSegments split less.
func spmChar(s string) uint32 {
	var c uint32
	for i := len(s) - 1; i >= 0; i-- {
		c = c<<8 | uint32(s[i])
	}
	return c
}

// spmPair is the spmPairs key of character a followed by character b.
func spmPair(a, b uint32) uint64 { return uint64(a)<<32 | uint64(b) }

// buildSPMPairs records every pair of adjacent characters inside a token.
// No merge can join two characters that never appear side by side in a
// token, so the text can be cut there and each part merged on its own: the
// parts share no candidate pair, and within a part the merge order (score,
// then leftmost) is unchanged. This keeps the priority queues small; one
// queue over a megabyte of text spends its time in cache misses.
func (t *Tokenizer) buildSPMPairs() {
	t.spmPairs = make(map[uint64]struct{})
	for _, tok := range t.tokens {
		prev, havePrev := uint32(0), false
		for off := 0; off < len(tok); {
			n := min(utf8Len(tok[off]), len(tok)-off)
			c := spmChar(tok[off : off+n])
			if havePrev {
				t.spmPairs[spmPair(prev, c)] = struct{}{}
			}
			prev, havePrev = c, true
			off += n
		}
	}
}

// tokenizeText cuts text where no token can span and tokenizes each segment.
func (s *spmSession) tokenizeText(t *Tokenizer, out []int32, text string) []int32 {
	start, prev := 0, uint32(0)
	for off := 0; off < len(text); {
		n := min(utf8Len(text[off]), len(text)-off)
		c := spmChar(text[off : off+n])
		if off > start {
			if _, joined := t.spmPairs[spmPair(prev, c)]; !joined {
				out = s.segment(t, out, text[start:off])
				start = off
			}
		}
		prev = c
		off += n
	}
	return s.segment(t, out, text[start:])
}

// segment tokenizes one segment, through the cache.
func (s *spmSession) segment(t *Tokenizer, out []int32, seg string) []int32 {
	if ids, ok := s.cache[seg]; ok {
		return append(out, ids...)
	}
	n0 := len(out)
	out = s.tokenize(t, out, seg)
	if s.cache == nil {
		s.cache = make(map[string][]int32)
	}
	if len(s.cache) < maxCachedSegments {
		s.cache[seg] = append([]int32(nil), out[n0:]...)
	}
	return out
}

// tokenize splits text into UTF-8 characters (by lead byte, unvalidated) and
// repeatedly merges the adjacent pair that forms the highest-scoring token.
// Final symbols that are not tokens are emitted as byte tokens.
func (s *spmSession) tokenize(t *Tokenizer, out []int32, text string) []int32 {
	if text == "" {
		return out
	}
	s.syms = appendChars(s.syms[:0], text)
	s.q.reset()
	for i := 1; i < len(s.syms); i++ {
		s.tryAdd(t, text, i-1, i)
	}
	for s.q.len() > 0 {
		b := s.q.pop()
		if !mergeSymbols(s.syms, b.left, b.right, b.size) {
			continue
		}
		l := &s.syms[b.left]
		s.tryAdd(t, text, l.prev, b.left)
		s.tryAdd(t, text, b.left, l.next)
	}
	for i := 0; i >= 0; i = s.syms[i].next {
		sym := s.syms[i]
		piece := text[sym.start : sym.start+sym.n]
		if id, ok := t.ids[piece]; ok {
			out = append(out, id)
			continue
		}
		for j := 0; j < len(piece); j++ {
			if id := t.byteTokens[piece[j]]; id >= 0 {
				out = append(out, id)
			}
		}
	}
	return out
}

func (s *spmSession) tryAdd(t *Tokenizer, text string, left, right int) {
	if left < 0 || right < 0 {
		return
	}
	start, size := s.syms[left].start, s.syms[left].n+s.syms[right].n
	id, ok := t.ids[text[start:start+size]]
	if !ok {
		return
	}
	s.q.push(spmBigram{left: left, right: right, score: t.scores[id], size: size})
}

// buildByteTokens finds each byte's fallback token: "<0xXX>", else the byte
// itself as a token, else the unknown token (llama.cpp would fail instead).
func (t *Tokenizer) buildByteTokens() {
	const hex = "0123456789ABCDEF"
	for b := range t.byteTokens {
		id, ok := t.ids[string([]byte{'<', '0', 'x', hex[b>>4], hex[b&15], '>'})]
		if !ok {
			id, ok = t.ids[string([]byte{byte(b)})]
		}
		if !ok {
			id = t.unk
		}
		t.byteTokens[b] = id
	}
}
