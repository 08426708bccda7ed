package stages

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

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
// encoderWindow is the zstd window of the encoders. A frame is one block of
// block_tokens code rows (32 KiB at the defaults), so a window of 1 MiB
// loses no match inside a frame of up to 1 MiB, while zstd's default of
// 8 MiB made the process-wide encoders hold about 140 MiB.
const encoderWindow = 1 << 20

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
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithWindowSize(encoderWindow))
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

// entropyOut is the entropy stage's output in a Pipeline: the Compressed and
// the figures of the report that are measured on it when it is built.
type entropyOut struct {
	c               *Compressed
	unblocked       int64 // row-stream bytes with one frame per group
	unblockedScales int64 // scales bytes with one scale frame per group
	resident        int64 // c.ResidentBytes after the decode measurement
	reader          int64 // c.ReaderBytes
	heads           []HeadFigures
	layers          []LayerFigures
	errSums
}

func (o *entropyOut) sums() *errSums { return &o.errSums }

// groupFrames are one group's frames and scale frames and their words.
type groupFrames struct {
	frames, scaleFrames []byte
	words, scaleWords   []uint64
}

// encodeFrames encodes every group's rows into frames, in parallel over
// (layer, head) with one groupEncoder per worker: quantized groups from the
// quantize stage's codes (delta, zstd), others through their RowCodec
// (zstd for nexusquant's float16 layers, raw for a RowCodec method).
func (p *Pipeline) encodeFrames(ctx context.Context, s Settings, ev *evictOut, qo *quantOut, encs []*groupEncoder) ([]groupFrames, error) {
	kv := p.kv
	d := kv.HeadDim
	w := codeWidth(d, s)
	gf := make([]groupFrames, 2*kv.Layers*kv.KVHeads)
	err := p.forHeads(ctx, func(worker, layer, head int) error {
		ge := encs[worker]
		pos := ev.list(layer, head)
		for kvi := range 2 {
			g := p.group(layer, kvi, head)
			out := &gf[g]
			if qo.codes != nil && qo.codes[g] != nil {
				codes := qo.codes[g]
				cb := len(codes) / (len(pos) * w)
				// Encode into the worker's buffer, keep an exact copy: no
				// append growth, little garbage.
				ge.out, out.words = ge.encode(ge.out[:0], nil, codes, w*cb, cb, s.Delta)
				out.frames = append([]byte(nil), ge.out...)
				ge.out, out.scaleWords = ge.encodeScales(ge.out[:0], nil, qo.scales[g])
				out.scaleFrames = append([]byte(nil), ge.out...)
				continue
			}
			rc := p.codecFor(s, layer)
			var rows []float32
			var buf []byte
			for r0 := 0; r0 < len(pos); r0 += s.BlockTokens {
				blk := pos[r0:min(len(pos), r0+s.BlockTokens)]
				rows = p.gather(rows, kvi == 0, layer, head, blk)
				buf = rc.Encode(buf[:0], rows, d, kvi == 0)
				if want := rc.EncodedLen(len(blk), d); len(buf) != want {
					return fmt.Errorf("row codec %s: encoded %d rows to %d bytes, EncodedLen says %d", rc.Name(), len(blk), len(buf), want)
				}
				var word uint64
				out.frames, word = appendFrame(out.frames, buf, ge.enc)
				out.words = append(out.words, word)
			}
		}
		return nil
	})
	return gf, err
}

// runEntropy: SPEC §6. Builds the frames, the scale frames and the
// Compressed; measures one frame per group (the blocking cost) and the error
// of a full decode through ReadBlock, per (layer, head) and in all. It reads
// ev and qo and never modifies them.
func (p *Pipeline) runEntropy(ctx context.Context, s Settings, ev *evictOut, qo *quantOut) (*entropyOut, error) {
	kv := p.kv
	d := kv.HeadDim
	var enc *zstd.Encoder // nil: raw frames (row-codec methods)
	if p.nexus(s) {
		var err error
		if enc, err = zstdEncoder(s.ZstdLevel); err != nil {
			return nil, err
		}
	}
	encs := make([]*groupEncoder, p.workers)
	for i := range encs {
		encs[i] = &groupEncoder{block: s.BlockTokens, enc: enc}
	}
	gf, err := p.encodeFrames(ctx, s, ev, qo, encs)
	if err != nil {
		return nil, err
	}
	w := codeWidth(d, s)
	// Concatenate in group order.
	var total, nWords, sTotal, sWords int
	for i := range gf {
		total += len(gf[i].frames)
		nWords += len(gf[i].words)
		sTotal += len(gf[i].scaleFrames)
		sWords += len(gf[i].scaleWords)
	}
	pt := &parts{modelID: p.modelID, layers: kv.Layers, kvHeads: kv.KVHeads, headDim: d,
		width: w, T: kv.T, s: p.effective(s), attn: normAttn(kv.Attn),
		posKind: ev.pos.kind, posZstd: ev.pos.zstd, posStoredLen: len(ev.pos.stored),
		frames: make([]byte, 0, total), words: make([]uint64, 0, nWords),
		scaleFrames: make([]byte, 0, sTotal), scaleWords: make([]uint64, 0, sWords)}
	for i := range gf {
		pt.frames = append(pt.frames, gf[i].frames...)
		pt.words = append(pt.words, gf[i].words...)
		pt.scaleFrames = append(pt.scaleFrames, gf[i].scaleFrames...)
		pt.scaleWords = append(pt.scaleWords, gf[i].scaleWords...)
		gf[i] = groupFrames{}
	}
	// posRaw is shared with the evict stage's output; assemble keeps it.
	pt.posRaw = append([]byte(nil), ev.pos.raw...)
	c, err := assemble(pt, p.rope)
	if err != nil {
		return nil, fmt.Errorf("assembling the compressed cache: %w", err)
	}
	out := &entropyOut{c: c}
	start := time.Now()
	if err := p.measureUnblocked(ctx, s, qo, ev, encs, w, out); err != nil {
		return nil, err
	}
	out.measure += time.Since(start)
	if err := p.measureDecode(ctx, out); err != nil {
		return nil, err
	}
	out.resident = c.ResidentBytes()
	out.reader = c.ReaderBytes()
	return out, nil
}

// measureDecode decodes everything through ReadBlock: the entropy stage's
// error is the error of what the model will read. It fills out's sums and
// its per-(layer, head) figures.
func (p *Pipeline) measureDecode(ctx context.Context, out *entropyOut) error {
	c := out.c
	blocks := make([]*Block, p.workers)
	for i := range blocks {
		blocks[i] = c.NewBlock()
	}
	per, err := p.measureTasks(ctx, &out.errSums, func(worker, layer, head int, t *errSums) error {
		blk := blocks[worker]
		var ref []float32
		var diff, norm [2]float64 // the group's sums, in the order measureRows adds them
		for i := range c.NumBlocks(layer, head) {
			if err := c.ReadBlock(layer, head, i, blk); err != nil {
				return err
			}
			for kvi, got := range [2][]float32{blk.K, blk.V} {
				ref = p.gather(ref, kvi == 0, layer, head, blk.Pos)
				diff[kvi], norm[kvi] = sqErr(diff[kvi], norm[kvi], got, ref)
			}
		}
		for kvi := range 2 {
			t.diff[kvi] += diff[kvi]
			t.ref[kvi] += norm[kvi]
		}
		return nil
	})
	// Keep the decode buffers of one reader (one scratch, one Block), so the
	// report's ResidentBytes does not depend on this machine's core count.
	for _, b := range blocks {
		c.ReleaseBlock(b)
	}
	c.pool.trim(1, 1)
	if err != nil {
		return err
	}
	out.heads = make([]HeadFigures, len(per))
	for i := range per {
		layer, head := i/p.kv.KVHeads, i%p.kv.KVHeads
		h := HeadFigures{Layer: layer, Head: head, Kept: c.Kept(layer, head)}
		h.RelErrK, h.RelErrV = per[i].relErrs()
		out.heads[i] = h
	}
	out.layers = p.layerFigures(c, per)
	return nil
}

// layerFigures are the per-layer figures of a built cache with the decode
// error sums per (layer, head) in per, layer-major.
func (p *Pipeline) layerFigures(c *Compressed, per []errSums) []LayerFigures {
	H := p.kv.KVHeads
	out := c.LayerFigures()
	for l := range out {
		var sum errSums
		for h := range H {
			for j := range 2 {
				sum.diff[j] += per[l*H+h].diff[j]
				sum.ref[j] += per[l*H+h].ref[j]
			}
		}
		out[l].RelErrK, out[l].RelErrV = sum.relErrs()
	}
	return out
}

// storageName names how a layer is stored (LayerFigures.Storage).
func storageName(rc RowCodec) string {
	switch rc.(type) {
	case nil:
		return "quantized"
	case f16Codec:
		return "float16"
	}
	return rc.Name()
}

// measureUnblocked computes the row-stream and scales bytes with one frame
// (and one scale frame) per group.
func (p *Pipeline) measureUnblocked(ctx context.Context, s Settings, qo *quantOut, ev *evictOut, encs []*groupEncoder, w int, out *entropyOut) error {
	kv := p.kv
	c := out.c
	per := make([]int64, 2*kv.Layers*kv.KVHeads)
	perScales := make([]int64, len(per))
	err := p.forHeads(ctx, func(worker, layer, head int) error {
		ge := encs[worker]
		for kvi := range 2 {
			g := p.group(layer, kvi, head)
			blocked := 0
			for f := int(c.groupFrame[g]); f < int(c.groupFrame[g+1]); f++ {
				fr, _ := c.frame(f)
				blocked += len(fr)
			}
			codes := qo.codes
			if codes != nil && codes[g] != nil {
				cb := len(codes[g]) / (c.Kept(layer, head) * w)
				per[g] = int64(ge.unblockedSize(codes[g], w*cb, cb, s.Delta, blocked))
				perScales[g] = int64(ge.unblockedScales(qo.scales[g]))
				continue
			}
			if _, f16 := c.rowCodecFor(layer).(f16Codec); f16 && s.Method == MethodNexusQuant {
				pos := ev.list(layer, head)
				rows := p.gather(nil, kvi == 0, layer, head, pos)
				raw := f16Codec{}.Encode(nil, rows, kv.HeadDim, kvi == 0)
				per[g] = int64(ge.unblockedSize(raw, 2*kv.HeadDim, 2, false, blocked))
				continue
			}
			per[g] = int64(blocked)
		}
		return nil
	})
	for g, v := range per {
		out.unblocked += v
		out.unblockedScales += perScales[g]
	}
	return err
}
