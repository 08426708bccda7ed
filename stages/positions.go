package stages

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Kept-position encodings (SPEC §6). The stream holds one list per keep set:
// one for granularity global, one per layer, or one per (layer, KV head).
const (
	posAll    byte = iota // every list is 0..T−1; the stream is empty
	posGaps               // per list: uvarint count, first position, then gaps
	posBitmap             // per list: ⌈T/8⌉ bytes, bit t (LSB first) set when t is kept
)

// posStream is an encoded kept-position stream.
type posStream struct {
	kind   byte
	zstd   bool
	raw    []byte // gaps or bitmap bytes before zstd (empty for posAll)
	stored []byte // the bytes in the file (raw itself unless zstd)
	// gapsBytes and bitmapBytes are the smallest sizes of the two encodings
	// (with or without zstd) and the raw T-bit bitmap size the reference counts.
	gapsBytes, bitmapBytes, bitmapRawBytes int
}

// name is the encoding as reports show it: all, gaps, gaps+zstd, bitmap,
// bitmap+zstd.
func (p *posStream) name() string { return posEncodingName(p.kind, p.zstd) }

func posEncodingName(kind byte, z bool) string {
	s := [...]string{posAll: "all", posGaps: "gaps", posBitmap: "bitmap"}[kind]
	if z {
		s += "+zstd"
	}
	return s
}

// gapsEncode appends the gaps encoding of lists (each strictly increasing).
func gapsEncode(dst []byte, lists [][]int32) []byte {
	for _, l := range lists {
		dst = binary.AppendUvarint(dst, uint64(len(l)))
		prev := int32(0)
		for _, p := range l {
			dst = binary.AppendUvarint(dst, uint64(p-prev))
			prev = p
		}
	}
	return dst
}

// bitmapEncode appends the bitmap encoding of lists (positions < T).
func bitmapEncode(dst []byte, lists [][]int32, T int) []byte {
	for _, l := range lists {
		start := len(dst)
		dst = append(dst, make([]byte, (T+7)/8)...)
		for _, p := range l {
			dst[start+int(p)/8] |= 1 << (p % 8)
		}
	}
	return dst
}

// encodePositions picks the smallest encoding of the kept-position lists:
// posAll when nothing is evicted, else the smallest of gaps and bitmap, each
// raw or zstd-compressed.
func encodePositions(lists [][]int32, T int) (*posStream, error) {
	full := true
	for _, l := range lists {
		full = full && len(l) == T
	}
	bitmapRaw := len(lists) * ((T + 7) / 8)
	if full {
		return &posStream{kind: posAll, bitmapRawBytes: bitmapRaw}, nil
	}
	enc, err := zstdEncoder(posLevel)
	if err != nil {
		return nil, err
	}
	best := &posStream{bitmapRawBytes: bitmapRaw}
	for _, c := range []struct {
		kind byte
		raw  []byte
		size *int
	}{
		{posGaps, gapsEncode(nil, lists), &best.gapsBytes},
		{posBitmap, bitmapEncode(nil, lists, T), &best.bitmapBytes},
	} {
		stored, z := c.raw, false
		if zc := enc.EncodeAll(c.raw, nil); len(zc) < len(c.raw) {
			stored, z = zc, true
		}
		*c.size = len(stored)
		if c.kind == posGaps || len(stored) < len(best.stored) { // gaps first; bitmap only when smaller
			best.kind, best.zstd, best.raw, best.stored = c.kind, z, c.raw, stored
		}
	}
	return best, nil
}

// posIndex holds the kept positions in memory in their compact gaps form
// (uvarints: per list a count, the first position, then gaps) with an index
// of where each block starts, so a block's positions decode without touching
// the others. Lists: as the layout says (one per span with granularity
// global, one per layer, or one per (layer, KV head)).
type posIndex struct {
	all       bool // every list is 0..T−1; gaps is empty
	T, block  int
	layout    listLayout
	gaps      []byte
	count     []int32  // kept positions per list
	listBlock []int32  // list l owns blocks [listBlock[l], listBlock[l+1])
	blkOff    []uint32 // offset in gaps of the block's first entry
	blkPrev   []int32  // position before the block (0 for block 0: its first entry is raw)
	maxCount  int32
}

func (p *posIndex) list(layer, head int) int { return p.layout.list(layer, head) }

func (p *posIndex) bytes() int64 {
	return int64(cap(p.gaps)) + 4*int64(cap(p.count)+cap(p.listBlock)+cap(p.blkOff)+cap(p.blkPrev)) + p.layout.bytes()
}

// decodeRows writes the positions of rows skip … skip+len(out)−1 of block i
// of list li into out. The index was validated when it was built.
func (p *posIndex) decodeRows(li, i, skip int, out []int32) {
	if p.all {
		for r := range out {
			out[r] = int32(i*p.block + skip + r)
		}
		return
	}
	b := int(p.listBlock[li]) + i
	off, prev := int(p.blkOff[b]), p.blkPrev[b]
	for range skip {
		v, n := binary.Uvarint(p.gaps[off:])
		off += n
		prev += int32(v)
	}
	for r := range out {
		v, n := binary.Uvarint(p.gaps[off:])
		off += n
		prev += int32(v)
		out[r] = prev
	}
}

// decodeList returns list li decoded, newly allocated.
func (p *posIndex) decodeList(li int) []int32 {
	n := int(p.count[li])
	l := make([]int32, n)
	for i := 0; i*p.block < n; i++ {
		p.decodeRows(li, i, 0, l[i*p.block:min(n, (i+1)*p.block)])
	}
	return l
}

// lists returns every list decoded (for writing the stream again).
func (p *posIndex) lists() [][]int32 {
	out := make([][]int32, len(p.count))
	for li := range out {
		out[li] = p.decodeList(li)
	}
	return out
}

// buildPosIndex parses the raw kept-position stream of kind (gaps or bitmap,
// empty for all) into the in-memory index, checking every field: list count
// for the layout, counts in 1..T, positions strictly increasing, within the
// list's span (≥ its first position lo) and < T, nothing left over.
func buildPosIndex(kind byte, raw []byte, layout listLayout, T, block int) (posIndex, error) {
	p := posIndex{T: T, block: block, layout: layout}
	nLists := layout.count()
	switch kind {
	case posAll:
		if len(raw) != 0 {
			return p, fmt.Errorf("positions: kind all with %d stream bytes, want 0", len(raw))
		}
		for l := range nLists {
			if lo := layout.span(l).lo; lo > 0 {
				return p, fmt.Errorf("positions: kind all, but list %d holds only positions from %d (a sliding window)", l, lo)
			}
		}
		p.all = true
		p.count = make([]int32, nLists)
		for i := range p.count {
			p.count[i] = int32(T)
		}
		p.maxCount = int32(T)
		return p, nil
	case posBitmap:
		per := (T + 7) / 8
		if len(raw) != nLists*per {
			return p, fmt.Errorf("positions: bitmap of %d bytes, want %d lists × %d", len(raw), nLists, per)
		}
		if T%8 != 0 {
			for l := range nLists {
				if raw[(l+1)*per-1]>>(T%8) != 0 {
					return p, fmt.Errorf("positions: bitmap list %d has bits at or past T=%d", l, T)
				}
			}
		}
		// Convert to the gaps form, which is what the index holds.
		lists := make([][]int32, nLists)
		for l := range lists {
			var ps []int32
			for j, b := range raw[l*per : (l+1)*per] {
				for b != 0 {
					t := bits.TrailingZeros8(b)
					ps = append(ps, int32(j*8+t))
					b &= b - 1
				}
			}
			lists[l] = ps
		}
		raw = gapsEncode(nil, lists)
	case posGaps:
	default:
		return p, fmt.Errorf("positions: unknown kind %d", kind)
	}
	if uint64(len(raw)) >= 1<<32 {
		return p, fmt.Errorf("positions: stream of %d bytes, want < 4 GiB", len(raw))
	}
	p.gaps = raw
	p.count = make([]int32, nLists)
	p.listBlock = make([]int32, nLists+1)
	off := 0
	uv := func(what string, l int) (uint64, error) {
		v, n := binary.Uvarint(raw[off:])
		if n <= 0 {
			return 0, fmt.Errorf("positions: list %d %s at stream byte %d: truncated or overlong uvarint", l, what, off)
		}
		off += n
		return v, nil
	}
	for l := range nLists {
		n, err := uv("count", l)
		if err != nil {
			return p, err
		}
		if n < 1 || n > uint64(T) {
			return p, fmt.Errorf("positions: list %d count %d, want 1..T=%d", l, n, T)
		}
		p.count[l] = int32(n)
		p.maxCount = max(p.maxCount, int32(n))
		prev := int64(0)
		for i := range int(n) {
			if i%block == 0 {
				p.blkOff = append(p.blkOff, uint32(off))
				p.blkPrev = append(p.blkPrev, int32(prev))
			}
			g, err := uv("position", l)
			if err != nil {
				return p, err
			}
			if i > 0 && g == 0 {
				return p, fmt.Errorf("positions: list %d entry %d: gap 0 (positions must increase)", l, i)
			}
			if g >= uint64(T) || prev+int64(g) >= int64(T) {
				return p, fmt.Errorf("positions: list %d entry %d: position past T=%d", l, i, T)
			}
			prev += int64(g)
			if lo := layout.span(l).lo; i == 0 && prev < int64(lo) {
				return p, fmt.Errorf("positions: list %d starts at position %d, before its sliding window's first position %d", l, prev, lo)
			}
		}
		p.listBlock[l+1] = int32(len(p.blkOff))
	}
	if off != len(raw) {
		return p, fmt.Errorf("positions: %d bytes left after %d lists", len(raw)-off, nLists)
	}
	return p, nil
}
