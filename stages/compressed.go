package stages

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"sync"
)

// Block is one decoded block of a (layer, KV head): n kept tokens, their
// original positions (strictly increasing) and their key and value rows, n rows
// of HeadDim floats each, row-major. Keys have RoPE applied at their original
// positions, ready for attention. The caller owns a Block; ReadBlock resizes
// its slices, reusing their capacity.
type Block struct {
	Pos  []int32
	K, V []float32
}

// Compressed is the packed prefix cache the model decodes from, one read
// block at a time (SPEC §6–7). For every (layer, K/V, KV head) it holds the
// kept rows as frames of block_tokens rows (zstd or raw), each frame of a
// quantized layer with its scale frame (the rows' float16 scales), plus the
// kept positions. ReadBlock decodes one read block — R consecutive rows of
// one frame, see ReadBlockRows — into the caller's Block, so the float form
// of a layer never exists. Until PrepareDecode, nothing is held decoded: a
// read block is decoded from its stored frame with a small pooled scratch
// (the decode buffers stay a small share of the stored bytes). A cache that
// is decoded from calls PrepareDecode once, which keeps the decode form
// resident — the frames decompressed and un-delta'd, codes packed at 4 or 8
// bits, about a tenth of the float16 baseline at 2 bits (decodeform.go) —
// and ReadBlock serves every read block from it without zstd, with the same
// read blocks and bit for bit the same floats.
//
// A Compressed is immutable after construction (Pipeline.Run or
// ReadCompressed); any number of goroutines may call its methods at once.
type Compressed struct {
	modelID                             string
	layers, kvHeads, headDim, prefixLen int
	width                               int // code row width DPad (multiple of 8)
	s                                   Settings
	attn                                []LayerAttn // per layer; nil when every layer is plain
	rope                                RoPEFunc
	codec                               RowCodec      // the method's codec; nil for nexusquant
	q                                   [2]*Quantizer // nexusquant: key and value quantizers
	had                                 *Hadamard     // nexusquant with hadamard=true
	frames                              []byte        // every row frame, group order
	frameEnd                            []uint64      // frame f is frames[frameEnd[f-1]:frameEnd[f]]
	frameRaw                            []uint64      // bit f set: frame f is stored raw
	groupFrame                          []int32       // group g owns frames [groupFrame[g], groupFrame[g+1])
	scaleFrames                         []byte        // the scale frame of every frame of a quantized group, frame order
	scaleEnd                            []uint64      // scale frame s is scaleFrames[scaleEnd[s-1]:scaleEnd[s]]
	scaleRaw                            []uint64      // bit s set: scale frame s's high-byte plane is stored raw
	scaleBase                           int           // frame f of a quantized layer's group has scale frame f − scaleBase …
	scaleSkip                           []int32       // … or f − scaleSkip[layer] when float16 layers lie between quantized ones
	readRows, perFrame                  int           // R, and read blocks per full frame ⌈B/R⌉
	maxRaw, maxHi                       int           // scratch sizes: largest frame and high-byte plane decoded into scratch
	pos                                 posIndex
	posKind                             byte
	posZstd                             bool
	posStored                           []byte // the file's positions stream; only for caches read from a file
	stored                              StoredSizes
	pool                                scratchPool
	dform                               decodeFormState // built by PrepareDecode
}

// Read-block rule (see ReadBlockRows).
const (
	// readerShare: one reader's decode buffers may hold at most 1/readerShare
	// of the stored bytes (≈ 3%) when R can be chosen to make them.
	readerShare = 32
	// minReadRows is the smallest R the rule picks (unless block_tokens is
	// smaller): below it the per-call cost of ReadBlock and of attention's
	// per-block bookkeeping dominates.
	minReadRows = 8
)

// StoredSizes are the bytes of the .nqkv encoding by stream; they sum to the
// file size.
type StoredSizes struct {
	// Codes: the row frames of quantized layers (and of a RowCodec method).
	Codes int64 `json:"codes"`
	// Scales: the scale frames as stored (high-byte planes raw or zstd, low
	// bytes raw).
	Scales int64 `json:"scales"`
	// Positions: the kept-position stream as stored.
	Positions int64 `json:"positions"`
	// Header: magic, version, header, frame tables and the four CRCs.
	Header int64 `json:"header"`
	// FP16Layers: the row frames stored as float16 (protect_boundary layers,
	// method none).
	FP16Layers int64 `json:"fp16_layers"`
}

// Total is the file size.
func (s StoredSizes) Total() int64 {
	return s.Codes + s.Scales + s.Positions + s.Header + s.FP16Layers
}

// Dims returns the cache shape: layers, KV heads and head dimension.
func (c *Compressed) Dims() (layers, kvHeads, headDim int) {
	return c.layers, c.kvHeads, c.headDim
}

// PrefixLen returns T, the number of prefix positions the cache was built from;
// continuation tokens continue at position T.
func (c *Compressed) PrefixLen() int { return c.prefixLen }

// ModelID returns the caller-supplied model identity recorded with the cache;
// the caller checks it against the model it decodes with.
func (c *Compressed) ModelID() string { return c.modelID }

// Settings returns the settings the cache was built with.
func (c *Compressed) Settings() Settings { return c.s }

// Layer returns layer l's attention as the cache records it (sliding window,
// RoPE, QK-norm); the zero LayerAttn for a plain layer or l out of range.
func (c *Compressed) Layer(l int) LayerAttn { return layerAttn(c.attn, l) }

// CachedTokens returns how many prefix positions layer l's float16 cache
// holds: the prefix length, or a sliding window when it is shorter.
func (c *Compressed) CachedTokens(l int) int {
	if w := c.Layer(l).Window; w > 0 {
		return min(w, c.prefixLen)
	}
	return c.prefixLen
}

// BaselineBytes is the float16 cache the packed one replaces (SPEC §7, with
// sliding windows): 2 bytes × 2 (K, V) × KV heads × head dim per cached
// position of every layer (CachedTokens).
func (c *Compressed) BaselineBytes() int64 {
	var n int64
	for l := range c.layers {
		n += layerBaseline(c.CachedTokens(l), c.kvHeads, c.headDim)
	}
	return n
}

// layerBaseline is the float16 K and V of t positions of one layer.
func layerBaseline(t, kvHeads, headDim int) int64 {
	return 2 * int64(t) * 2 * int64(kvHeads) * int64(headDim)
}

// LayerBytes returns the stored bytes of layer l's row frames and scale
// frames (0 when out of range). Summed over the layers it is Stored().Codes
// + Scales + FP16Layers; positions and header are shared by every layer.
func (c *Compressed) LayerBytes(l int) int64 {
	if l < 0 || l >= c.layers {
		return 0
	}
	g0, g1 := c.group(l, 0, 0), c.group(l+1, 0, 0)
	f0, f1 := int(c.groupFrame[g0]), int(c.groupFrame[g1])
	n := int64(frameOffset(c.frameEnd, f1) - frameOffset(c.frameEnd, f0))
	if c.rowCodecFor(l) == nil && f1 > f0 {
		s0, s1 := c.scaleIndex(l, f0), c.scaleIndex(l, f1-1)+1
		n += int64(frameOffset(c.scaleEnd, s1) - frameOffset(c.scaleEnd, s0))
	}
	return n
}

// LayerFigures returns the per-layer figures the cache tells by itself:
// type, storage, cached and kept positions, baseline and stored bytes (the
// errors are 0: a Pipeline's Report measures them against the original).
func (c *Compressed) LayerFigures() []LayerFigures {
	out := make([]LayerFigures, c.layers)
	for l := range out {
		a := c.Layer(l)
		f := LayerFigures{Layer: l, Kind: a.Kind(), LayerAttn: a,
			RoPEUndone: c.rowCodecFor(l) == nil && c.ropeUndone(l), Storage: c.LayerStorage(l),
			Cached: c.CachedTokens(l), StoredBytes: c.LayerBytes(l)}
		f.BaselineBytes = layerBaseline(f.Cached, c.kvHeads, c.headDim)
		for h := range c.kvHeads {
			f.Kept += c.Kept(l, h)
		}
		out[l] = f
	}
	return out
}

// LayerStorage names how layer l's rows are stored: "quantized", "float16"
// (protect_boundary, or a sliding layer under sliding_layers float16) or the
// row codec's name (LayerFigures.Storage).
func (c *Compressed) LayerStorage(l int) string { return storageName(c.rowCodecFor(l)) }

// frameOffset is where frame f starts in a stream whose frame f ends at
// ends[f].
func frameOffset(ends []uint64, f int) uint64 {
	if f == 0 {
		return 0
	}
	return ends[f-1]
}

// PositionEncoding names how the kept positions are stored: all, gaps,
// gaps+zstd, bitmap or bitmap+zstd.
func (c *Compressed) PositionEncoding() string { return posEncodingName(c.posKind, c.posZstd) }

// ScalesEncoding names how the scales are stored: "none" when no layer is
// quantized; else each block's scales are one scale frame, the high bytes of
// the float16 values followed by the low bytes, and the name says whether the
// high-byte planes are zstd ("hi-zstd/lo-raw"), raw ("raw"), or zstd in only
// some frames ("hi-zstd/lo-raw in k of n frames").
func (c *Compressed) ScalesEncoding() string {
	n := len(c.scaleEnd)
	if n == 0 {
		return "none"
	}
	raw := 0
	for _, w := range c.scaleRaw {
		raw += bits.OnesCount64(w)
	}
	switch raw {
	case 0:
		return "hi-zstd/lo-raw"
	case n:
		return "raw"
	}
	return fmt.Sprintf("hi-zstd/lo-raw in %d of %d frames", n-raw, n)
}

// Kept returns the number of kept tokens of (layer, head), or 0 when out of range.
func (c *Compressed) Kept(layer, head int) int {
	if layer < 0 || layer >= c.layers || head < 0 || head >= c.kvHeads {
		return 0
	}
	return int(c.pos.count[c.pos.list(layer, head)])
}

// Positions returns the kept prefix positions of (layer, head), ascending (a
// copy), or nil when out of range. Heads that share a keep list (every one
// with granularity global, those of a layer with granularity layer) return
// equal lists.
func (c *Compressed) Positions(layer, head int) []int32 {
	if layer < 0 || layer >= c.layers || head < 0 || head >= c.kvHeads {
		return nil
	}
	return c.pos.decodeList(c.pos.list(layer, head))
}

// ReadBlockRows returns R, the rows of a read block. ReadBlock serves each
// frame of B = block_tokens rows as ⌈B/R⌉ read blocks of R rows (the last of
// a frame may be shorter); a read block never crosses a frame.
//
// R is the largest of ⌈B/2^k⌉, k = 0, 1, …, at least 8 (B itself when B < 8),
// whose reader bytes (ReaderBytes at that R: one decode scratch plus one
// Block of R rows) are at most 1/32 of the stored bytes, or the smallest of
// them when none is. It depends only on the stored sizes, so a cache read
// from its file has the R it was written with. Large caches get R = B: on a
// Mistral-7B-shaped cache of 1024 tokens (K2V2, ρ 0.6) one reader holds
// 2.6% of the file at R = B. Tiny ones get small R: on stories260K (head_dim
// 8, 480 tokens, 40 frames of 212 rows) a frame's decompressed codes alone
// are 4% of the file, so R = 8. Methods other than nexusquant keep R = B: a
// RowCodec decodes only whole frames.
//
// The price of R < B is decode time. A read block needs its frame
// decompressed and un-delta'd up to its last row, and a reader's scratch holds
// one decompressed frame: it keeps the last frame it decoded (and how far it
// is un-delta'd), and ReadBlock decodes K and V in the order that starts with
// that frame, so reading a frame's s read blocks in order decompresses its K
// and V frames s+1 times in all instead of twice (the scale frames' high-byte
// planes likewise); un-delta and dequantization are done once per row.
// After PrepareDecode nothing is decompressed per read block, and R only
// sets the read blocks the model's attention folds in (R is kept, so the
// logits do not depend on whether the decode form was built).
func (c *Compressed) ReadBlockRows() int { return c.readRows }

// NumBlocks returns the number of read blocks of (layer, head), or 0 when out
// of range: ⌈B/R⌉ per full frame of B = block_tokens kept tokens, then
// ⌈m/R⌉ for a last frame of m < B. Read block i holds the kept tokens
// f·B + j·R … min(f·B + (j+1)·R, f·B + B, kept) − 1 with f = i / ⌈B/R⌉ and
// j = i mod ⌈B/R⌉ (see ReadBlockRows).
func (c *Compressed) NumBlocks(layer, head int) int {
	return c.numReadBlocks(c.Kept(layer, head))
}

// numReadBlocks is the number of read blocks of a list of n kept tokens.
func (c *Compressed) numReadBlocks(n int) int {
	B, R := c.s.BlockTokens, c.readRows
	return n/B*c.perFrame + (n%B+R-1)/R
}

// locate returns where read block i of a list of n kept tokens lies: frame f
// of its groups, the frame's rows, and the read block's first row within the
// frame and its row count.
func (c *Compressed) locate(n, i int) (f, frameRows, r0, nr int) {
	B := c.s.BlockTokens
	f, j := i/c.perFrame, i%c.perFrame
	frameRows = min(B, n-f*B)
	r0 = j * c.readRows
	return f, frameRows, r0, min(c.readRows, frameRows-r0)
}

// StoredBytes returns the stored size of each stream (see StoredSizes).
func (c *Compressed) StoredBytes() (codes, scales, positions, header, fp16Layers int64) {
	s := c.stored
	return s.Codes, s.Scales, s.Positions, s.Header, s.FP16Layers
}

// Stored returns StoredBytes as a struct.
func (c *Compressed) Stored() StoredSizes { return c.stored }

// ResidentBytes is the memory the object holds, measured: the capacity of
// every byte, integer and float slice it owns — the row and scale frames as
// stored, the frame and position indexes, the decode form once PrepareDecode
// built it (DecodeFormBytes) — including the decode scratch it has pooled
// and the Blocks it handed out with NewBlock. Not included: the process-wide
// zstd decoder (shared by every Compressed), Blocks the caller allocated
// itself and the stack scratch of ReadBlock from the decode form (one code
// row and two DPad vectors per call while it runs).
func (c *Compressed) ResidentBytes() int64 {
	n := int64(cap(c.frames)+cap(c.scaleFrames)) +
		8*int64(cap(c.frameEnd)+cap(c.frameRaw)+cap(c.scaleEnd)+cap(c.scaleRaw)) +
		4*int64(cap(c.groupFrame)+cap(c.scaleSkip)) + 16*int64(cap(c.attn)) +
		int64(cap(c.posStored)) + int64(len(c.modelID)) + c.pos.bytes() +
		4*int64(c.hadPad()) // the Hadamard's sign/normalisation vector
	c.pool.mu.Lock()
	n += c.pool.bytes + c.pool.handed
	c.pool.mu.Unlock()
	return n + c.DecodeFormBytes()
}

// ReaderBytes is what one reader's decode buffers hold: one decode scratch
// (the largest frame and high-byte scale plane that decode through scratch,
// and three DPad vectors) and one Block of min(R, kept) rows. Each concurrent
// reader holds this much.
func (c *Compressed) ReaderBytes() int64 { return c.readerBytesAt(c.readRows) }

// readerBytesAt is ReaderBytes for read blocks of R rows.
func (c *Compressed) readerBytesAt(R int) int64 {
	rows := int64(min(R, int(c.pos.maxCount)))
	return c.scratchBytes() + 4*(rows+2*rows*int64(c.headDim))
}

// scratchBytes is the size of one blockScratch (see scratchPool.get).
func (c *Compressed) scratchBytes() int64 {
	return int64(c.maxRaw+c.maxHi) + 2*int64(c.width) + 4*int64(c.width+c.hadPad())
}

// hadPad is the Hadamard size DPad, or 0 without the Hadamard stage.
func (c *Compressed) hadPad() int {
	if c.had == nil {
		return 0
	}
	return c.had.DPad
}

// chooseReadRows sets R by the rule of ReadBlockRows; call it once the
// stored sizes and the scratch sizes are known.
func (c *Compressed) chooseReadRows() {
	B := c.s.BlockTokens
	R := B
	if c.codec == nil {
		limit := c.stored.Total() / readerShare
		for k := 1; k < 31 && c.readerBytesAt(R) > limit; k++ {
			r := (B + 1<<k - 1) >> k
			if r < minReadRows {
				break
			}
			R = r
		}
	}
	c.readRows, c.perFrame = R, (B+R-1)/R
}

// NewBlock returns a Block with room for the largest read block of c,
// reusing one given back with ReleaseBlock when there is one. Its bytes count
// in ResidentBytes for the life of c (decode buffers are part of what the
// cache costs); use it for every Block that reads from c so the measurement
// stays complete, and ReleaseBlock when done.
func (c *Compressed) NewBlock() *Block {
	p := &c.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.blocks); n > 0 {
		b := p.blocks[n-1]
		p.blocks = p.blocks[:n-1]
		return b
	}
	rows := min(c.readRows, int(c.pos.maxCount))
	b := &Block{
		Pos: make([]int32, 0, rows),
		K:   make([]float32, 0, rows*c.headDim),
		V:   make([]float32, 0, rows*c.headDim),
	}
	p.handed += 4 * int64(cap(b.Pos)+cap(b.K)+cap(b.V))
	return b
}

// ReleaseBlock gives back a Block from NewBlock for a later NewBlock to
// reuse; the caller must not use it afterwards.
func (c *Compressed) ReleaseBlock(b *Block) {
	if b == nil {
		return
	}
	p := &c.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocks = append(p.blocks, b)
}

// ReadBlock decodes read block i of (layer, head) (see NumBlocks and
// ReadBlockRows) into dst: zstd → un-delta → dequantize with each row's scale
// → inverse Hadamard → RoPE at the original positions (keys, when
// rope_undo). Protected layers decode from float16. Once PrepareDecode has
// built the decode form, the first two steps were done there and ReadBlock
// starts at the dequantization (same floats). It reuses dst's slices,
// growing them only when too small, and touches no other frame. Concurrent
// calls are safe when each has its own dst. A corrupt frame gives an error,
// never a panic.
func (c *Compressed) ReadBlock(layer, head, i int, dst *Block) error {
	if layer < 0 || layer >= c.layers || head < 0 || head >= c.kvHeads {
		return fmt.Errorf("ReadBlock: (layer %d, head %d) outside %d layers × %d KV heads", layer, head, c.layers, c.kvHeads)
	}
	li := c.pos.list(layer, head)
	n := int(c.pos.count[li])
	if nb := c.numReadBlocks(n); i < 0 || i >= nb {
		return fmt.Errorf("ReadBlock: block %d of (layer %d, head %d) outside 0..%d", i, layer, head, nb-1)
	}
	f, frameRows, r0, nr := c.locate(n, i)
	dst.Pos = growSlice(dst.Pos, nr)
	dst.K = growSlice(dst.K, nr*c.headDim)
	dst.V = growSlice(dst.V, nr*c.headDim)
	if form := c.dform.form.Load(); form != nil && c.codec == nil {
		if err := c.readResident(form, layer, head, li, f*c.s.BlockTokens+r0, nr, dst, false); err != nil {
			return fmt.Errorf("ReadBlock (layer %d, head %d) block %d: %w", layer, head, i, err)
		}
		return nil
	}
	c.pos.decodeRows(li, f, r0, dst.Pos)
	sc := c.pool.get(c)
	defer c.pool.put(sc)
	// Start with the frame the scratch holds, if it holds one of the two.
	order := [2]int{0, 1}
	if sc.frame == c.frameIndex(layer, 1, head, f) {
		order = [2]int{1, 0}
	}
	for _, kv := range order {
		out := dst.K
		if kv == 1 {
			out = dst.V
		}
		if err := c.decodeRows(sc, layer, kv, head, f, frameRows, r0, dst.Pos, out); err != nil {
			return fmt.Errorf("ReadBlock (layer %d, %s, head %d) block %d (frame %d, rows %d…%d): %w",
				layer, kvName(kv), head, i, f, r0, r0+nr-1, err)
		}
	}
	return nil
}

// ReadBlocks appends read blocks i, i+1, … of (layer, head) to dst's Pos, K
// and V, as many whole blocks as fit in maxRows rows, and returns the index
// of the first block not read (i when block i alone has more rows): the
// rows ReadBlock gives, block after block, in one call. From the decode form
// the run's rows are contiguous and decode in one pass; from the stored
// frames each block is read with ReadBlock into dst's free capacity. dst
// grows (reallocating) only where its capacity is short. It implements
// engine.BlockRunReader, through which attention reads a packed prefix.
func (c *Compressed) ReadBlocks(layer, head, i, maxRows int, dst *Block) (int, error) {
	return c.readBlocks(layer, head, i, maxRows, dst, false)
}

// readBlocks is ReadBlocks, with the values in the Hadamard basis when rotV
// (ReadBlocksRotatedV; the caller has checked RotatedV).
func (c *Compressed) readBlocks(layer, head, i, maxRows int, dst *Block, rotV bool) (int, error) {
	if layer < 0 || layer >= c.layers || head < 0 || head >= c.kvHeads {
		return i, fmt.Errorf("ReadBlocks: (layer %d, head %d) outside %d layers × %d KV heads", layer, head, c.layers, c.kvHeads)
	}
	li := c.pos.list(layer, head)
	n := int(c.pos.count[li])
	nb := c.numReadBlocks(n)
	if i < 0 || i >= nb {
		return i, fmt.Errorf("ReadBlocks: block %d of (layer %d, head %d) outside 0..%d", i, layer, head, nb-1)
	}
	// The run: blocks i … j−1, rows first … first+rows−1 of the kept list.
	f, _, r0, _ := c.locate(n, i)
	first := f*c.s.BlockTokens + r0
	j, rows := i, 0
	for j < nb {
		_, _, _, nr := c.locate(n, j)
		if rows+nr > maxRows {
			break
		}
		rows += nr
		j++
	}
	if j == i {
		return i, nil
	}
	d := c.headDim
	p0, k0 := len(dst.Pos), len(dst.K)
	if len(dst.K) != p0*d || len(dst.V) != p0*d {
		return i, fmt.Errorf("ReadBlocks: dst holds %d positions, %d key and %d value floats (head dim %d)", p0, len(dst.K), len(dst.V), d)
	}
	dst.Pos = growAppend(dst.Pos, rows)
	dst.K = growAppend(dst.K, rows*d)
	dst.V = growAppend(dst.V, rows*d)
	run := Block{Pos: dst.Pos[p0:], K: dst.K[k0:], V: dst.V[k0:]}
	if form := c.dform.form.Load(); form != nil && c.codec == nil {
		if err := c.readResident(form, layer, head, li, first, rows, &run, rotV); err != nil {
			return i, fmt.Errorf("ReadBlocks (layer %d, head %d) blocks %d…%d: %w", layer, head, i, j-1, err)
		}
		return j, nil
	}
	for b := i; b < j; b++ {
		_, _, _, nr := c.locate(n, b)
		blk := Block{Pos: run.Pos[:nr:nr], K: run.K[: nr*d : nr*d], V: run.V[: nr*d : nr*d]}
		if err := c.ReadBlock(layer, head, b, &blk); err != nil {
			return i, err
		}
		run.Pos, run.K, run.V = run.Pos[nr:], run.K[nr*d:], run.V[nr*d:]
	}
	return j, nil
}

// growAppend returns s extended by n elements (their values unspecified),
// reallocating only when cap(s) is short.
func growAppend[T any](s []T, n int) []T {
	if cap(s)-len(s) < n {
		t := make([]T, len(s)+n, 2*len(s)+n)
		copy(t, s)
		return t
	}
	return s[:len(s)+n]
}

func kvName(kv int) string { return [2]string{"K", "V"}[kv] }

// growSlice returns s resized to n, reallocating only when cap(s) < n.
func growSlice[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// group is the index of (layer, K/V, head) in stream order.
func (c *Compressed) group(layer, kv, head int) int { return (layer*2+kv)*c.kvHeads + head }

// frameIndex is the index of frame f of group (layer, kv, head).
func (c *Compressed) frameIndex(layer, kv, head, f int) int {
	return int(c.groupFrame[c.group(layer, kv, head)]) + f
}

// rowCodecFor returns the codec storing layer's rows, or nil for quantized
// layers: float16 for protected layers and, under sliding_layers float16,
// for sliding-window layers.
func (c *Compressed) rowCodecFor(layer int) RowCodec {
	if isProtected(layer, c.layers, c.s.ProtectBoundary) || slidingF16(c.s, c.Layer(layer)) {
		return f16Codec{}
	}
	return c.codec
}

// ropeUndone reports whether layer's keys were rotated back before
// quantization (so decoding rotates them again).
func (c *Compressed) ropeUndone(layer int) bool {
	return c.s.RoPEUndo && !c.Layer(layer).NoRoPE
}

// scaleIndex is the scale frame of frame f of a quantized layer's group:
// scale frames follow the quantized groups' frames in order, skipping the
// float16 layers' frames.
func (c *Compressed) scaleIndex(layer, f int) int {
	if c.scaleSkip != nil {
		return f - int(c.scaleSkip[layer])
	}
	return f - c.scaleBase
}

// isProtected reports whether layer is among the first or last n of L layers.
func isProtected(layer, L, n int) bool { return layer < n || layer >= L-n }

// frameWant is the decoded size of a frame of nr rows of group (layer, kv).
func (c *Compressed) frameWant(layer, kv, nr int) int {
	if rc := c.rowCodecFor(layer); rc != nil {
		return rc.EncodedLen(nr, c.headDim)
	}
	return nr * c.width * c.q[kv].CodeBytes()
}

// frame returns frame f's bytes and whether it is stored raw.
func (c *Compressed) frame(f int) ([]byte, bool) {
	return sliceFrame(c.frames, c.frameEnd, c.frameRaw, f)
}

// scaleFrame returns scale frame s's bytes and whether its high-byte plane
// is stored raw.
func (c *Compressed) scaleFrame(s int) ([]byte, bool) {
	return sliceFrame(c.scaleFrames, c.scaleEnd, c.scaleRaw, s)
}

func sliceFrame(b []byte, end, raw []uint64, f int) ([]byte, bool) {
	start := uint64(0)
	if f > 0 {
		start = end[f-1]
	}
	return b[start:end[f]], bitSet(raw, f)
}

// bitSet reports whether bit i of the bit set b (64 per word) is set.
func bitSet(b []uint64, i int) bool { return b[i/64]>>(i%64)&1 == 1 }

// setBit sets bit i of the bit set b.
func setBit(b []uint64, i int) { b[i/64] |= 1 << (i % 64) }

// decodeRows decodes rows r0 … r0+len(pos)−1 of frame f (frameRows rows) of
// group (layer, kv, head) into out (len(pos) rows of headDim). It does only
// what those rows need: the frame is decompressed into sc (or, raw and
// delta-coded, copied up to the last row) unless sc holds it already, and
// un-delta'd only up to the last row.
func (c *Compressed) decodeRows(sc *blockScratch, layer, kv, head, f, frameRows, r0 int, pos []int32, out []float32) error {
	nr := len(pos)
	r1 := r0 + nr
	fi := c.frameIndex(layer, kv, head, f)
	frame, raw := c.frame(fi)
	want := c.frameWant(layer, kv, frameRows)
	if raw && len(frame) != want {
		return fmt.Errorf("raw frame of %d bytes, want %d", len(frame), want)
	}
	rc := c.rowCodecFor(layer)
	d := c.headDim
	data := frame
	if !raw || (rc == nil && c.s.Delta) {
		if sc.frame != fi {
			sc.frame, sc.done = -1, 0
			if raw {
				sc.raw = sc.raw[:0]
			} else {
				var err error
				if sc.raw, err = zstdDecodeExact(sc.raw, frame, want); err != nil {
					return err
				}
			}
			sc.frame = fi
		}
		if raw { // copy the delta-coded rows up to r1; never modify the stored frame
			if end := r1 * c.width * c.q[kv].CodeBytes(); len(sc.raw) < end {
				sc.raw = append(sc.raw, frame[len(sc.raw):end]...)
			}
		}
		data = sc.raw
	}
	if rc != nil {
		if r0 == 0 && nr == frameRows {
			return rc.Decode(out, data, d, kv == 0)
		}
		// Only float16 frames are read in parts: R = B for RowCodec methods.
		return f16Codec{}.Decode(out, data[2*d*r0:2*d*r1], d, kv == 0)
	}
	q := c.q[kv]
	cb := q.CodeBytes()
	rowBytes := c.width * cb
	if c.s.Delta && sc.done < r1 {
		undeltaFrom(data[:r1*rowBytes], rowBytes, cb, max(sc.done, 1)*rowBytes)
		sc.done = r1
	}
	hi, lo, err := c.scalePlanes(sc, c.scaleIndex(layer, fi), frameRows)
	if err != nil {
		return fmt.Errorf("scales: %w", err)
	}
	w := c.width
	codes, fv := sc.codes[:w], sc.f[:w]
	for r := range nr {
		unpackCodes(codes, data[(r0+r)*rowBytes:(r0+r+1)*rowBytes], cb)
		q.Decode(fv, codes, uint16(hi[r0+r])<<8|uint16(lo[r0+r]))
		dstRow := out[r*d : (r+1)*d]
		if c.had != nil {
			c.had.InverseScratch(dstRow, fv[:c.had.DPad], sc.hs)
		} else {
			copy(dstRow, fv[:d])
		}
	}
	if kv == 0 && c.ropeUndone(layer) {
		RedoRoPE(out[:nr*d], d, layer, pos, c.rope)
	}
	return nil
}

// unpackCodes reads one code row of len(dst) codes of cb bytes each (1:
// int8, 2: int16 little-endian) into dst.
func unpackCodes(dst []int16, row []byte, cb int) {
	row = row[:len(dst)*cb]
	if cb == 1 {
		for j, b := range row {
			dst[j] = int16(int8(b))
		}
		return
	}
	for j := range dst {
		dst[j] = int16(binary.LittleEndian.Uint16(row[2*j:]))
	}
}

// scalePlanes returns the high and low byte planes of scale frame si (m
// rows): the low plane and a raw high plane from the stored scale frame, a
// zstd high plane decompressed into sc (which keeps it for the next call).
func (c *Compressed) scalePlanes(sc *blockScratch, si, m int) (hi, lo []byte, err error) {
	fr, raw := c.scaleFrame(si)
	if len(fr) < m {
		return nil, nil, fmt.Errorf("scale frame of %d bytes, want at least %d", len(fr), m)
	}
	hi, lo = fr[:len(fr)-m], fr[len(fr)-m:]
	if raw {
		if len(hi) != m {
			return nil, nil, fmt.Errorf("raw scale frame of %d bytes, want %d", len(fr), 2*m)
		}
		return hi, lo, nil
	}
	if sc.hiFrame != si {
		sc.hiFrame = -1
		if sc.hi, err = zstdDecodeExact(sc.hi, hi, m); err != nil {
			return nil, nil, err
		}
		sc.hiFrame = si
	}
	return sc.hi, lo, nil
}

// blockScratch is the decode scratch of one reader: the decoded bytes of one
// frame (at most block_tokens·DPad·2), the high-byte plane of one scale frame
// (at most block_tokens bytes) and three DPad vectors. It remembers which
// frame and scale frame it holds, so consecutive read blocks of a frame
// reuse them.
type blockScratch struct {
	raw     []byte
	frame   int // the frame raw holds (delta-coded rows past done), or −1
	done    int // rows of raw already un-delta'd (row 0 never needs it)
	hi      []byte
	hiFrame int // the scale frame whose high-byte plane hi holds, or −1
	codes   []int16
	f, hs   []float32
	size    int64 // bytes last counted in scratchPool.bytes
}

func (s *blockScratch) bytes() int64 {
	return int64(cap(s.raw)+cap(s.hi)) + 2*int64(cap(s.codes)) + 4*int64(cap(s.f)+cap(s.hs))
}

// scratchPool keeps the decode scratch of a Compressed: one blockScratch per
// concurrent ReadBlock at most, never dropped, so its bytes are measurable.
type scratchPool struct {
	mu     sync.Mutex
	free   []*blockScratch
	bytes  int64    // every scratch ever created, at its current capacity
	blocks []*Block // Blocks given back with ReleaseBlock
	handed int64    // every Block NewBlock created, at its creation capacity
	// rowFree: the decode form's readers' scratch (counted in bytes).
	rowFree []*rowScratch
}

// get returns a pooled scratch or a new one at its full size (so ReadBlock
// never grows it, and its size is scratchBytes).
func (p *scratchPool) get(c *Compressed) *blockScratch {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		s := p.free[n-1]
		p.free = p.free[:n-1]
		return s
	}
	w := c.width
	s := &blockScratch{raw: make([]byte, 0, c.maxRaw), frame: -1, hi: make([]byte, 0, c.maxHi), hiFrame: -1,
		codes: make([]int16, w), f: make([]float32, w), hs: make([]float32, c.hadPad())}
	s.size = s.bytes()
	p.bytes += s.size
	return s
}

// trim drops pooled scratch beyond keep and given-back Blocks beyond
// keepBlocks, and stops counting them (the garbage collector frees them).
func (p *scratchPool) trim(keep, keepBlocks int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.free) > keep {
		s := p.free[len(p.free)-1]
		p.free = p.free[:len(p.free)-1]
		p.bytes -= s.size
	}
	for len(p.blocks) > keepBlocks {
		b := p.blocks[len(p.blocks)-1]
		p.blocks = p.blocks[:len(p.blocks)-1]
		p.handed -= 4 * int64(cap(b.Pos)+cap(b.K)+cap(b.V))
	}
}

func (p *scratchPool) put(s *blockScratch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	nb := s.bytes()
	p.bytes += nb - s.size
	s.size = nb
	p.free = append(p.free, s)
}

// RowCodec is the seam for storage methods other than nexusquant, such as
// llama.cpp-style q8_0/q4_0 blocks of 32 or KIVI: a method that encodes each
// block of kept rows (n rows of d floats; keys with RoPE applied, as the model
// attends with them) into a self-contained byte string. A registered codec is
// selectable as Settings.Method; the pipeline then runs score and evict (when
// Evicts), passes rope, hadamard and quantize through, and stores each block's
// encoding as one raw frame. Protected layers stay float16. Implementations
// must be safe for concurrent use and must not panic on any src.
type RowCodec interface {
	// Name is the method name (Settings.Method), stable: files record it.
	Name() string
	// Evicts reports whether the method keeps only the evict stage's positions
	// (false: every prefix row is stored).
	Evicts() bool
	// EncodedLen is the exact encoded size of n rows of d floats.
	EncodedLen(n, d int) int
	// Encode appends the encoding of rows (len a multiple of d) to dst.
	Encode(dst []byte, rows []float32, d int, isKey bool) []byte
	// Decode fills rows (n rows of d) from src, which holds EncodedLen(n, d)
	// bytes; it returns an error for malformed input. src may be the stored
	// frame itself: Decode must not modify or keep it.
	Decode(rows []float32, src []byte, d int, isKey bool) error
}

// f16Codec stores rows as little-endian IEEE float16: method "none" and the
// protected layers of nexusquant.
type f16Codec struct{}

func (f16Codec) Name() string            { return MethodNone }
func (f16Codec) Evicts() bool            { return false }
func (f16Codec) EncodedLen(n, d int) int { return 2 * n * d }
func (f16Codec) Encode(dst []byte, rows []float32, _ int, _ bool) []byte {
	for _, v := range rows {
		dst = binary.LittleEndian.AppendUint16(dst, F32ToF16(v))
	}
	return dst
}
func (f16Codec) Decode(rows []float32, src []byte, _ int, _ bool) error {
	if len(src) != 2*len(rows) {
		return fmt.Errorf("float16 rows: %d bytes for %d values", len(src), len(rows))
	}
	for i := range rows {
		rows[i] = F16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
	}
	return nil
}

var (
	rowCodecsMu sync.RWMutex
	rowCodecs   = map[string]RowCodec{MethodNone: f16Codec{}}
)

// RegisterRowCodec makes c selectable as Settings.Method. It returns an error
// when the name is empty, "nexusquant", or already registered.
func RegisterRowCodec(c RowCodec) error {
	rowCodecsMu.Lock()
	defer rowCodecsMu.Unlock()
	name := c.Name()
	if name == "" || name == MethodNexusQuant || rowCodecs[name] != nil {
		return fmt.Errorf("RegisterRowCodec %q: name empty, reserved or taken", name)
	}
	rowCodecs[name] = c
	return nil
}

func lookupRowCodec(name string) (RowCodec, bool) {
	rowCodecsMu.RLock()
	defer rowCodecsMu.RUnlock()
	c, ok := rowCodecs[name]
	return c, ok
}

// methodNames lists the valid Settings.Method values, nexusquant first.
func methodNames() []string {
	rowCodecsMu.RLock()
	defer rowCodecsMu.RUnlock()
	names := []string{MethodNexusQuant}
	for n := range rowCodecs {
		names = append(names, n)
	}
	slices.Sort(names[1:])
	return names
}
