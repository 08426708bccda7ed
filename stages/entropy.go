package stages

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Entropy stage (SPEC §6): delta coding of code rows, zstd frames per block,
// and the encodings of the two side streams (kept positions, scales).
//
// Everything here works on byte matrices: a group (one layer, K or V, one KV
// head) is n rows of rowBytes bytes, each row W codes of cb bytes (int8, or
// int16 little-endian), or for float16 groups d halves of 2 bytes.

// zstdLevels maps the zstd_level setting to klauspost/compress levels.
var zstdLevels = map[string]zstd.EncoderLevel{
	"fastest": zstd.SpeedFastest,
	"default": zstd.SpeedDefault,
	"better":  zstd.SpeedBetterCompression,
	"best":    zstd.SpeedBestCompression,
}

// posLevel is the zstd level of the kept-positions stream. It is fixed, not
// zstd_level, because the evict stage reports the position bytes and must not
// depend on an entropy-stage setting; the stream is tiny either way.
const posLevel = "best"

var (
	zstdEncMu sync.Mutex
	zstdEncs  = map[string]*zstd.Encoder{}

	zstdDecOnce sync.Once
	zstdDec     *zstd.Decoder
	zstdDecErr  error
)

// zstdEncoder returns the process-wide encoder for level, created on first use
// and reused (EncodeAll is safe for concurrent use; it runs up to GOMAXPROCS
// encodes at once). Frames carry no zstd checksum (every stream of the file
// has its own CRC) and are single-segment, so their header always declares the
// content size, which readers check before decoding.
func zstdEncoder(level string) (*zstd.Encoder, error) {
	lv, ok := zstdLevels[level]
	if !ok {
		return nil, fmt.Errorf("zstd_level %q: want one of %v", level, settingZstdLevels)
	}
	zstdEncMu.Lock()
	defer zstdEncMu.Unlock()
	if e := zstdEncs[level]; e != nil {
		return e, nil
	}
	e, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(lv),
		zstd.WithEncoderCRC(false),
		zstd.WithSingleSegment(true), // frame header always declares the content size
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
	if err != nil {
		return nil, fmt.Errorf("zstd encoder %s: %w", level, err)
	}
	zstdEncs[level] = e
	return e, nil
}

// zstdDecoder returns the process-wide decoder. DecodeAll is limited to the
// capacity of the destination, so a frame never decodes to more than the
// caller expects.
func zstdDecoder() (*zstd.Decoder, error) {
	zstdDecOnce.Do(func() {
		zstdDec, zstdDecErr = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecodeAllCapLimit(true))
	})
	return zstdDec, zstdDecErr
}

// errFrameSize is returned when a frame does not hold exactly the bytes its
// place in the file implies.
var errFrameSize = errors.New("decoded size differs from the expected size")

// zstdHeader parses the header of the zstd frame at the start of frame.
func zstdHeader(frame []byte) (zstd.Header, error) {
	var h zstd.Header
	if err := h.Decode(frame); err != nil {
		return h, fmt.Errorf("zstd frame header: %w", err)
	}
	return h, nil
}

// zstdDecodeExact decodes one zstd frame into dst[:0] (grown to want if
// needed) and checks that it holds exactly want bytes. The frame header must
// declare its content size, equal to want, before anything is decoded.
func zstdDecodeExact(dst, frame []byte, want int) ([]byte, error) {
	if err := checkZstdFrame(frame, want); err != nil {
		return dst, err
	}
	dec, err := zstdDecoder()
	if err != nil {
		return dst, err
	}
	if cap(dst) < want {
		dst = make([]byte, 0, want)
	}
	out, err := dec.DecodeAll(frame, dst[:0])
	if err != nil {
		return dst, fmt.Errorf("zstd: %w", err)
	}
	if len(out) != want {
		return out, errFrameSize
	}
	return out, nil
}

// deltaRows appends to dst the delta coding of src, n rows of rowBytes: row 0
// as is, row t minus row t−1, per code of cb bytes (1: int8, 2: int16 LE), with
// wrap-around in the code width. It works on 8 bytes at a time (SWAR lane
// arithmetic, no carry between codes); deltaRowsRef is its plain twin.
func deltaRows(dst, src []byte, rowBytes, cb int) []byte {
	start := len(dst)
	dst = slices.Grow(dst, len(src))[:start+len(src)]
	out := dst[start:]
	copy(out, src[:min(rowBytes, len(src))])
	h := swarHigh(cb)
	words := (len(src) - rowBytes) / 8
	for i := range max(words, 0) {
		t := rowBytes + 8*i
		x := binary.LittleEndian.Uint64(src[t : t+8])
		y := binary.LittleEndian.Uint64(src[t-rowBytes : t-rowBytes+8])
		binary.LittleEndian.PutUint64(out[t:t+8], ((x|h)-(y&^h))^((x^^y)&h))
	}
	deltaTail(out, src, rowBytes, cb, rowBytes+8*max(words, 0))
	return dst
}

// undeltaRows inverts deltaRows in place.
func undeltaRows(b []byte, rowBytes, cb int) { undeltaFrom(b, rowBytes, cb, rowBytes) }

// undeltaFrom inverts deltaRows in place from byte t on (a multiple of
// rowBytes, ≥ rowBytes): the bytes before t must be un-delta'd already.
func undeltaFrom(b []byte, rowBytes, cb, t int) {
	h := swarHigh(cb)
	if rowBytes >= 8 { // lanes of one word never depend on each other
		for ; t+8 <= len(b); t += 8 {
			x := binary.LittleEndian.Uint64(b[t:])
			y := binary.LittleEndian.Uint64(b[t-rowBytes:])
			binary.LittleEndian.PutUint64(b[t:], ((x&^h)+(y&^h))^((x^y)&h))
		}
	}
	undeltaTail(b, rowBytes, cb, t)
}

// swarHigh is the mask of each lane's top bit for lanes of cb bytes.
func swarHigh(cb int) uint64 {
	if cb == 1 {
		return 0x8080808080808080
	}
	return 0x8000800080008000
}

// deltaTail and undeltaTail are the scalar code from byte t on.
func deltaTail(out, src []byte, rowBytes, cb, t int) {
	if cb == 1 {
		for ; t < len(out); t++ {
			out[t] = src[t] - src[t-rowBytes]
		}
		return
	}
	for ; t+1 < len(out); t += 2 {
		v := binary.LittleEndian.Uint16(src[t:]) - binary.LittleEndian.Uint16(src[t-rowBytes:])
		binary.LittleEndian.PutUint16(out[t:], v)
	}
}

func undeltaTail(b []byte, rowBytes, cb, t int) {
	if cb == 1 {
		for ; t < len(b); t++ {
			b[t] += b[t-rowBytes]
		}
		return
	}
	for ; t+1 < len(b); t += 2 {
		v := binary.LittleEndian.Uint16(b[t:]) + binary.LittleEndian.Uint16(b[t-rowBytes:])
		binary.LittleEndian.PutUint16(b[t:], v)
	}
}

// deltaRowsRef is deltaRows one code at a time: the definition the fast
// version is tested against.
func deltaRowsRef(dst, src []byte, rowBytes, cb int) []byte {
	start := len(dst)
	dst = append(dst, src...)
	deltaTail(dst[start:], src, rowBytes, cb, rowBytes)
	return dst
}

// frameWord packs a frame's stored length and its raw flag (bit 0) as the
// file's frame table holds them.
func frameWord(n int, raw bool) uint64 {
	w := uint64(n) << 1
	if raw {
		w |= 1
	}
	return w
}

// appendFrame appends src to dst as one frame: a zstd frame when enc is non-nil
// and that is smaller, else src itself (a raw frame). It returns the new dst
// and the frame's word (see frameWord).
func appendFrame(dst, src []byte, enc *zstd.Encoder) ([]byte, uint64) {
	if enc != nil && len(src) > 0 {
		start := len(dst)
		dst = enc.EncodeAll(src, dst)
		if n := len(dst) - start; n < len(src) {
			return dst, frameWord(n, false)
		}
		dst = dst[:start]
	}
	return append(dst, src...), frameWord(len(src), true)
}

// appendScaleFrame appends the scale frame of one block's scales to dst: the
// high bytes of the float16 values as one frame (zstd when enc is non-nil and
// that is smaller, else raw), then the low bytes raw. It returns dst, the
// frame's word (its whole length; the raw flag is the high plane's) and the
// high plane scratch for reuse.
//
// Why two planes: a scale's high byte (sign, exponent, two mantissa bits)
// takes few values, its low byte is mantissa noise (7.96 bits per byte on
// stories260K) that no entropy coder shrinks and that, interleaved, dilutes
// the high bytes' Huffman table. Per block frames coded so are smaller than
// the scales as one zstd stream (stories260K balanced, 480 tokens: 12,655 B
// against 14,055; random K2V2 report: 36,783 against 43,037), where
// interleaved per block frames would be 6–9% larger.
func appendScaleFrame(dst []byte, scales []uint16, enc *zstd.Encoder, hi []byte) ([]byte, uint64, []byte) {
	hi = hi[:0]
	for _, v := range scales {
		hi = append(hi, byte(v>>8))
	}
	start := len(dst)
	dst, w := appendFrame(dst, hi, enc)
	for _, v := range scales {
		dst = append(dst, byte(v))
	}
	return dst, frameWord(len(dst)-start, w&1 == 1), hi
}

// groupEncoder turns one group's row bytes into frames. It owns a delta
// scratch buffer, so use one per goroutine.
type groupEncoder struct {
	enc     *zstd.Encoder // nil: raw frames only (row codecs other than nexusquant)
	delta   bool          // delta-code rows (quantized groups only)
	block   int           // rows per frame (block_tokens)
	scratch []byte        // delta-coded block, or a high-byte scale plane
	out     []byte        // frames of the group being encoded
}

// encodeScales appends the scale frames of one group's scales (one per block
// of block rows) to dst and their words to words.
func (g *groupEncoder) encodeScales(dst []byte, words []uint64, scales []uint16) ([]byte, []uint64) {
	for r0 := 0; r0 < len(scales); r0 += g.block {
		var w uint64
		dst, w, g.scratch = appendScaleFrame(dst, scales[r0:min(len(scales), r0+g.block)], g.enc, g.scratch)
		words = append(words, w)
	}
	return dst, words
}

// unblockedScales is the stored size of one group's scales as one scale
// frame (the figure blocking is compared against).
func (g *groupEncoder) unblockedScales(scales []uint16) int {
	var w uint64
	_, w, g.scratch = appendScaleFrame(nil, scales, g.enc, g.scratch)
	return int(w >> 1)
}

// encode appends the frames of rows (n rows of rowBytes bytes, codes of cb
// bytes) to dst and their words to words. With delta, the delta restarts at
// every block.
func (g *groupEncoder) encode(dst []byte, words []uint64, rows []byte, rowBytes, cb int, delta bool) ([]byte, []uint64) {
	n := len(rows) / rowBytes
	for r0 := 0; r0 < n; r0 += g.block {
		r1 := min(n, r0+g.block)
		src := rows[r0*rowBytes : r1*rowBytes]
		if delta {
			g.scratch = deltaRows(g.scratch[:0], src, rowBytes, cb)
			src = g.scratch
		}
		var w uint64
		dst, w = appendFrame(dst, src, g.enc)
		words = append(words, w)
	}
	return dst, words
}

// unblockedSize is the stored size of rows as one frame (delta over the whole
// group, no restarts): the figure blocking is compared against. Groups of one
// block cost what their blocked frame cost, so pass that as blocked.
func (g *groupEncoder) unblockedSize(rows []byte, rowBytes, cb int, delta bool, blocked int) int {
	if len(rows) <= g.block*rowBytes || g.enc == nil {
		return blocked
	}
	src := rows
	if delta {
		g.scratch = deltaRows(g.scratch[:0], rows, rowBytes, cb)
		src = g.scratch
	}
	buf := g.enc.EncodeAll(src, make([]byte, 0, len(src)/2))
	return min(len(buf), len(src))
}

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
// the others. Lists: one (granularity global), one per layer, or one per
// (layer, KV head).
type posIndex struct {
	all         bool // every list is 0..T−1; gaps is empty
	T, block    int
	granularity string // the lists: one (global), per layer, or per (layer, head)
	kvHeads     int
	gaps        []byte
	count       []int32  // kept positions per list
	listBlock   []int32  // list l owns blocks [listBlock[l], listBlock[l+1])
	blkOff      []uint32 // offset in gaps of the block's first entry
	blkPrev     []int32  // position before the block (0 for block 0: its first entry is raw)
	maxCount    int32
}

func (p *posIndex) list(layer, head int) int {
	return groupIndex(p.granularity, p.kvHeads, layer, head)
}

func (p *posIndex) bytes() int64 {
	return int64(cap(p.gaps)) + 4*int64(cap(p.count)+cap(p.listBlock)+cap(p.blkOff)+cap(p.blkPrev))
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

// lists returns every list decoded (for writing the stream again).
func (p *posIndex) lists() [][]int32 {
	out := make([][]int32, len(p.count))
	for li := range out {
		n := int(p.count[li])
		l := make([]int32, n)
		for i := 0; i*p.block < n; i++ {
			p.decodeRows(li, i, 0, l[i*p.block:min(n, (i+1)*p.block)])
		}
		out[li] = l
	}
	return out
}

// buildPosIndex parses the raw kept-position stream of kind (gaps or bitmap,
// empty for all) into the in-memory index, checking every field: list count
// for the granularity, counts in 1..T, positions strictly increasing and < T,
// nothing left over.
func buildPosIndex(kind byte, raw []byte, granularity string, layers, kvHeads, T, block int) (posIndex, error) {
	p := posIndex{T: T, block: block, granularity: granularity, kvHeads: kvHeads}
	nLists := groupCount(granularity, layers, kvHeads)
	switch kind {
	case posAll:
		if len(raw) != 0 {
			return p, fmt.Errorf("positions: kind all with %d stream bytes, want 0", len(raw))
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
		}
		p.listBlock[l+1] = int32(len(p.blkOff))
	}
	if off != len(raw) {
		return p, fmt.Errorf("positions: %d bytes left after %d lists", len(raw)-off, nLists)
	}
	return p, nil
}
