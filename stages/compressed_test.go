package stages

import (
	"context"
	"fmt"
	"math/rand"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"testing"
)

// nqRaceEnabled reports whether the test binary was built with -race, under
// which sync.Pool (inside zstd) drops items and allocation counts mean nothing.
func nqRaceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// TestReadBlockBoundedScratch checks that block decoding never builds a
// layer-sized float buffer: ReadBlock does not allocate in steady state, the
// pooled scratch stays within block_tokens·DPad·2 bytes, block_tokens bytes
// of scale high bytes and a few DPad vectors per concurrent reader, and
// ResidentBytes stays near the stored bytes.
func TestReadBlockBoundedScratch(t *testing.T) {
	const L, H, d, T, B = 4, 4, 64, 1500, 64
	kv := nqKV(8, L, H, d, T)
	p := NewPipeline(kv, nil, NormalRoPE(d, 10000), "m")
	for _, sets := range [][]string{
		{"block_tokens", "64"},
		{"block_tokens", "64", "key_bits", "8", "value_bits", "8"}, // int16 codes
		{"block_tokens", "64", "protect_boundary", "1"},
	} {
		res, err := p.Run(context.Background(), nqSettings(t, sets...))
		if err != nil {
			t.Fatal(err)
		}
		c := res.Compressed
		// The pipeline decoded everything on GOMAXPROCS goroutines already.
		blk := c.NewBlock()
		allocs := testing.AllocsPerRun(50, func() {
			for i := range c.NumBlocks(1, 2) {
				if err := c.ReadBlock(1, 2, i, blk); err != nil {
					t.Fatal(err)
				}
			}
		})
		if allocs != 0 && !nqRaceEnabled() {
			t.Errorf("%v: ReadBlock allocates %.1f times per pass in steady state", sets, allocs)
		}
		// Concurrent readers each borrow one scratch.
		var wg sync.WaitGroup
		readers := 4
		for r := range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := &Block{}
				for l := range L {
					for i := range c.NumBlocks(l, r%H) {
						if err := c.ReadBlock(l, r%H, i, b); err != nil {
							t.Error(err)
						}
					}
				}
			}()
		}
		wg.Wait()
		w := c.width
		perScratch := int64(B*w*2 + B + 2*w + 4*w + 4*w)
		maxScratch := int64(max(readers, runtime.GOMAXPROCS(0))+1) * perScratch
		c.pool.mu.Lock()
		scratch, nScratch := c.pool.bytes, len(c.pool.free)
		c.pool.mu.Unlock()
		if scratch > maxScratch {
			t.Errorf("%v: %d scratch bytes in %d scratches, bound %d", sets, scratch, nScratch, maxScratch)
		}
		for _, s := range c.pool.free {
			if int64(cap(s.raw)) > int64(B*w*2) || cap(s.hi) > B {
				t.Errorf("%v: a scratch holds %d+%d bytes, more than one block (%d+%d)", sets, cap(s.raw), cap(s.hi), B*w*2, B)
			}
		}
		layerFloats := int64(T * d * 4)
		if scratch >= layerFloats {
			t.Errorf("%v: scratch %d is as large as one layer's float rows (%d)", sets, scratch, layerFloats)
		}
		stored := c.Stored().Total()
		res2 := c.ResidentBytes()
		// Beyond the stored bytes: the frame indexes and the in-memory
		// positions (≤ 2% here), the scratch and the handed-out Blocks.
		if float64(res2) > 1.02*float64(stored)+float64(scratch)+float64(c.pool.handed) {
			t.Errorf("%v: resident %d vs stored %d (+scratch %d)", sets, res2, stored, scratch)
		}
		t.Logf("%v: stored %d resident %d scratch %d (%d scratches) ratio total %.2f resident %.2f",
			sets, stored, res2, scratch, nScratch, res.Report.RatioTotal, res.Report.RatioResident)
	}
}

func TestReadBlockArgs(t *testing.T) {
	kv := nqKV(8, 2, 2, 16, 100)
	res, err := NewPipeline(kv, nil, NormalRoPE(16, 10000), "m").Run(context.Background(), nqSettings(t, "block_tokens", "10"))
	if err != nil {
		t.Fatal(err)
	}
	c := res.Compressed
	b := &Block{}
	for _, a := range [][3]int{{-1, 0, 0}, {2, 0, 0}, {0, 2, 0}, {0, -1, 0}, {0, 0, -1}, {0, 0, c.NumBlocks(0, 0)}} {
		if err := c.ReadBlock(a[0], a[1], a[2], b); err == nil {
			t.Errorf("ReadBlock%v accepted", a)
		}
	}
	if c.NumBlocks(5, 0) != 0 || c.Kept(0, 9) != 0 {
		t.Error("out-of-range NumBlocks/Kept not 0")
	}
	// Blocks partition the kept tokens: full blocks then one remainder.
	n := c.Kept(0, 0)
	if nb := c.NumBlocks(0, 0); nb != (n+9)/10 {
		t.Fatalf("%d blocks for %d kept", nb, n)
	}
	if err := c.ReadBlock(0, 0, c.NumBlocks(0, 0)-1, b); err != nil || len(b.Pos) != n-10*(c.NumBlocks(0, 0)-1) || len(b.K) != 16*len(b.Pos) {
		t.Fatalf("last block: %v, %d rows", err, len(b.Pos))
	}
}

// nqSetReadRows forces R, which the rule of ReadBlockRows otherwise picks
// from the stored sizes.
func nqSetReadRows(c *Compressed, R int) {
	c.readRows, c.perFrame = R, (c.s.BlockTokens+R-1)/R
}

// nqParts returns c's pieces as ReadCompressed would pass them to assemble;
// with allRaw every frame and every scale frame's high-byte plane is stored
// raw instead, so the raw decode paths (a delta-coded raw frame copied row
// by row, raw high planes) run.
func nqParts(t *testing.T, c *Compressed, allRaw bool) *parts {
	t.Helper()
	posRaw, posStored, err := c.posStreams()
	if err != nil {
		t.Fatal(err)
	}
	p := &parts{modelID: c.modelID, layers: c.layers, kvHeads: c.kvHeads, headDim: c.headDim,
		width: c.width, T: c.prefixLen, s: c.s, attn: slices.Clone(c.attn), posKind: c.posKind, posZstd: c.posZstd,
		posRaw: slices.Clone(posRaw), posStoredLen: len(posStored)}
	unzstd := func(fr []byte) []byte {
		h, err := zstdHeader(fr)
		if err != nil {
			t.Fatal(err)
		}
		out, err := zstdDecodeExact(nil, fr, int(h.FrameContentSize))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for f := range c.frameEnd {
		fr, raw := c.frame(f)
		if allRaw && !raw {
			fr, raw = unzstd(fr), true
		}
		p.frames = append(p.frames, fr...)
		p.words = append(p.words, frameWord(len(fr), raw))
	}
	for s := range c.scaleEnd {
		fr, raw := c.scaleFrame(s)
		if allRaw && !raw {
			h, err := zstdHeader(fr)
			if err != nil {
				t.Fatal(err)
			}
			m := int(h.FrameContentSize)
			fr, raw = append(unzstd(fr[:len(fr)-m]), fr[len(fr)-m:]...), true
		}
		p.scaleFrames = append(p.scaleFrames, fr...)
		p.scaleWords = append(p.scaleWords, frameWord(len(fr), raw))
	}
	return p
}

// nqAllRaw rebuilds c with every frame and high-byte plane stored raw.
func nqAllRaw(t *testing.T, c *Compressed) *Compressed {
	t.Helper()
	raw, err := assemble(nqParts(t, c, true), c.rope)
	if err != nil {
		t.Fatal(err)
	}
	if raw.s.Delta && len(raw.scaleEnd) > 0 && raw.maxRaw == 0 {
		t.Fatal("delta-coded raw frames decode without scratch")
	}
	return raw
}

// nqReadAll decodes every read block of c in order with one Block and checks
// the read-block layout: R rows per block except at a frame's end, blocks
// never crossing a frame. It returns per (layer, head) the positions, K and V.
func nqReadAll(t *testing.T, c *Compressed) [][3][]float32 {
	t.Helper()
	L, H, d := c.Dims()
	B, R := c.s.BlockTokens, c.ReadBlockRows()
	var out [][3][]float32
	b := &Block{}
	for l := range L {
		for h := range H {
			var all [3][]float32
			row := 0
			for i := range c.NumBlocks(l, h) {
				if err := c.ReadBlock(l, h, i, b); err != nil {
					t.Fatal(err)
				}
				n := len(b.Pos)
				inFrame := row % B
				if n == 0 || n > R || inFrame%R != 0 || inFrame+n > B || len(b.K) != n*d || len(b.V) != n*d {
					t.Fatalf("(%d,%d) block %d: %d rows at row %d (R %d, B %d)", l, h, i, n, row, R, B)
				}
				if n < R && inFrame+n != B && row+n != c.Kept(l, h) {
					t.Fatalf("(%d,%d) block %d: short block of %d rows inside a frame", l, h, i, n)
				}
				row += n
				for _, p := range b.Pos {
					all[0] = append(all[0], float32(p))
				}
				all[1] = append(all[1], b.K...)
				all[2] = append(all[2], b.V...)
			}
			if row != c.Kept(l, h) {
				t.Fatalf("(%d,%d): blocks hold %d rows, kept %d", l, h, row, c.Kept(l, h))
			}
			out = append(out, all)
		}
	}
	return out
}

// nqReadRuns is nqReadAll through ReadBlocks, runs of at most maxRows rows
// appended after a marker row already in the block, which must survive.
func nqReadRuns(t *testing.T, c *Compressed, maxRows int) [][3][]float32 {
	t.Helper()
	L, H, d := c.Dims()
	var out [][3][]float32
	for l := range L {
		for h := range H {
			var all [3][]float32
			for i := 0; i < c.NumBlocks(l, h); {
				b := &Block{Pos: []int32{-7}, K: make([]float32, d), V: make([]float32, d)}
				b.K[0], b.V[d-1] = 3, 5
				next, err := c.ReadBlocks(l, h, i, maxRows, b)
				if err != nil {
					t.Fatal(err)
				}
				n := len(b.Pos) - 1
				if next <= i || n > maxRows || len(b.K) != (n+1)*d || len(b.V) != (n+1)*d {
					t.Fatalf("(%d,%d) ReadBlocks from %d (at most %d rows): next %d, %d rows, %d K and %d V floats", l, h, i, maxRows, next, n, len(b.K), len(b.V))
				}
				if b.Pos[0] != -7 || b.K[0] != 3 || b.V[d-1] != 5 {
					t.Fatalf("(%d,%d) ReadBlocks from %d overwrote what the block held", l, h, i)
				}
				if next < c.NumBlocks(l, h) { // the next block would not have fitted
					_, _, _, nr := c.locate(c.Kept(l, h), next)
					if n+nr <= maxRows {
						t.Fatalf("(%d,%d) ReadBlocks from %d stopped at %d with %d of %d rows used; block %d has %d", l, h, i, next, n, maxRows, next, nr)
					}
				}
				for _, p := range b.Pos[1:] {
					all[0] = append(all[0], float32(p))
				}
				all[1] = append(all[1], b.K[d:]...)
				all[2] = append(all[2], b.V[d:]...)
				i = next
			}
			out = append(out, all)
		}
	}
	return out
}

func nqSameDecode(t *testing.T, what string, got, want [][3][]float32) {
	t.Helper()
	for i := range want {
		for j, name := range []string{"positions", "K", "V"} {
			nqSameBits(t, fmt.Sprintf("%s: list %d %s", what, i, name), got[i][j], want[i][j])
		}
	}
}

// TestReadBlockRows checks the rule that picks R and that every R decodes
// the same rows: read blocks partition each frame, in order, from zstd and
// from raw frames, with float16 layers, int16 codes, delta on and off.
func TestReadBlockRows(t *testing.T) {
	rope := NormalRoPE(16, 10000)
	p := NewPipeline(nqKV(12, 3, 2, 16, 300), nil, rope, "m")
	for _, sets := range [][]string{
		{"block_tokens", "64"},
		{"block_tokens", "50", "protect_boundary", "1"},
		{"block_tokens", "64", "key_bits", "8", "value_bits", "8", "lattice", "relaxed"},
		{"block_tokens", "37", "delta", "false", "eviction_rate", "0.3"},
		{"block_tokens", "256", "hadamard", "false", "granularity", "head"},
		{"method", "none", "block_tokens", "40"},
	} {
		res, err := p.Run(context.Background(), nqSettings(t, sets...))
		if err != nil {
			t.Fatal(err)
		}
		c := res.Compressed
		B, R := c.s.BlockTokens, c.ReadBlockRows()
		// The rule: the largest ⌈B/2^k⌉ ≥ 8 within 1/32 of the stored bytes,
		// else the smallest; B for a RowCodec method.
		var cands []int
		for k := 0; ; k++ {
			r := (B + 1<<k - 1) >> k
			if k > 0 && r < minReadRows {
				break
			}
			cands = append(cands, r)
		}
		limit := c.Stored().Total() / readerShare
		want := cands[len(cands)-1]
		for _, r := range cands {
			if c.readerBytesAt(r) <= limit {
				want = r
				break
			}
		}
		if c.codec != nil {
			want = B
		}
		if R != want {
			t.Errorf("%v: R = %d, the rule gives %d (candidates %v, limit %d)", sets, R, want, cands, limit)
		}
		rep := res.Report
		if rep.Blocking.ReadBlockRows != R || rep.ReaderBytes != c.ReaderBytes() {
			t.Errorf("%v: report R %d reader %d, cache %d %d", sets, rep.Blocking.ReadBlockRows, rep.ReaderBytes, R, c.ReaderBytes())
		}
		// The pipeline keeps one reader's buffers: measured, they are ReaderBytes.
		c.pool.mu.Lock()
		held := c.pool.bytes + c.pool.handed
		c.pool.mu.Unlock()
		if held != c.ReaderBytes() {
			t.Errorf("%v: one reader holds %d bytes, ReaderBytes says %d", sets, held, c.ReaderBytes())
		}
		t.Logf("%v: R %d of B %d, reader %d of stored %d", sets, R, B, c.ReaderBytes(), c.Stored().Total())

		ref := nqReadAll(t, c)
		raw := nqAllRaw(t, c)
		for _, r := range []int{1, 3, 8, 16, B/2 + 1, B} {
			if r < 1 || r > B || c.codec != nil && r != B {
				continue
			}
			for _, cc := range []*Compressed{c, raw} {
				nqSetReadRows(cc, r)
				nqSameDecode(t, fmt.Sprintf("%v R=%d", sets, r), nqReadAll(t, cc), ref)
			}
		}
		nqSetReadRows(c, R)
	}
}

// TestReadBlockAnyOrder reads blocks in a random order, interleaving lists,
// with one scratch and then with several goroutines: the scratch's kept
// frame must never leak into another block.
func TestReadBlockAnyOrder(t *testing.T) {
	rope := NormalRoPE(16, 10000)
	p := NewPipeline(nqKV(13, 2, 2, 16, 400), nil, rope, "m")
	for _, sets := range [][]string{
		{"block_tokens", "64", "granularity", "head"},
		{"block_tokens", "64", "protect_boundary", "1", "key_bits", "8"},
	} {
		res, err := p.Run(context.Background(), nqSettings(t, sets...))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []*Compressed{res.Compressed, nqAllRaw(t, res.Compressed)} {
			nqSetReadRows(c, 8)
			type key struct{ l, h, i int }
			want := map[key]Block{}
			var keys []key
			for l := range 2 {
				for h := range 2 {
					for i := range c.NumBlocks(l, h) {
						b := Block{}
						if err := c.ReadBlock(l, h, i, &b); err != nil {
							t.Fatal(err)
						}
						want[key{l, h, i}] = b
						keys = append(keys, key{l, h, i})
					}
				}
			}
			check := func(b *Block, k key) {
				w := want[k]
				if !slices.Equal(b.Pos, w.Pos) {
					t.Errorf("%v %v: positions differ", sets, k)
				}
				nqSameBits(t, fmt.Sprintf("%v %v K", sets, k), b.K, w.K)
				nqSameBits(t, fmt.Sprintf("%v %v V", sets, k), b.V, w.V)
			}
			rng := rand.New(rand.NewSource(1))
			b := &Block{}
			for range 3 {
				rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
				for _, k := range keys {
					if err := c.ReadBlock(k.l, k.h, k.i, b); err != nil {
						t.Fatal(err)
					}
					check(b, k)
				}
			}
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					b := &Block{}
					for j := range 4 * len(keys) {
						k := keys[(j*7+g*13)%len(keys)]
						if err := c.ReadBlock(k.l, k.h, k.i, b); err != nil {
							t.Error(err)
							return
						}
						check(b, k)
					}
				}()
			}
			wg.Wait()
		}
	}
}
