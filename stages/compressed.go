package stages

import (
	"encoding/binary"
	"fmt"
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

// Compressed is the packed prefix cache the model decodes from, one block at a
// time (SPEC §6–7). For every (layer, K/V, KV head) it holds the kept rows as
// frames of block_tokens rows (zstd or raw), plus the per-row float16 scales
// and the kept positions. The float form of a layer never exists: ReadBlock
// decodes one block into the caller's Block using a small pooled scratch.
//
// A Compressed is immutable after construction (Pipeline.Run or
// ReadCompressed); any number of goroutines may call its methods at once.
type Compressed struct {
	modelID                             string
	layers, kvHeads, headDim, prefixLen int
	width                               int // code row width DPad (multiple of 8)
	s                                   Settings
	rope                                RoPEFunc
	codec                               RowCodec      // the method's codec; nil for nexusquant
	q                                   [2]*Quantizer // nexusquant: key and value quantizers
	had                                 *Hadamard     // nexusquant with hadamard=true
	frames                              []byte        // every frame, group order
	frameEnd                            []uint64      // frame f is frames[frameEnd[f-1]:frameEnd[f]]
	frameRaw                            []uint64      // bit f set: frame f is stored raw
	groupFrame                          []int32       // group g owns frames [groupFrame[g], groupFrame[g+1])
	scales                              []uint16      // float16 scales of the quantized groups, group order
	scaleStart                          []int64       // group g's scales start at scaleStart[g]
	pos                                 posIndex
	posKind                             byte
	posZstd, scalesZstd                 bool
	posStored, scalesStored             []byte // the file's side streams; only for caches read from a file
	stored                              StoredSizes
	pool                                scratchPool
}

// StoredSizes are the bytes of the .nqkv encoding by stream; they sum to the
// file size.
type StoredSizes struct {
	// Codes: the row frames of quantized layers (and of a RowCodec method).
	Codes int64 `json:"codes"`
	// Scales: the float16 scale stream as stored (raw or zstd).
	Scales int64 `json:"scales"`
	// Positions: the kept-position stream as stored.
	Positions int64 `json:"positions"`
	// Header: magic, version, header, frame table and the four CRCs.
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

// PositionEncoding names how the kept positions are stored: all, gaps,
// gaps+zstd, bitmap or bitmap+zstd.
func (c *Compressed) PositionEncoding() string { return posEncodingName(c.posKind, c.posZstd) }

// ScalesEncoding names how the scale stream is stored: raw or zstd.
func (c *Compressed) ScalesEncoding() string {
	if c.scalesZstd {
		return "zstd"
	}
	return "raw"
}

// Kept returns the number of kept tokens of (layer, head), or 0 when out of range.
func (c *Compressed) Kept(layer, head int) int {
	if layer < 0 || layer >= c.layers || head < 0 || head >= c.kvHeads {
		return 0
	}
	return int(c.pos.count[c.pos.list(layer, head)])
}

// NumBlocks returns the number of blocks of (layer, head), or 0 when out of
// range. Block i holds kept tokens i·block_tokens … (i+1)·block_tokens−1.
func (c *Compressed) NumBlocks(layer, head int) int {
	n := c.Kept(layer, head)
	b := c.s.BlockTokens
	return (n + b - 1) / b
}

// StoredBytes returns the stored size of each stream (see StoredSizes).
func (c *Compressed) StoredBytes() (codes, scales, positions, header, fp16Layers int64) {
	s := c.stored
	return s.Codes, s.Scales, s.Positions, s.Header, s.FP16Layers
}

// Stored returns StoredBytes as a struct.
func (c *Compressed) Stored() StoredSizes { return c.stored }

// ResidentBytes is the memory the object holds, measured: the capacity of
// every byte, integer and float slice it owns, including the decode scratch it
// has pooled and the Blocks it handed out with NewBlock. Not included: the
// process-wide zstd decoder (shared by every Compressed) and Blocks the caller
// allocated itself.
func (c *Compressed) ResidentBytes() int64 {
	n := int64(cap(c.frames)) + 8*int64(cap(c.frameEnd)+cap(c.frameRaw)) +
		4*int64(cap(c.groupFrame)) + 2*int64(cap(c.scales)) + 8*int64(cap(c.scaleStart)) +
		int64(cap(c.posStored)+cap(c.scalesStored)) + int64(len(c.modelID)) + c.pos.bytes()
	if c.had != nil {
		n += 4 * int64(c.had.DPad) // its sign/normalisation vector
	}
	c.pool.mu.Lock()
	n += c.pool.bytes + c.pool.handed
	c.pool.mu.Unlock()
	return n
}

// readerBytes is what the pool holds for one reader: the largest pooled
// scratch plus one Block's capacity.
func (c *Compressed) readerBytes() int64 {
	c.pool.mu.Lock()
	defer c.pool.mu.Unlock()
	var n int64
	for _, s := range c.pool.free {
		n = max(n, s.size)
	}
	rows := int64(min(c.s.BlockTokens, int(c.pos.maxCount)))
	return n + 4*(rows+2*rows*int64(c.headDim))
}

// NewBlock returns a Block with room for the largest block of c, reusing one
// given back with ReleaseBlock when there is one. Its bytes count in
// ResidentBytes for the life of c (decode buffers are part of what the cache
// costs); use it for every Block that reads from c so the measurement stays
// complete, and ReleaseBlock when done.
func (c *Compressed) NewBlock() *Block {
	p := &c.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.blocks); n > 0 {
		b := p.blocks[n-1]
		p.blocks = p.blocks[:n-1]
		return b
	}
	rows := min(c.s.BlockTokens, int(c.pos.maxCount))
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

// ReadBlock decodes block i of (layer, head) into dst: zstd → un-delta →
// dequantize with each row's scale → inverse Hadamard → RoPE at the original
// positions (keys, when rope_undo). Protected layers decode from float16. It
// reuses dst's slices, growing them only when too small, and touches no other
// block. Concurrent calls are safe when each has its own dst. A corrupt frame
// gives an error, never a panic.
func (c *Compressed) ReadBlock(layer, head, i int, dst *Block) error {
	if layer < 0 || layer >= c.layers || head < 0 || head >= c.kvHeads {
		return fmt.Errorf("ReadBlock: (layer %d, head %d) outside %d layers × %d KV heads", layer, head, c.layers, c.kvHeads)
	}
	if nb := c.NumBlocks(layer, head); i < 0 || i >= nb {
		return fmt.Errorf("ReadBlock: block %d of (layer %d, head %d) outside 0..%d", i, layer, head, nb-1)
	}
	li := c.pos.list(layer, head)
	r0 := i * c.s.BlockTokens
	nr := min(c.s.BlockTokens, int(c.pos.count[li])-r0)
	dst.Pos = growSlice(dst.Pos, nr)
	c.pos.decodeBlock(li, i, dst.Pos)
	dst.K = growSlice(dst.K, nr*c.headDim)
	dst.V = growSlice(dst.V, nr*c.headDim)
	sc := c.pool.get(c)
	defer c.pool.put(sc)
	for kv, out := range [2][]float32{dst.K, dst.V} {
		if err := c.decodeFrame(sc, layer, kv, head, i, r0, dst.Pos, out); err != nil {
			return fmt.Errorf("ReadBlock (layer %d, %s, head %d) block %d: %w", layer, kvName(kv), head, i, err)
		}
	}
	return nil
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

// rowCodecFor returns the codec storing layer's rows, or nil for quantized
// layers.
func (c *Compressed) rowCodecFor(layer int) RowCodec {
	if c.codec != nil {
		if isProtected(layer, c.layers, c.s.ProtectBoundary) {
			return f16Codec{}
		}
		return c.codec
	}
	if isProtected(layer, c.layers, c.s.ProtectBoundary) {
		return f16Codec{}
	}
	return nil
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
	start := uint64(0)
	if f > 0 {
		start = c.frameEnd[f-1]
	}
	return c.frames[start:c.frameEnd[f]], c.frameRaw[f/64]>>(f%64)&1 == 1
}

// decodeFrame decodes block i (rows r0…r0+len(pos)−1) of group (layer, kv,
// head) into out (len(pos) rows of headDim).
func (c *Compressed) decodeFrame(sc *blockScratch, layer, kv, head, i, r0 int, pos []int32, out []float32) error {
	nr := len(pos)
	g := c.group(layer, kv, head)
	frame, raw := c.frame(int(c.groupFrame[g]) + i)
	want := c.frameWant(layer, kv, nr)
	data := frame
	if raw {
		if len(frame) != want {
			return fmt.Errorf("raw frame of %d bytes, want %d", len(frame), want)
		}
	} else {
		var err error
		if sc.raw, err = zstdDecodeExact(sc.raw, frame, want); err != nil {
			return err
		}
		data = sc.raw
	}
	if rc := c.rowCodecFor(layer); rc != nil {
		return rc.Decode(out, data, c.headDim, kv == 0)
	}
	q := c.q[kv]
	cb := q.CodeBytes()
	rowBytes := c.width * cb
	if c.s.Delta {
		if raw { // never modify the stored frame
			sc.raw = append(sc.raw[:0], frame...)
			data = sc.raw
		}
		undeltaRows(data, rowBytes, cb)
	}
	w, d := c.width, c.headDim
	codes, f := sc.codes[:w], sc.f[:w]
	scales := c.scales[c.scaleStart[g]+int64(r0):]
	for r := range nr {
		row := data[r*rowBytes : (r+1)*rowBytes]
		if cb == 1 {
			for j, b := range row {
				codes[j] = int16(int8(b))
			}
		} else {
			for j := range codes {
				codes[j] = int16(binary.LittleEndian.Uint16(row[2*j:]))
			}
		}
		q.Decode(f, codes, scales[r])
		dstRow := out[r*d : (r+1)*d]
		if c.had != nil {
			c.had.InverseScratch(dstRow, f[:c.had.DPad], sc.hs)
		} else {
			copy(dstRow, f[:d])
		}
	}
	if kv == 0 && c.s.RoPEUndo {
		RedoRoPE(out[:nr*d], d, pos, c.rope)
	}
	return nil
}

// blockScratch is the decode scratch of one ReadBlock call: the decompressed
// frame (at most block_tokens·DPad·2 bytes) and three DPad vectors.
type blockScratch struct {
	raw   []byte
	codes []int16
	f, hs []float32
	size  int64 // bytes last counted in scratchPool.bytes
}

func (s *blockScratch) bytes() int64 {
	return int64(cap(s.raw)) + 2*int64(cap(s.codes)) + 4*int64(cap(s.f)+cap(s.hs))
}

// scratchPool keeps the decode scratch of a Compressed: one blockScratch per
// concurrent ReadBlock at most, never dropped, so its bytes are measurable.
type scratchPool struct {
	mu     sync.Mutex
	free   []*blockScratch
	bytes  int64    // every scratch ever created, at its current capacity
	blocks []*Block // Blocks given back with ReleaseBlock
	handed int64    // every Block NewBlock created, at its creation capacity
}

func (p *scratchPool) get(c *Compressed) *blockScratch {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		s := p.free[n-1]
		p.free = p.free[:n-1]
		return s
	}
	w := c.width
	hs := 0
	if c.had != nil {
		hs = c.had.DPad
	}
	s := &blockScratch{codes: make([]int16, w), f: make([]float32, w), hs: make([]float32, hs)}
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
