package stages

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// The decode form is what a Compressed keeps resident once it is used for
// decoding (PrepareDecode): every row frame zstd-decompressed and un-delta'd,
// the scales decoded, the kept positions decoded. A decode step then reads
// every kept row of every layer without touching zstd: ReadBlock only
// unpacks, dequantizes, inverse-Hadamards and re-applies RoPE the rows of
// the read block it serves, as the stream path does after its zstd and
// un-delta, with the same functions in the same order, so both paths return
// the same floats bit for bit.
//
// Sizes, per kept row of one (layer, K/V, head): code rows at CodeBytes per
// code over the code width (DPad; 1 byte for every setting but 8-bit e8 and
// relaxed), or 4 bits per code when every code fits a nibble (Levels ≤ 16:
// 2-bit e8 and relaxed, scalar up to 4 bits), plus a 2-byte scale; float16
// layers keep their 2·head_dim bytes. With one int32 per kept position of
// each position list, a balanced cache (2-bit, 60% evicted, head_dim 64)
// holds about 0.4·(32+2)/128 ≈ 11% of its float16 baseline.

// decodeForm is the resident decode form of a Compressed (see above).
// Immutable once built.
type decodeForm struct {
	// rows: per group, every kept row: packed codes (codeRowBytes each) for
	// a quantized layer, float16 values (2·head_dim bytes) for a float16
	// layer. A RowCodec method has no decode form (its frames are raw and
	// read as stored): every slice is empty.
	rows [][]byte
	// scales: per group of a quantized layer, each row's float16 scale.
	scales [][]uint16
	// pos: per position list, the kept positions.
	pos [][]int32
	// pack is how code rows are stored: the codes' CodeBytes (1 or 2), or
	// 0 for nibbles (see packNibbles).
	pack  [2]int
	bytes int64
}

// decodeFormState is the once-built decode form of a Compressed.
type decodeFormState struct {
	once sync.Once
	form atomic.Pointer[decodeForm]
	err  error
}

// PrepareDecode builds the decode form (see the top of decodeform.go) if it
// is not built yet: after it, ReadBlock serves every read block from resident
// memory without zstd. Call it on a cache that will be decoded from (eval
// does, on a packed prefix's first read); a cache that is only inspected
// stays in its stored form. It is safe to call from any number of goroutines;
// the first builds, the others wait. The form's bytes count in ResidentBytes
// and DecodeFormBytes.
//
// A decode form larger than decodeFormLimit of the stored bytes (64× plus
// 64 MiB: far beyond any real cache, within reach of a crafted file whose
// tiny zstd frames declare huge rows) is not built: PrepareDecode returns
// nil, DecodeFormBytes stays 0 and ReadBlock keeps decoding from the stored
// frames, whose memory stays bounded by one frame per reader. A corrupt
// frame gives an error naming the frame, and every later call gives the same
// error; ReadBlock then keeps decoding from the stored frames too (and
// reports the same corruption per read block).
func (c *Compressed) PrepareDecode() error {
	return c.prepareDecode(decodeFormLimit(c.stored.Total()))
}

// decodeFormLimit is the largest decode form PrepareDecode builds for a
// cache of stored bytes.
func decodeFormLimit(stored int64) int64 { return 64*stored + 64<<20 }

// prepareDecode is PrepareDecode with the size limit given.
func (c *Compressed) prepareDecode(limit int64) error {
	c.dform.once.Do(func() {
		if c.DecodeFormSize() > limit {
			return
		}
		f, err := c.buildDecodeForm()
		if err != nil {
			c.dform.err = err
			return
		}
		c.dform.form.Store(f)
	})
	return c.dform.err
}

// DecodeFormBytes returns the bytes the decode form holds: 0 until
// PrepareDecode has built it (and when it declined to).
func (c *Compressed) DecodeFormBytes() int64 {
	if f := c.dform.form.Load(); f != nil {
		return f.bytes
	}
	return 0
}

// DecodeFormSize returns the bytes PrepareDecode's decode form holds (or
// holds already), computed from the shape without building it: what a
// cache costs while the model decodes from it, beyond ResidentBytes before
// PrepareDecode. 0 for a RowCodec method.
func (c *Compressed) DecodeFormSize() int64 {
	if c.codec != nil {
		return 0
	}
	var n int64
	for li := range c.pos.count {
		n += 4 * int64(c.pos.count[li])
	}
	for layer := range c.layers {
		f16 := c.rowCodecFor(layer) != nil
		for kv := range 2 {
			rowBytes := int64(2 * c.headDim)
			if !f16 {
				rowBytes = int64(c.codeRowBytes(c.codePack(kv))) + 2 // codes and scale
			}
			for head := range c.kvHeads {
				n += rowBytes * int64(c.Kept(layer, head))
			}
		}
	}
	return n + 24*int64(4*c.layers*c.kvHeads+len(c.pos.count))
}

// codePack is how the decode form stores the code rows of kv: 0 (nibbles)
// when every code fits 4 bits, else the codes' CodeBytes.
func (c *Compressed) codePack(kv int) int {
	if nibbleCodes(c.q[kv]) {
		return 0
	}
	return c.q[kv].CodeBytes()
}

// codeRowBytes is the bytes of one code row of the decode form at pack.
func (c *Compressed) codeRowBytes(pack int) int {
	if pack == 0 {
		return c.width / 2
	}
	return c.width * pack
}

// buildDecodeForm decodes every frame, scale frame and position list.
func (c *Compressed) buildDecodeForm() (*decodeForm, error) {
	if c.codec != nil {
		return &decodeForm{}, nil // a RowCodec method: raw frames, read as stored
	}
	f := &decodeForm{
		rows:   make([][]byte, 2*c.layers*c.kvHeads),
		scales: make([][]uint16, 2*c.layers*c.kvHeads),
		pos:    make([][]int32, len(c.pos.count)),
		pack:   [2]int{c.codePack(0), c.codePack(1)},
	}
	for li := range f.pos {
		f.pos[li] = c.pos.decodeList(li)
		f.bytes += 4 * int64(cap(f.pos[li]))
	}
	sc := &blockScratch{frame: -1, hiFrame: -1}
	B := c.s.BlockTokens
	for layer := range c.layers {
		rc := c.rowCodecFor(layer)
		for kv := range 2 {
			for head := range c.kvHeads {
				g := c.group(layer, kv, head)
				n := c.Kept(layer, head)
				var rowBytes int
				if rc != nil {
					rowBytes = 2 * c.headDim
				} else {
					rowBytes = c.codeRowBytes(f.pack[kv])
					f.scales[g] = make([]uint16, n)
				}
				rows := make([]byte, n*rowBytes)
				for fr := 0; fr*B < n; fr++ {
					m := min(B, n-fr*B)
					if err := c.decodeFrameInto(sc, layer, kv, head, fr, m, f.pack[kv], rows[fr*B*rowBytes:(fr*B+m)*rowBytes]); err != nil {
						return nil, fmt.Errorf("decode form (layer %d, %s, head %d) frame %d: %w", layer, kvName(kv), head, fr, err)
					}
					if rc == nil {
						hi, lo, err := c.scalePlanes(sc, c.scaleIndex(layer, c.frameIndex(layer, kv, head, fr)), m)
						if err != nil {
							return nil, fmt.Errorf("decode form (layer %d, %s, head %d) frame %d: scales: %w", layer, kvName(kv), head, fr, err)
						}
						dst := f.scales[g][fr*B : fr*B+m]
						for r := range dst {
							dst[r] = uint16(hi[r])<<8 | uint16(lo[r])
						}
					}
				}
				f.rows[g] = rows
				f.bytes += int64(cap(rows)) + 2*int64(cap(f.scales[g]))
			}
		}
	}
	f.bytes += 24 * int64(cap(f.rows)+cap(f.scales)+cap(f.pos)) // the slice headers
	return f, nil
}

// decodeFrameInto decodes frame fr (m rows) of group (layer, kv, head) into
// out: zstd (or the raw bytes), un-delta, then, for a quantized layer, the
// codes repacked at pack (0: nibbles, else as stored).
func (c *Compressed) decodeFrameInto(sc *blockScratch, layer, kv, head, fr, m, pack int, out []byte) error {
	fi := c.frameIndex(layer, kv, head, fr)
	frame, raw := c.frame(fi)
	want := c.frameWant(layer, kv, m)
	if raw && len(frame) != want {
		return fmt.Errorf("raw frame of %d bytes, want %d", len(frame), want)
	}
	data := frame
	if !raw {
		var err error
		if sc.raw, err = zstdDecodeExact(sc.raw, frame, want); err != nil {
			return err
		}
		data = sc.raw
	}
	if c.rowCodecFor(layer) != nil {
		copy(out, data)
		return nil
	}
	cb := c.q[kv].CodeBytes()
	rowBytes := c.width * cb
	if c.s.Delta {
		if raw { // never modify the stored frame
			sc.raw = append(sc.raw[:0], data...)
			data = sc.raw
		}
		undeltaRows(data, rowBytes, cb)
	}
	if pack != 0 {
		copy(out, data)
		return nil
	}
	half := c.width / 2
	for r := range m {
		if err := packNibbles(out[r*half:(r+1)*half], data[r*c.width:(r+1)*c.width]); err != nil {
			return fmt.Errorf("row %d: %w", r, err)
		}
	}
	return nil
}

// readResident fills dst (sized by the caller to nr rows) with the kept rows
// row0 … row0+nr−1 of (layer, head), position list li, from the decode form
// f: ReadBlock of the read blocks that hold them. With rotV (RotatedV(layer)
// holds) the values stay in the Hadamard basis: dequantized only. The
// caller has checked the arguments.
func (c *Compressed) readResident(f *decodeForm, layer, head, li, row0, nr int, dst *Block, rotV bool) error {
	copy(dst.Pos, f.pos[li][row0:row0+nr])
	d := c.headDim
	if c.rowCodecFor(layer) != nil { // a float16 layer
		for kv, out := range [2][]float32{dst.K, dst.V} {
			rows := f.rows[c.group(layer, kv, head)]
			if err := (f16Codec{}).Decode(out, rows[2*d*row0:2*d*(row0+nr)], d, kv == 0); err != nil {
				return err
			}
		}
		return nil
	}
	// Scratch for one code row on the stack (no lock, no allocation) when
	// the row is no wider than stackWidth; pooled otherwise.
	var stack struct {
		codes [stackWidth]int16
		f, hs [stackWidth]float32
	}
	rs := rowScratch{codes: stack.codes[:], f: stack.f[:], hs: stack.hs[:]}
	if c.width > stackWidth {
		p := c.pool.getRow(c)
		defer c.pool.putRow(p)
		rs = *p
	}
	for kv, out := range [2][]float32{dst.K, dst.V} {
		g := c.group(layer, kv, head)
		if kv == 1 && rotV {
			c.dequantRotated(&rs, f.pack[kv], c.q[kv], f.rows[g], f.scales[g], row0, out)
			continue
		}
		c.dequantResident(&rs, f.pack[kv], c.q[kv], f.rows[g], f.scales[g], row0, out)
	}
	if c.ropeUndone(layer) {
		RedoRoPE(dst.K, d, layer, dst.Pos, c.rope)
	}
	return nil
}

// dequantResident fills out (len(out)/head_dim rows) with rows row0… of a
// quantized group of the decode form: Quantizer.Decode of the row's codes
// and scale (dequantPacked), then the inverse Hadamard (or the first
// head_dim coordinates) — the stream path's steps on the same codes. With
// the assembly kernels and DPad 64 or 128 the transform runs in registers
// (fwht64AVX, fwht128AVX, or their AVX-512 forms where the CPU has
// AVX-512F), fused with the dequantization for nibble rows of e8 and relaxed
// codes (nibbleFWHT64AVX, nibbleFWHT128AVX; with AVX-512 and head dim 64,
// whole runs of rows per call, nibbleFWHT64RowsAVX512): the same
// operations, the same floats.
func (c *Compressed) dequantResident(rs *rowScratch, pack int, q *Quantizer, rows []byte, scales []uint16, row0 int, out []float32) {
	d, w := c.headDim, c.width
	rowBytes := c.codeRowBytes(pack)
	fv := rs.f[:w]
	var n int // DPad of an in-register transform, else 0
	if useAsm && c.had != nil && (c.had.DPad == 64 || c.had.DPad == 128) {
		n = c.had.DPad
	}
	fused := n > 0 && pack == 0 && w == n && q.Lattice != "scalar"
	if fused && n == 64 && d == 64 && useAVX512 {
		// Whole runs of rows in one call, a chunk of scales at a time.
		var halfS [64]float32
		for r0 := 0; r0 < len(out)/d; r0 += len(halfS) {
			m := min(len(halfS), len(out)/d-r0)
			for r := range m {
				halfS[r] = F16ToF32(scales[row0+r0+r]) / 2
			}
			nibbleFWHT64RowsAVX512(&out[r0*d], &rows[(row0+r0)*rowBytes], &halfS[0], m, &c.had.pre[0])
		}
		return
	}
	for r := range len(out) / d {
		row := rows[(row0+r)*rowBytes : (row0+r+1)*rowBytes]
		dstRow := out[r*d : (r+1)*d]
		switch {
		case n > 0:
			t := dstRow
			if d < n {
				t = rs.hs[:n]
			}
			pre := &c.had.pre[0]
			if fused {
				halfS := F16ToF32(scales[row0+r]) / 2
				switch {
				case n == 64 && useAVX512:
					nibbleFWHT64AVX512(&t[0], &row[0], halfS, pre)
				case n == 64:
					nibbleFWHT64AVX(&t[0], &row[0], halfS, pre)
				case useAVX512:
					nibbleFWHT128AVX512(&t[0], &row[0], halfS, pre)
				default:
					nibbleFWHT128AVX(&t[0], &row[0], halfS, pre)
				}
			} else {
				q.dequantPacked(fv, row, pack, scales[row0+r], rs.codes)
				switch {
				case n == 64 && useAVX512:
					fwht64AVX512(&t[0], &fv[0], pre)
				case n == 64:
					fwht64AVX(&t[0], &fv[0], pre)
				case useAVX512:
					fwht128AVX512(&t[0], &fv[0], pre)
				default:
					fwht128AVX(&t[0], &fv[0], pre)
				}
			}
			if d < n {
				copy(dstRow, t[:d])
			}
		case c.had != nil:
			q.dequantPacked(fv, row, pack, scales[row0+r], rs.codes)
			c.had.InverseScratch(dstRow, fv[:c.had.DPad], rs.hs)
		default:
			q.dequantPacked(fv, row, pack, scales[row0+r], rs.codes)
			copy(dstRow, fv[:d])
		}
	}
}

// dequantRotated fills out (len(out)/head_dim rows) with rows row0… of a
// quantized group of the decode form in the Hadamard basis: the code rows
// dequantized (dequantPacked; with AVX-512, nibble rows a run at a time,
// dequantNibbleRowsAVX512), without the inverse transform. Only for caches
// whose code width is head_dim (RotatedV).
func (c *Compressed) dequantRotated(rs *rowScratch, pack int, q *Quantizer, rows []byte, scales []uint16, row0 int, out []float32) {
	d := c.headDim
	rowBytes := c.codeRowBytes(pack)
	if useAsm && useAVX512 && pack == 0 && d%32 == 0 && q.Lattice != "scalar" {
		// Whole runs of rows in one call, a chunk of scales at a time.
		var halfS [64]float32
		for r0 := 0; r0 < len(out)/d; r0 += len(halfS) {
			m := min(len(halfS), len(out)/d-r0)
			for r := range m {
				halfS[r] = F16ToF32(scales[row0+r0+r]) / 2
			}
			dequantNibbleRowsAVX512(&out[r0*d], &rows[(row0+r0)*rowBytes], &halfS[0], m, d)
		}
		return
	}
	for r := range len(out) / d {
		q.dequantPacked(out[r*d:(r+1)*d], rows[(row0+r)*rowBytes:(row0+r+1)*rowBytes], pack, scales[row0+r], rs.codes)
	}
}

// RotatedV reports whether ReadBlocksRotatedV gives layer's values in the
// Hadamard basis, before the inverse transform (engine.RotatedVReader): for
// a quantized layer of a cache rotated at DPad = head_dim whose decode form
// is built. Attention then sums those rows and transforms each query head's
// sum once (UnrotateV) instead of every row.
func (c *Compressed) RotatedV(layer int) bool {
	return layer >= 0 && layer < c.layers && c.codec == nil && c.had != nil &&
		c.had.DPad == c.headDim && c.width == c.headDim &&
		c.rowCodecFor(layer) == nil && c.dform.form.Load() != nil
}

// ReadBlocksRotatedV is ReadBlocks with the values of a RotatedV layer in
// the Hadamard basis: each value row r is v_r with UnrotateV(v_r) the row
// ReadBlocks gives (within float32 rounding). Keys and positions are
// ReadBlocks' bit for bit. On a layer where RotatedV is false it is
// ReadBlocks.
func (c *Compressed) ReadBlocksRotatedV(layer, head, i, maxRows int, dst *Block) (int, error) {
	return c.readBlocks(layer, head, i, maxRows, dst, c.RotatedV(layer))
}

// UnrotateV sets dst to the inverse Hadamard transform of src (both
// head_dim floats): a weighted sum of value rows from ReadBlocksRotatedV
// mapped back to the basis of ReadBlocks. It panics on other lengths or
// when the cache has no Hadamard rotation at DPad = head_dim.
func (c *Compressed) UnrotateV(layer int, dst, src []float32) {
	d := c.headDim
	if c.had == nil || c.had.DPad != d || len(dst) != d || len(src) != d {
		panic(fmt.Sprintf("stages: UnrotateV: %d and %d floats, head dim %d, rotation %v", len(dst), len(src), d, c.had != nil))
	}
	switch {
	case useAsm && useAVX512 && d == 64:
		fwht64AVX512(&dst[0], &src[0], &c.had.pre[0])
	case useAsm && useAVX512 && d == 128:
		fwht128AVX512(&dst[0], &src[0], &c.had.pre[0])
	default: // DPad = head_dim: the transform needs no scratch
		c.had.InverseScratch(dst, src, nil)
	}
}

// stackWidth is the widest code row (DPad) whose decode scratch readResident
// keeps on the stack: head dimensions up to 256.
const stackWidth = 256

// rowScratch is the scratch of one reader of the decode form: a code row and
// two DPad vectors.
type rowScratch struct {
	codes []int16
	f, hs []float32
}

func (s *rowScratch) bytes() int64 { return 2*int64(cap(s.codes)) + 4*int64(cap(s.f)+cap(s.hs)) }

// getRow returns a pooled rowScratch or a new one, counted in p.bytes.
func (p *scratchPool) getRow(c *Compressed) *rowScratch {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.rowFree); n > 0 {
		s := p.rowFree[n-1]
		p.rowFree = p.rowFree[:n-1]
		return s
	}
	w := c.width
	s := &rowScratch{codes: make([]int16, w), f: make([]float32, w), hs: make([]float32, c.hadPad())}
	p.bytes += s.bytes()
	return s
}

func (p *scratchPool) putRow(s *rowScratch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rowFree = append(p.rowFree, s)
}
