package stages

import (
	"context"
	"runtime"
	"runtime/debug"
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
// pooled scratch stays within block_tokens·DPad·2 bytes plus a few DPad
// vectors per concurrent reader, and ResidentBytes stays near the stored
// bytes.
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
		perScratch := int64(B*w*2 + 2*w + 4*w + 4*w)
		maxScratch := int64(max(readers, runtime.GOMAXPROCS(0))+1) * perScratch
		c.pool.mu.Lock()
		scratch, nScratch := c.pool.bytes, len(c.pool.free)
		c.pool.mu.Unlock()
		if scratch > maxScratch {
			t.Errorf("%v: %d scratch bytes in %d scratches, bound %d", sets, scratch, nScratch, maxScratch)
		}
		for _, s := range c.pool.free {
			if int64(cap(s.raw)) > int64(B*w*2) {
				t.Errorf("%v: a scratch holds %d bytes, more than one block (%d)", sets, cap(s.raw), B*w*2)
			}
		}
		layerFloats := int64(T * d * 4)
		if scratch >= layerFloats {
			t.Errorf("%v: scratch %d is as large as one layer's float rows (%d)", sets, scratch, layerFloats)
		}
		stored := c.Stored().Total()
		res2 := c.ResidentBytes()
		// Beyond the stored bytes: the frame index, the in-memory positions and
		// raw scales (≤ 2% here), the scratch and the handed-out Blocks.
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
