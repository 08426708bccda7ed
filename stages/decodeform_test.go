package stages

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
)

// TestDecodeFormMatchesStream checks that ReadBlock from the decode form
// returns what it returns from the stored frames, bit for bit, for every
// read block, at the cache's R and at other R: over code packings (nibbles,
// int8, int16), lattices, delta on and off, with and without the Hadamard
// and RoPE undo, float16 protected and sliding layers, granularities and a
// RowCodec method; for the cache as built, as read back from its file and
// with every frame stored raw.
func TestDecodeFormMatchesStream(t *testing.T) {
	cases := []struct {
		name       string
		d          int
		sliding    bool
		settings   []string
		wantPack   [2]int // the decode form's code packing of K and V
		noDecoding bool   // a RowCodec method: no decode form
	}{
		{name: "balanced", d: 64, settings: []string{"lattice", "relaxed", "eviction_rate", "0.6"}},
		{name: "max", d: 64, settings: []string{"lattice", "relaxed", "eviction_rate", "0.8"}},
		{name: "high", d: 64, settings: []string{"lattice", "relaxed", "eviction_rate", "0.35", "key_bits", "3"}, wantPack: [2]int{1, 0}},
		{name: "e8 K2V2", d: 32},
		{name: "K8V8 int16", d: 32, settings: []string{"key_bits", "8", "value_bits", "8"}, wantPack: [2]int{2, 2}},
		{name: "K5V6 int8", d: 32, settings: []string{"key_bits", "5", "value_bits", "6"}, wantPack: [2]int{1, 1}},
		{name: "scalar K2V4", d: 32, settings: []string{"lattice", "scalar", "value_bits", "4"}},
		{name: "scalar K5V8", d: 32, settings: []string{"lattice", "scalar", "key_bits", "5", "value_bits", "8"}, wantPack: [2]int{1, 1}},
		{name: "protect_boundary", d: 32, settings: []string{"protect_boundary", "1"}},
		{name: "no delta", d: 32, settings: []string{"delta", "false", "lattice", "relaxed"}},
		{name: "no hadamard d40", d: 40, settings: []string{"hadamard", "false"}},
		{name: "no hadamard K3 d40", d: 40, settings: []string{"hadamard", "false", "key_bits", "3"}, wantPack: [2]int{1, 0}},
		{name: "signs d24", d: 24, settings: []string{"hadamard_signs", "true"}},
		{name: "d40 DPad 64", d: 40},
		{name: "d40 DPad 64 K3", d: 40, settings: []string{"key_bits", "3"}, wantPack: [2]int{1, 0}},
		{name: "d128", d: 128, settings: []string{"lattice", "relaxed"}},
		{name: "d128 K3", d: 128, settings: []string{"key_bits", "3"}, wantPack: [2]int{1, 0}},
		{name: "d96 DPad 128", d: 96},
		{name: "d8", d: 8},
		{name: "no rope undo", d: 32, settings: []string{"rope_undo", "false"}},
		{name: "granularity head", d: 32, settings: []string{"granularity", "head"}},
		{name: "sliding compressed", d: 16, sliding: true, settings: []string{"granularity", "layer", "sliding_layers", SlidingCompress, "scorer", "knorm"}},
		{name: "sliding float16", d: 16, sliding: true, settings: []string{"sliding_layers", SlidingFloat16, "scorer", "knorm"}},
		{name: "method none", d: 32, settings: []string{"method", MethodNone}, noDecoding: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const H, T, B = 2, 300, 64
			kv := nqKV(31, 4, H, tc.d, T)
			rope := RoPEFunc(NormalRoPE(tc.d, 10000))
			if tc.sliding {
				kv = nqSlidingKV(31, H, tc.d, T, 100)
				rope = nqLayersRoPE(tc.d)
			}
			s := nqSettings(t, append([]string{"block_tokens", fmt.Sprint(B)}, tc.settings...)...)
			res, err := NewPipeline(kv, nil, rope, "m").Run(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			built := res.Compressed
			var file bytes.Buffer
			if _, err := built.WriteTo(&file); err != nil {
				t.Fatal(err)
			}
			read, err := ReadCompressed(file.Bytes(), rope)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []struct {
				name string
				c    *Compressed
			}{{"built", built}, {"file", read}, {"raw frames", nqAllRaw(t, built)}} {
				c := v.c
				picked := c.ReadBlockRows()
				rs := []int{picked, 1, 7, B}
				stream := make([][][3][]float32, len(rs))
				for i, R := range rs {
					nqSetReadRows(c, R)
					stream[i] = nqReadAll(t, c)
					for _, m := range []int{R, 3*R + 1, 256} {
						nqSameDecode(t, fmt.Sprintf("%s R=%d: stored frames in runs of %d rows", v.name, R, m), nqReadRuns(t, c, m), stream[i])
					}
				}
				before, size := c.ResidentBytes(), c.DecodeFormSize()
				if err := c.PrepareDecode(); err != nil {
					t.Fatal(err)
				}
				form := c.dform.form.Load()
				if tc.noDecoding != (c.DecodeFormBytes() == 0) || form == nil {
					t.Fatalf("%s: decode form of %d bytes", v.name, c.DecodeFormBytes())
				}
				if !tc.noDecoding && form.pack != tc.wantPack {
					t.Errorf("%s: code packing %v, want %v", v.name, form.pack, tc.wantPack)
				}
				if c.DecodeFormBytes() != size {
					t.Errorf("%s: decode form %d bytes, DecodeFormSize said %d", v.name, c.DecodeFormBytes(), size)
				}
				if got := c.ResidentBytes() - before; got < c.DecodeFormBytes() {
					t.Errorf("%s: resident bytes grew by %d, the decode form holds %d", v.name, got, c.DecodeFormBytes())
				}
				if c.DecodeFormBytes() >= c.BaselineBytes() {
					t.Errorf("%s: decode form %d bytes, float16 baseline %d", v.name, c.DecodeFormBytes(), c.BaselineBytes())
				}
				for i, R := range rs {
					nqSetReadRows(c, R)
					nqSameDecode(t, fmt.Sprintf("%s R=%d", v.name, R), nqReadAll(t, c), stream[i])
					for _, m := range []int{R, 3*R + 1, 256} {
						nqSameDecode(t, fmt.Sprintf("%s R=%d: decode form in runs of %d rows", v.name, R, m), nqReadRuns(t, c, m), stream[i])
					}
				}
				nqSetReadRows(c, picked)
			}
		})
	}
}

// TestPrepareDecodeConcurrent builds the decode form while other goroutines
// read blocks and prepare it too: every read gives the stream path's floats
// (run it with -race).
func TestPrepareDecodeConcurrent(t *testing.T) {
	res, err := NewPipeline(nqKV(5, 3, 2, 32, 400), nil, NormalRoPE(32, 10000), "m").Run(context.Background(), nqSettings(t, "block_tokens", "64"))
	if err != nil {
		t.Fatal(err)
	}
	c := res.Compressed
	want := nqReadAll(t, c)
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if g%2 == 0 {
				if err := c.PrepareDecode(); err != nil {
					t.Error(err)
				}
			}
			b := &Block{}
			for l := range 3 {
				for h := range 2 {
					var k, v []float32
					for i := range c.NumBlocks(l, h) {
						if err := c.ReadBlock(l, h, i, b); err != nil {
							t.Error(err)
							return
						}
						k, v = append(k, b.K...), append(v, b.V...)
					}
					w := want[l*2+h]
					nqSameBits(t, fmt.Sprintf("goroutine %d (%d,%d) K", g, l, h), k, w[1])
					nqSameBits(t, fmt.Sprintf("goroutine %d (%d,%d) V", g, l, h), v, w[2])
				}
			}
		}()
	}
	wg.Wait()
	if c.DecodeFormBytes() == 0 {
		t.Fatal("no decode form")
	}
}

// TestPrepareDecodeCorrupt checks that a damaged frame makes PrepareDecode
// fail with an error naming the group and frame, every time, and that
// ReadBlock then still reads from the stored frames (and reports the
// damage for the read blocks it touches), without a panic.
func TestPrepareDecodeCorrupt(t *testing.T) {
	res, err := NewPipeline(nqKV(9, 2, 2, 32, 200), nil, NormalRoPE(32, 10000), "m").Run(context.Background(),
		nqSettings(t, "block_tokens", "64", "delta", "false"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		damage  func(c *Compressed) // damages frame 1 of group (layer 0, K, head 1)
		wantErr string
	}{
		{"zstd frame", func(c *Compressed) {
			fr, raw := c.frame(c.frameIndex(0, 0, 1, 1))
			if raw {
				t.Fatal("frame 1 is stored raw; the case needs a zstd frame")
			}
			for i := range fr[4:] {
				fr[4+i] ^= 0x5a
			}
		}, "(layer 0, K, head 1) frame 1"},
		{"code outside a nibble", func(c *Compressed) {
			fr, _ := c.frame(c.frameIndex(0, 0, 1, 1))
			fr[3] = 0x7f
		}, "(layer 0, K, head 1) frame 1: row 0: code 127"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := res.Compressed
			if tc.name != "zstd frame" {
				c = nqAllRaw(t, c)
			} else {
				c = nqCopy(t, c)
			}
			tc.damage(c)
			for range 2 {
				err := c.PrepareDecode()
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("PrepareDecode: %v, want an error with %q", err, tc.wantErr)
				}
			}
			if c.DecodeFormBytes() != 0 {
				t.Error("a failed decode form counts bytes")
			}
			_ = nqDecodeEverything(c) // the stream path, block by block: errors, no panic
		})
	}
}

// nqCopy rebuilds c from its parts, so a test may damage the copy's frames.
func nqCopy(t *testing.T, c *Compressed) *Compressed {
	t.Helper()
	cp, err := assemble(nqParts(t, c, false), c.rope)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// TestReadResidentNoAllocs checks that ReadBlock from the decode form does
// not allocate.
func TestReadResidentNoAllocs(t *testing.T) {
	if nqRaceEnabled() {
		t.Skip("allocation counts mean nothing under -race")
	}
	for _, d := range []int{64, 128} {
		res, err := NewPipeline(nqKV(3, 2, 2, d, 300), nil, NormalRoPE(d, 10000), "m").Run(context.Background(), nqSettings(t, "protect_boundary", "0"))
		if err != nil {
			t.Fatal(err)
		}
		c := res.Compressed
		if err := c.PrepareDecode(); err != nil {
			t.Fatal(err)
		}
		blk := c.NewBlock()
		allocs := testing.AllocsPerRun(20, func() {
			for i := range c.NumBlocks(1, 1) {
				if err := c.ReadBlock(1, 1, i, blk); err != nil {
					t.Fatal(err)
				}
			}
		})
		if allocs != 0 {
			t.Errorf("d=%d: ReadBlock from the decode form allocates %.1f times per pass", d, allocs)
		}
	}
}

// TestReadBlocksEdges checks ReadBlocks where a run cannot start: a first
// block larger than maxRows reads nothing and returns i; blocks and
// (layer, head) out of range and a block whose K and V do not match its
// positions give errors; and a run from the decode form into a block with
// room does not allocate.
func TestReadBlocksEdges(t *testing.T) {
	const d = 64
	res, err := NewPipeline(nqKV(3, 2, 2, d, 300), nil, NormalRoPE(d, 10000), "m").Run(context.Background(), nqSettings(t, "protect_boundary", "0"))
	if err != nil {
		t.Fatal(err)
	}
	c := res.Compressed
	R := c.ReadBlockRows()
	for _, form := range []bool{false, true} {
		if form {
			if err := c.PrepareDecode(); err != nil {
				t.Fatal(err)
			}
		}
		b := &Block{}
		for _, maxRows := range []int{-1, 0, R - 1} {
			next, err := c.ReadBlocks(1, 1, 0, maxRows, b)
			if err != nil || next != 0 || len(b.Pos)+len(b.K)+len(b.V) != 0 {
				t.Errorf("form %v: at most %d rows (R %d): next %d, %d rows, err %v; want 0, none, nil", form, maxRows, R, next, len(b.Pos), err)
			}
		}
		for _, bad := range []struct {
			layer, head, i int
			want           string
		}{
			{2, 0, 0, "outside 2 layers"},
			{0, 2, 0, "outside 2 layers × 2 KV heads"},
			{0, 0, -1, "block -1"},
			{0, 0, c.NumBlocks(0, 0), fmt.Sprintf("block %d", c.NumBlocks(0, 0))},
		} {
			if _, err := c.ReadBlocks(bad.layer, bad.head, bad.i, 256, b); err == nil || !strings.Contains(err.Error(), bad.want) {
				t.Errorf("form %v: ReadBlocks(%d, %d, %d): %v, want an error naming %q", form, bad.layer, bad.head, bad.i, err, bad.want)
			}
		}
		ragged := &Block{Pos: []int32{1}, K: make([]float32, d), V: make([]float32, d-1)}
		if _, err := c.ReadBlocks(0, 0, 0, 256, ragged); err == nil || !strings.Contains(err.Error(), "value floats") {
			t.Errorf("form %v: ReadBlocks into a ragged block: %v", form, err)
		}
	}
	if nqRaceEnabled() {
		return
	}
	b := &Block{Pos: make([]int32, 0, 256), K: make([]float32, 0, 256*d), V: make([]float32, 0, 256*d)}
	allocs := testing.AllocsPerRun(20, func() {
		for i := 0; i < c.NumBlocks(1, 1); {
			b.Pos, b.K, b.V = b.Pos[:0], b.K[:0], b.V[:0]
			next, err := c.ReadBlocks(1, 1, i, 256, b)
			if err != nil || next <= i {
				t.Fatalf("ReadBlocks from %d: next %d, %v", i, next, err)
			}
			i = next
		}
	})
	if allocs != 0 {
		t.Errorf("ReadBlocks from the decode form allocates %.1f times per pass", allocs)
	}
}

// TestPrepareDecodeLimit checks that a decode form over the size limit is
// not built and that ReadBlock then decodes from the stored frames, and that
// the limit leaves room for any real cache.
func TestPrepareDecodeLimit(t *testing.T) {
	res, err := NewPipeline(nqKV(4, 2, 2, 32, 300), nil, NormalRoPE(32, 10000), "m").Run(context.Background(), nqSettings(t, "block_tokens", "64"))
	if err != nil {
		t.Fatal(err)
	}
	c := nqCopy(t, res.Compressed)
	want := nqReadAll(t, c)
	if err := c.prepareDecode(c.DecodeFormSize() - 1); err != nil {
		t.Fatal(err)
	}
	if c.DecodeFormBytes() != 0 || c.dform.form.Load() != nil {
		t.Fatalf("a decode form over the limit was built (%d bytes)", c.DecodeFormBytes())
	}
	if err := c.PrepareDecode(); err != nil || c.DecodeFormBytes() != 0 {
		t.Fatalf("PrepareDecode after declining: %v, %d bytes", err, c.DecodeFormBytes())
	}
	nqSameDecode(t, "declined", nqReadAll(t, c), want)
	// A real cache's decode form is a small multiple of its stored bytes.
	stored := res.Compressed.Stored().Total()
	if size := res.Compressed.DecodeFormSize(); size > 4*stored || decodeFormLimit(stored) < 64*stored {
		t.Errorf("decode form %d bytes for %d stored, limit %d", size, stored, decodeFormLimit(stored))
	}
}

// TestReadBlocksRotatedV checks the rotated read of the decode form: where
// RotatedV holds (a quantized layer, the Hadamard at DPad = head_dim, the
// decode form built), keys and positions are ReadBlocks' bit for bit and
// every value row, mapped back by UnrotateV, is ReadBlocks' within float32
// rounding; elsewhere ReadBlocksRotatedV is ReadBlocks.
func TestReadBlocksRotatedV(t *testing.T) {
	for _, tc := range []struct {
		name     string
		d        int
		settings []string
		rotated  bool
	}{
		{"balanced d64", 64, []string{"lattice", "relaxed", "eviction_rate", "0.6"}, true},
		{"e8 K3 d64", 64, []string{"key_bits", "3"}, true},
		{"e8 d128", 128, nil, true},
		{"scalar K4V4 d32", 32, []string{"lattice", "scalar", "key_bits", "4", "value_bits", "4"}, true},
		{"int8 V6 d8", 8, []string{"value_bits", "6"}, true},
		{"d40 DPad 64", 40, nil, false},
		{"no hadamard", 32, []string{"hadamard", "false"}, false},
		{"method none", 32, []string{"method", MethodNone}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const H, T = 2, 300
			rope := NormalRoPE(tc.d, 10000)
			s := nqSettings(t, append([]string{"block_tokens", "64", "protect_boundary", "1"}, tc.settings...)...)
			res, err := NewPipeline(nqKV(5, 4, H, tc.d, T), nil, rope, "m").Run(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			c := res.Compressed
			if c.RotatedV(1) {
				t.Fatal("RotatedV before the decode form is built")
			}
			if err := c.PrepareDecode(); err != nil {
				t.Fatal(err)
			}
			L, _, d := c.Dims()
			for l := range L {
				want := tc.rotated && l > 0 && l < L-1 // protect_boundary 1: float16 first and last layers
				if got := c.RotatedV(l); got != want {
					t.Fatalf("layer %d: RotatedV %v, want %v", l, got, want)
				}
				for h := range H {
					for i := 0; i < c.NumBlocks(l, h); {
						plain, rot := &Block{}, &Block{}
						next, err := c.ReadBlocks(l, h, i, 100, plain)
						if err != nil {
							t.Fatal(err)
						}
						next2, err := c.ReadBlocksRotatedV(l, h, i, 100, rot)
						if err != nil || next2 != next {
							t.Fatalf("(%d,%d) from %d: next %d and %d, %v", l, h, i, next, next2, err)
						}
						nqSameBits(t, "positions", int32sAsFloats(rot.Pos), int32sAsFloats(plain.Pos))
						nqSameBits(t, "keys", rot.K, plain.K)
						if !want {
							nqSameBits(t, "values", rot.V, plain.V)
						} else {
							back := make([]float32, d)
							for r := range len(rot.Pos) {
								c.UnrotateV(l, back, rot.V[r*d:(r+1)*d])
								for j, v := range back {
									if e := math.Abs(float64(v - plain.V[r*d+j])); e > 1e-5*(1+math.Abs(float64(plain.V[r*d+j]))) {
										t.Fatalf("(%d,%d) row %d: unrotated value[%d] = %g, ReadBlocks %g", l, h, r, j, v, plain.V[r*d+j])
									}
								}
							}
						}
						i = next
					}
				}
			}
		})
	}
}

func int32sAsFloats(p []int32) []float32 {
	out := make([]float32, len(p))
	for i, v := range p {
		out[i] = float32(v)
	}
	return out
}
