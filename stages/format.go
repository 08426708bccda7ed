package stages

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
)

// The .nqkv file format, version 2.
//
// All fixed-width integers are little-endian; "uv" is an unsigned LEB128
// varint (encoding/binary Uvarint, at most 10 bytes); "str" is a uv length
// followed by that many UTF-8 bytes. CRCs are CRC-32C (Castagnoli).
//
//	field                     size       meaning
//	------------------------  ---------  ------------------------------------------------
//	magic                     4          "NQKV"
//	version                   2          2
//	header length H           4          bytes of the header that follows
//	-- header (H bytes) --
//	model identity            str        caller-supplied, ≤ 4096 bytes; checked by the caller
//	L, Hkv, d, DPad, T        5 × uv     layers, KV heads, head dim, code row width, prefix tokens
//	method                    str        "nexusquant", "none" or a registered RowCodec
//	eviction_rate             8          float64 bits
//	sliding_window            uv
//	obs_window                uv
//	scorer, granularity       2 × str
//	seed                      8          int64
//	flags                     1          bit 0 rope_undo, 1 hadamard, 2 hadamard_signs, 3 delta,
//	                                     4 layer table present, 5 sliding_layers float16
//	lattice                   str
//	key_bits, value_bits      2 × uv
//	zstd_level                str
//	block_tokens              uv         B: kept tokens per frame
//	protect_boundary          uv
//	layer table               L × uv     only with flags bit 4: per layer
//	                                     window << 2 | qk_norm << 1 | no_rope
//	positions kind            1          0 all (empty stream), 1 gaps, 2 bitmap
//	positions zstd            1          0 raw, 1 one zstd frame
//	positions raw, stored     2 × uv     stream length before and after zstd
//	frame count F             uv
//	frame words               F × uv     stored length << 1 | 1 when the frame is raw (not zstd)
//	rows length               uv         Σ stored frame lengths
//	scale frame count S       uv         the frames of the quantized groups (0 without any)
//	scale frame words         S × uv     stored length << 1 | 1 when its high-byte plane is raw
//	scales length             uv         Σ stored scale frame lengths
//	-- end of header --
//	header CRC                4          of magic … end of header
//	positions stream          stored     then its CRC (4)
//	scales stream             scales len then its CRC (4)
//	rows stream               rows len   then its CRC (4); nothing may follow
//
// Streams (after zstd when flagged):
//   - positions, gaps: per list a uv count (1..T), the first position, then the
//     gaps to the previous position (≥ 1), all uv. bitmap: per list ⌈T/8⌉
//     bytes, bit t (LSB first) set when position t is kept. Lists: L (layer)
//     or L·Hkv (head, layer-major); with granularity global one per span, in
//     the order layers first use one — a layer's span is 0 … T−1, or for a
//     sliding-window layer (window W < T) T−W … T−1, marked float16 under
//     sliding_layers float16, so a file without a sliding layer has one
//     list. A list holds only positions of its span.
//   - rows: groups in order g = (layer·2 + kv)·Hkv + head (kv 0 = K, 1 = V);
//     each group is ⌈n/B⌉ frames, n its list's count. A quantized group's
//     frame holds its rows' codes, DPad per row, int8 (or int16 LE when the
//     quantizer's CodeBytes is 2), delta-coded within the frame when delta is
//     set (row 0 raw, row t − row t−1, wrap-around). A protected layer's or a
//     RowCodec's frame holds RowCodec.EncodedLen(rows, d) bytes (float16 LE
//     for protected layers and method none). zstd frames must declare their
//     content size; it must equal the size the frame's place implies.
//   - scales: one scale frame per frame of a quantized group, in frame order
//     (the float16 layers' frames — protect_boundary layers, and sliding
//     layers under sliding_layers float16 — have none). A frame of m rows has the float16 scales of
//     its rows as two planes: the m high bytes, raw (m bytes) or one zstd
//     frame declaring m content bytes, then the m low bytes raw.
//
// A cache without sliding-window, no-RoPE or QK-norm layers has no layer
// table and flags bits 4 and 5 clear, byte for byte the file it was before
// those layers existed. Readers check every length, count and offset against
// the input before use, and refuse trailing bytes. Version 1 held the scales as one stream of
// little-endian float16 values (raw or one zstd frame); it is not read.

const (
	nqkvMagic   = "NQKV"
	nqkvVersion = 2

	preambleLen = 10

	maxModelID  = 4096
	maxLayers   = 4096
	maxKVHeads  = 4096
	maxHeadDim  = 4096
	maxPrefix   = 1 << 30
	maxSettingS = 64 // longest string setting
	// maxZstdExpand bounds what a zstd frame can decode to: every compressed
	// block is at least 4 bytes and decodes to at most 128 KiB.
	maxZstdExpand = 1 << 15
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// codeWidth is the row width DPad of the code matrices: d for row codecs;
// for nexusquant the Hadamard size (next power of two ≥ d) or d, rounded up
// to a multiple of 8 for the lattice.
func codeWidth(d int, s Settings) int {
	if s.Method != MethodNexusQuant {
		return d
	}
	w := d
	if s.Hadamard {
		w = nextPow2(d)
	}
	return (w + 7) &^ 7
}

// parts are the pieces of a Compressed as the file holds them; both the
// pipeline and ReadCompressed build a Compressed through assemble.
type parts struct {
	modelID                            string
	layers, kvHeads, headDim, width, T int
	s                                  Settings
	attn                               []LayerAttn // nil: every layer plain
	posKind                            byte
	posZstd                            bool
	posRaw                             []byte // decoded positions stream
	posStoredLen                       int
	posStored                          []byte // zstd positions stream to keep (file reads only)
	frames, scaleFrames                []byte
	words, scaleWords                  []uint64
}

// assemble validates p and builds the Compressed, taking ownership of p's
// slices.
func assemble(p *parts, rope RoPEFunc) (*Compressed, error) {
	s := p.s
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	switch {
	case p.layers < 1 || p.layers > maxLayers:
		return nil, fmt.Errorf("layers %d: want 1..%d", p.layers, maxLayers)
	case p.kvHeads < 1 || p.kvHeads > maxKVHeads:
		return nil, fmt.Errorf("KV heads %d: want 1..%d", p.kvHeads, maxKVHeads)
	case p.headDim < 1 || p.headDim > maxHeadDim:
		return nil, fmt.Errorf("head dim %d: want 1..%d", p.headDim, maxHeadDim)
	case p.T < 1 || p.T > maxPrefix:
		return nil, fmt.Errorf("prefix length %d: want 1..%d", p.T, maxPrefix)
	case p.width != codeWidth(p.headDim, s):
		return nil, fmt.Errorf("code width %d: want %d for head dim %d and these settings", p.width, codeWidth(p.headDim, s), p.headDim)
	case len(p.modelID) > maxModelID:
		return nil, fmt.Errorf("model identity of %d bytes: want ≤ %d", len(p.modelID), maxModelID)
	}
	if err := checkLayerAttn(p.attn, p.layers); err != nil {
		return nil, err
	}
	c := &Compressed{modelID: p.modelID, layers: p.layers, kvHeads: p.kvHeads, headDim: p.headDim,
		prefixLen: p.T, width: p.width, s: s, attn: slices.Clone(normAttn(p.attn)), rope: rope,
		posKind: p.posKind, posZstd: p.posZstd, posStored: p.posStored}
	if s.Method == MethodNexusQuant {
		var err error
		if c.q[0], err = NewQuantizer(s.Lattice, s.KeyBits); err != nil {
			return nil, err
		}
		if c.q[1], err = NewQuantizer(s.Lattice, s.ValueBits); err != nil {
			return nil, err
		}
		if s.Hadamard {
			c.had = NewHadamard(p.headDim, s.HadamardSigns, s.Seed)
		}
		if s.RoPEUndo && rope == nil {
			return nil, errors.New("rope_undo is set but no RoPE function was given")
		}
	} else {
		c.codec, _ = lookupRowCodec(s.Method) // Validate checked it exists
	}
	if p.posKind == posAll && (p.posZstd || p.posStoredLen != 0) {
		return nil, fmt.Errorf("positions: kind all with a %d-byte stream (zstd %t), want none", p.posStoredLen, p.posZstd)
	}
	groups := 2 * p.layers * p.kvHeads
	// Every list keeps at least one token, so every group has a frame: this
	// bounds every allocation below by the frame table's size.
	if len(p.words) < groups {
		return nil, fmt.Errorf("frame count %d: fewer than the %d groups", len(p.words), groups)
	}
	var err error
	layout := newListLayout(s.Granularity, p.layers, p.kvHeads, layerSpans(c.attn, p.layers, p.T, s.SlidingLayers))
	c.pos, err = buildPosIndex(p.posKind, p.posRaw, layout, p.T, s.BlockTokens)
	if err != nil {
		return nil, err
	}
	c.groupFrame = make([]int32, groups+1)
	nFrames := int64(0)
	for g := range groups {
		layer, head := g/(2*p.kvHeads), g%p.kvHeads
		n := int64(c.pos.count[c.pos.list(layer, head)])
		nFrames += (n + int64(s.BlockTokens) - 1) / int64(s.BlockTokens)
		if nFrames > int64(len(p.words)) {
			return nil, fmt.Errorf("frame count %d: the kept positions need more", len(p.words))
		}
		c.groupFrame[g+1] = int32(nFrames)
	}
	if nFrames != int64(len(p.words)) {
		return nil, fmt.Errorf("frame count %d: the kept positions need %d", len(p.words), nFrames)
	}
	if err := c.indexFrames(p.frames, p.words); err != nil {
		return nil, err
	}
	if err := c.indexScaleFrames(p.scaleFrames, p.scaleWords); err != nil {
		return nil, err
	}
	c.stored.Positions = int64(p.posStoredLen)
	c.stored.Header = int64(c.headerLen(len(p.posRaw), p.posStoredLen))
	c.chooseReadRows()
	return c, nil
}

// indexFrames checks every frame's size against the size its place implies
// (raw frames exactly; zstd frames by the content size their header declares)
// and builds the frame index and the codes/float16 byte counts.
func (c *Compressed) indexFrames(frames []byte, words []uint64) error {
	c.frames = frames
	c.frameEnd = make([]uint64, len(words))
	c.frameRaw = make([]uint64, (len(words)+63)/64)
	end := uint64(0)
	for layer := range c.layers {
		rc := c.rowCodecFor(layer)
		for kv := range 2 {
			for head := range c.kvHeads {
				g := c.group(layer, kv, head)
				n := int(c.pos.count[c.pos.list(layer, head)])
				for f := int(c.groupFrame[g]); f < int(c.groupFrame[g+1]); f++ {
					i := f - int(c.groupFrame[g])
					nr := min(c.s.BlockTokens, n-i*c.s.BlockTokens)
					want := c.frameWant(layer, kv, nr)
					w := words[f]
					size, raw := w>>1, w&1 == 1
					if size > uint64(len(frames))-end {
						return fmt.Errorf("frame %d (layer %d, %s, head %d, block %d): %d bytes past the rows stream", f, layer, kvName(kv), head, i, size)
					}
					fr := frames[end : end+size]
					if raw && size != uint64(want) {
						return fmt.Errorf("frame %d (layer %d, %s, head %d, block %d): raw frame of %d bytes, want %d", f, layer, kvName(kv), head, i, size, want)
					}
					if !raw {
						if err := checkZstdFrame(fr, want); err != nil {
							return fmt.Errorf("frame %d (layer %d, %s, head %d, block %d): %w", f, layer, kvName(kv), head, i, err)
						}
					}
					end += size
					c.frameEnd[f] = end
					if raw {
						setBit(c.frameRaw, f)
					}
					if !raw || (rc == nil && c.s.Delta) { // decodes through scratch
						c.maxRaw = max(c.maxRaw, want)
					}
					if _, f16 := rc.(f16Codec); f16 {
						c.stored.FP16Layers += int64(size)
					} else {
						c.stored.Codes += int64(size)
					}
				}
			}
		}
	}
	if end != uint64(len(frames)) {
		return fmt.Errorf("rows stream: %d bytes, frames cover %d", len(frames), end)
	}
	return nil
}

// indexScales sets where each quantized layer's scale frames start (see
// scaleIndex): f − scaleBase for every quantized layer when they are
// contiguous (float16 layers only at the ends: protect_boundary), else per
// layer (float16 sliding layers between quantized ones). It returns the
// number of scale frames the quantized groups need.
func (c *Compressed) indexScales() int {
	skip := make([]int32, c.layers)
	float16, quantized := 0, 0
	base, same := -1, true
	for l := range c.layers {
		frames := int(c.groupFrame[c.group(l+1, 0, 0)] - c.groupFrame[c.group(l, 0, 0)])
		if c.rowCodecFor(l) != nil {
			float16 += frames
			continue
		}
		quantized += frames
		skip[l] = int32(float16)
		if base < 0 {
			base = float16
		}
		same = same && float16 == base
	}
	c.scaleBase = max(base, 0)
	if !same {
		c.scaleSkip = skip
	}
	return quantized
}

// indexScaleFrames checks every scale frame against its frame's rows (frame
// f of m rows of a quantized group has scale frame scaleIndex(layer, f): m
// low bytes after a high plane of m raw bytes or a zstd frame declaring m)
// and builds the scale frame index and the scales byte count.
func (c *Compressed) indexScaleFrames(frames []byte, words []uint64) error {
	if want := c.indexScales(); len(words) != want {
		return fmt.Errorf("scale frame count %d: the quantized groups have %d frames", len(words), want)
	}
	c.scaleFrames = frames
	c.scaleEnd = make([]uint64, len(words))
	c.scaleRaw = make([]uint64, (len(words)+63)/64)
	end := uint64(0)
	for g := range 2 * c.layers * c.kvHeads {
		layer, kv, head := g/(2*c.kvHeads), g/c.kvHeads%2, g%c.kvHeads
		if c.rowCodecFor(layer) != nil {
			continue
		}
		n := int(c.pos.count[c.pos.list(layer, head)])
		for f := int(c.groupFrame[g]); f < int(c.groupFrame[g+1]); f++ {
			i := f - int(c.groupFrame[g])
			m := uint64(min(c.s.BlockTokens, n-i*c.s.BlockTokens))
			si := c.scaleIndex(layer, f)
			size, raw := words[si]>>1, words[si]&1 == 1
			where := func() string {
				return fmt.Sprintf("scale frame %d (layer %d, %s, head %d, block %d)", si, layer, kvName(kv), head, i)
			}
			switch {
			case size > uint64(len(frames))-end:
				return fmt.Errorf("%s: %d bytes past the scales stream", where(), size)
			case size < m:
				return fmt.Errorf("%s: %d bytes, fewer than its %d low bytes", where(), size, m)
			case raw && size != 2*m:
				return fmt.Errorf("%s: raw high plane of %d bytes, want %d", where(), size-m, m)
			}
			if !raw {
				if err := checkZstdFrame(frames[end:end+size-m], int(m)); err != nil {
					return fmt.Errorf("%s: high plane: %w", where(), err)
				}
				c.maxHi = max(c.maxHi, int(m))
			}
			end += size
			c.scaleEnd[si] = end
			if raw {
				setBit(c.scaleRaw, si)
			}
		}
	}
	if end != uint64(len(frames)) {
		return fmt.Errorf("scales stream: %d bytes, scale frames cover %d", len(frames), end)
	}
	c.stored.Scales = int64(end)
	return nil
}

// checkZstdFrame checks that frame is one zstd frame header declaring want
// content bytes, within what its size can decode to.
func checkZstdFrame(frame []byte, want int) error {
	if uint64(want) > uint64(len(frame))*maxZstdExpand {
		return fmt.Errorf("zstd frame of %d bytes cannot hold %d", len(frame), want)
	}
	h, err := zstdHeader(frame)
	if err != nil {
		return err
	}
	if !h.HasFCS || h.FrameContentSize != uint64(want) {
		return fmt.Errorf("zstd frame declares %d bytes (known: %t), want %d", h.FrameContentSize, h.HasFCS, want)
	}
	return nil
}

// headerLen is the size of everything in the file but the three streams'
// payloads: preamble, header, CRCs.
func (c *Compressed) headerLen(posRaw, posStored int) int {
	return preambleLen + len(c.appendHeader(nil, posRaw, posStored)) + 4*4
}

// appendHeader appends the header body (see the format table).
func (c *Compressed) appendHeader(b []byte, posRaw, posStored int) []byte {
	uv := func(v int) { b = binary.AppendUvarint(b, uint64(v)) }
	str := func(v string) { uv(len(v)); b = append(b, v...) }
	flag := func(v bool) {
		if v {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	s := c.s
	str(c.modelID)
	uv(c.layers)
	uv(c.kvHeads)
	uv(c.headDim)
	uv(c.width)
	uv(c.prefixLen)
	str(s.Method)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.EvictionRate))
	uv(s.SlidingWindow)
	uv(s.ObsWindow)
	str(s.Scorer)
	str(s.Granularity)
	b = binary.LittleEndian.AppendUint64(b, uint64(s.Seed))
	var flags byte
	for i, v := range []bool{s.RoPEUndo, s.Hadamard, s.HadamardSigns, s.Delta, c.attn != nil, s.SlidingLayers == SlidingFloat16} {
		if v {
			flags |= 1 << i
		}
	}
	b = append(b, flags)
	str(s.Lattice)
	uv(s.KeyBits)
	uv(s.ValueBits)
	str(s.ZstdLevel)
	uv(s.BlockTokens)
	uv(s.ProtectBoundary)
	for _, a := range c.attn {
		b = binary.AppendUvarint(b, layerWord(a))
	}
	b = append(b, c.posKind)
	flag(c.posZstd)
	uv(posRaw)
	uv(posStored)
	b = appendWords(b, c.frameEnd, c.frameRaw)
	uv(len(c.frames))
	b = appendWords(b, c.scaleEnd, c.scaleRaw)
	uv(len(c.scaleFrames))
	return b
}

// layerWord packs a layer table entry: window << 2 | qk_norm << 1 | no_rope.
func layerWord(a LayerAttn) uint64 {
	w := uint64(a.Window) << 2
	if a.QKNorm {
		w |= 2
	}
	if a.NoRoPE {
		w |= 1
	}
	return w
}

// layerFromWord unpacks a layer table entry (the window saturates; the
// caller checks its range).
func layerFromWord(w uint64) LayerAttn {
	win := w >> 2
	if win > math.MaxInt32 {
		win = math.MaxInt32
	}
	return LayerAttn{Window: int(win), QKNorm: w&2 != 0, NoRoPE: w&1 != 0}
}

// appendWords appends a frame table: the count, then each frame's word.
func appendWords(b []byte, ends, raw []uint64) []byte {
	b = binary.AppendUvarint(b, uint64(len(ends)))
	prev := uint64(0)
	for f, end := range ends {
		b = binary.AppendUvarint(b, frameWord(int(end-prev), bitSet(raw, f)))
		prev = end
	}
	return b
}

// posStreams returns the raw and stored bytes of the positions stream: the
// file's own bytes for a cache read from a file, else encoded again (zstd is
// deterministic, so they equal what the pipeline measured).
func (c *Compressed) posStreams() (posRaw, posStored []byte, err error) {
	switch c.posKind {
	case posGaps:
		posRaw = c.pos.gaps
	case posBitmap:
		posRaw = bitmapEncode(nil, c.pos.lists(), c.prefixLen)
	}
	posStored = posRaw
	if c.posZstd {
		if posStored = c.posStored; posStored == nil {
			enc, err := zstdEncoder(posLevel)
			if err != nil {
				return nil, nil, err
			}
			posStored = enc.EncodeAll(posRaw, nil)
		}
	}
	if int64(len(posStored)) != c.stored.Positions {
		return nil, nil, fmt.Errorf("positions stream re-encodes to %d bytes, recorded %d", len(posStored), c.stored.Positions)
	}
	return posRaw, posStored, nil
}

// WriteTo writes c in the .nqkv format (see the table above) and returns the
// bytes written, which equal StoredBytes' sum.
func (c *Compressed) WriteTo(w io.Writer) (int64, error) {
	posRaw, posStored, err := c.posStreams()
	if err != nil {
		return 0, err
	}
	hdr := c.appendHeader(nil, len(posRaw), len(posStored))
	if uint64(len(hdr)) > math.MaxUint32 {
		return 0, fmt.Errorf("header of %d bytes", len(hdr))
	}
	pre := make([]byte, 0, preambleLen+len(hdr)+4)
	pre = append(pre, nqkvMagic...)
	pre = binary.LittleEndian.AppendUint16(pre, nqkvVersion)
	pre = binary.LittleEndian.AppendUint32(pre, uint32(len(hdr)))
	pre = append(pre, hdr...)
	pre = binary.LittleEndian.AppendUint32(pre, crc32.Checksum(pre, crcTable))
	var n int64
	write := func(b []byte) error {
		m, err := w.Write(b)
		n += int64(m)
		return err
	}
	if err := write(pre); err != nil {
		return n, err
	}
	for _, s := range [][]byte{posStored, c.scaleFrames, c.frames} {
		if err := write(s); err != nil {
			return n, err
		}
		if err := write(binary.LittleEndian.AppendUint32(nil, crc32.Checksum(s, crcTable))); err != nil {
			return n, err
		}
	}
	return n, nil
}

// ReadCompressed parses a .nqkv encoding. rope must be the model's RoPE
// function when the cache was built with rope_undo (keys are rotated again on
// decode); it may be nil otherwise. The result owns copies of what it needs;
// data may be reused afterwards. A truncated or corrupt input gives an error
// naming the field, never a panic; the caller checks ModelID.
func ReadCompressed(data []byte, rope RoPEFunc) (*Compressed, error) {
	c, err := readCompressed(data, rope, true)
	if err != nil {
		return nil, fmt.Errorf("nqkv: %w", err)
	}
	return c, nil
}

// ReadCompressedFrom reads r to the end and parses it with ReadCompressed.
func ReadCompressedFrom(r io.Reader, rope RoPEFunc) (*Compressed, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("nqkv: %w", err)
	}
	return ReadCompressed(data, rope)
}

// readCompressed is ReadCompressed; checkCRC false lets the fuzz target reach
// the field checks behind the CRCs.
func readCompressed(data []byte, rope RoPEFunc, checkCRC bool) (*Compressed, error) {
	if len(data) < preambleLen {
		return nil, fmt.Errorf("file of %d bytes: shorter than the %d-byte preamble", len(data), preambleLen)
	}
	if string(data[:4]) != nqkvMagic {
		return nil, fmt.Errorf("magic %q: want %q", data[:4], nqkvMagic)
	}
	if v := binary.LittleEndian.Uint16(data[4:]); v != nqkvVersion {
		return nil, fmt.Errorf("version %d: this build reads version %d", v, nqkvVersion)
	}
	hlen := uint64(binary.LittleEndian.Uint32(data[6:]))
	if hlen+4 > uint64(len(data)-preambleLen) {
		return nil, fmt.Errorf("header length %d: past the end of the %d-byte file", hlen, len(data))
	}
	hend := preambleLen + int(hlen)
	if err := checkCRCAt(data[:hend], data[hend:], "header", checkCRC); err != nil {
		return nil, err
	}
	r := &fieldReader{b: data[preambleLen:hend]}
	p := &parts{}
	var s Settings
	p.modelID = r.str("model identity", maxModelID)
	p.layers = r.intIn("layers", 1, maxLayers)
	p.kvHeads = r.intIn("KV heads", 1, maxKVHeads)
	p.headDim = r.intIn("head dim", 1, maxHeadDim)
	p.width = r.intIn("code width", 1, 2*maxHeadDim)
	p.T = r.intIn("prefix length", 1, maxPrefix)
	s.Method = r.str("method", maxSettingS)
	s.EvictionRate = math.Float64frombits(binary.LittleEndian.Uint64(r.fixed("eviction_rate", 8)))
	s.SlidingWindow = r.intIn("sliding_window", 0, maxSlidingWindow)
	s.ObsWindow = r.intIn("obs_window", 1, maxObsWindow)
	s.Scorer = r.str("scorer", maxSettingS)
	s.Granularity = r.str("granularity", maxSettingS)
	s.Seed = int64(binary.LittleEndian.Uint64(r.fixed("seed", 8)))
	flags := r.byte1("flags")
	if flags > 0x3f {
		r.fail("flags", fmt.Sprintf("unknown bits %#x", flags))
	}
	s.RoPEUndo, s.Hadamard, s.HadamardSigns, s.Delta = flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0
	s.SlidingLayers = SlidingCompress
	if flags&32 != 0 {
		s.SlidingLayers = SlidingFloat16
	}
	s.Lattice = r.str("lattice", maxSettingS)
	s.KeyBits = r.intIn("key_bits", 0, 64)
	s.ValueBits = r.intIn("value_bits", 0, 64)
	s.ZstdLevel = r.str("zstd_level", maxSettingS)
	s.BlockTokens = r.intIn("block_tokens", 1, MaxBlockTokens)
	s.ProtectBoundary = r.intIn("protect_boundary", 0, maxProtectBoundary)
	if flags&16 != 0 && r.err == nil {
		p.attn = make([]LayerAttn, p.layers)
		for l := range p.attn {
			p.attn[l] = layerFromWord(r.uv("layer table word"))
			if w := p.attn[l].Window; w > maxPrefix && r.err == nil {
				r.fail("layer table word", fmt.Sprintf("layer %d: sliding window %d, want ≤ %d", l, w, maxPrefix))
			}
		}
		if r.err == nil && normAttn(p.attn) == nil {
			r.fail("layer table word", "every layer is plain: the table must be left out")
		}
	}
	p.s = s
	p.posKind = r.byte1("positions kind")
	p.posZstd = r.flag("positions zstd")
	posRawLen := r.intIn("positions raw length", 0, math.MaxInt32)
	p.posStoredLen = r.intIn("positions stored length", 0, len(data))
	p.words = r.words("frame", len(data))
	rowsLen := r.intIn("rows length", 0, len(data))
	p.scaleWords = r.words("scale frame", len(data))
	scalesLen := r.intIn("scales length", 0, len(data))
	if r.err != nil {
		return nil, r.err
	}
	if r.off != len(r.b) {
		return nil, fmt.Errorf("header: %d bytes left after the last field", len(r.b)-r.off)
	}
	// Streams.
	rest := data[hend+4:]
	take := func(name string, n int) ([]byte, error) {
		if uint64(n)+4 > uint64(len(rest)) {
			return nil, fmt.Errorf("%s stream of %d bytes (+4 CRC): only %d bytes left", name, n, len(rest))
		}
		b := rest[:n]
		if err := checkCRCAt(b, rest[n:], name, checkCRC); err != nil {
			return nil, err
		}
		rest = rest[n+4:]
		return b, nil
	}
	posStored, err := take("positions", p.posStoredLen)
	if err != nil {
		return nil, err
	}
	scales, err := take("scales", scalesLen)
	if err != nil {
		return nil, err
	}
	rows, err := take("rows", rowsLen)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%d bytes after the rows stream", len(rest))
	}
	if p.posRaw, p.posStored, err = sideStream("positions", posStored, p.posZstd, posRawLen); err != nil {
		return nil, err
	}
	p.frames = append([]byte(nil), rows...)
	p.scaleFrames = append([]byte(nil), scales...)
	return assemble(p, rope)
}

// sideStream decodes a side stream into an owned copy of its raw bytes; for a
// zstd stream it also returns an owned copy of the stored bytes.
func sideStream(name string, stored []byte, z bool, rawLen int) (raw, keep []byte, err error) {
	if !z {
		if rawLen != len(stored) {
			return nil, nil, fmt.Errorf("%s: raw length %d differs from stored length %d of an uncompressed stream", name, rawLen, len(stored))
		}
		return append([]byte(nil), stored...), nil, nil
	}
	if err := checkZstdFrame(stored, rawLen); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	raw, err = zstdDecodeExact(nil, stored, rawLen)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return raw, append([]byte(nil), stored...), nil
}

// checkCRCAt compares the CRC-32C of b with the 4 bytes at the start of sum.
func checkCRCAt(b, sum []byte, name string, check bool) error {
	if len(sum) < 4 {
		return fmt.Errorf("%s CRC: truncated", name)
	}
	if !check {
		return nil
	}
	if got, want := crc32.Checksum(b, crcTable), binary.LittleEndian.Uint32(sum); got != want {
		return fmt.Errorf("%s CRC %08x: the data sums to %08x", name, want, got)
	}
	return nil
}

// fieldReader reads header fields, remembering the first error (which names
// the field and its offset); later reads return zero values.
type fieldReader struct {
	b   []byte
	off int
	err error
}

func (r *fieldReader) fail(field, msg string) {
	if r.err == nil {
		r.err = fmt.Errorf("header field %s at byte %d: %s", field, preambleLen+r.off, msg)
	}
}

func (r *fieldReader) uv(field string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail(field, "truncated or overlong uvarint")
		return 0
	}
	r.off += n
	return v
}

// words reads a frame table: a count, then that many uv words. Each word
// takes at least one header byte, which bounds the count.
func (r *fieldReader) words(what string, maxCount int) []uint64 {
	n := r.intIn(what+" count", 0, maxCount)
	if r.err == nil && n > len(r.b)-r.off {
		r.fail(what+" count", fmt.Sprintf("%d words cannot fit in %d header bytes", n, len(r.b)-r.off))
	}
	if r.err != nil {
		return nil
	}
	w := make([]uint64, n)
	for f := range w {
		w[f] = r.uv(what + " word")
		if r.err != nil {
			return nil
		}
	}
	return w
}

func (r *fieldReader) intIn(field string, lo, hi int) int {
	v := r.uv(field)
	if r.err != nil {
		return 0
	}
	if v < uint64(lo) || v > uint64(hi) {
		r.fail(field, fmt.Sprintf("%d, want %d..%d", v, lo, hi))
		return 0
	}
	return int(v)
}

func (r *fieldReader) fixed(field string, n int) []byte {
	if r.err != nil {
		return make([]byte, n)
	}
	if len(r.b)-r.off < n {
		r.fail(field, fmt.Sprintf("truncated: %d bytes left, want %d", len(r.b)-r.off, n))
		return make([]byte, n)
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b
}

func (r *fieldReader) byte1(field string) byte { return r.fixed(field, 1)[0] }

func (r *fieldReader) flag(field string) bool {
	v := r.byte1(field)
	if v > 1 {
		r.fail(field, fmt.Sprintf("%d, want 0 or 1", v))
	}
	return v == 1
}

func (r *fieldReader) str(field string, maxLen int) string {
	n := r.intIn(field+" length", 0, maxLen)
	return string(r.fixed(field, n))
}
