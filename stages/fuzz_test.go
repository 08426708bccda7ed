package stages

import (
	"testing"
)

// FuzzReadCompressed feeds mutated .nqkv encodings to the reader. Seeds are
// real encodings covering gaps and bitmap positions, per-head lists, float16
// layers, int16 codes, raw frames, raw and zstd scale planes, several read
// blocks per frame and method none. The reader must return an
// error or a cache, never panic; with CRC checks off (so mutations reach the
// field checks behind them) every block of an accepted cache must decode
// without panicking.
func FuzzReadCompressed(f *testing.F) {
	seeds := [][]string{
		{"block_tokens", "8", "sliding_window", "4"},
		{"granularity", "head", "protect_boundary", "1", "block_tokens", "16", "eviction_rate", "0.9"},
		{"key_bits", "8", "lattice", "relaxed", "delta", "false", "hadamard", "false"},
		{"method", "none", "block_tokens", "16"},
		{"eviction_rate", "0.1", "lattice", "scalar", "granularity", "layer", "rope_undo", "false"},
	}
	for i, s := range seeds {
		f.Add(nqEncode(f, int64(i), 2, 2, 8, 40, s...))
	}
	f.Add(nqZstdScales(f)) // zstd high-byte planes, read blocks of R < block_tokens rows
	f.Add(nqSlidingFile(f, SlidingCompress))
	f.Add(nqSlidingFile(f, SlidingFloat16)) // float16 layers between quantized ones
	// A no-op RoPE that accepts any head dimension a mutation may declare.
	rope := func(int, []float32, []int32, bool) {}
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := ReadCompressed(data, rope); err == nil {
			if err := nqDecodeEverything(c); err != nil {
				t.Fatalf("a cache that passed its CRCs fails to decode: %v", err)
			}
			if err := c.PrepareDecode(); err != nil {
				t.Fatalf("a cache that passed its CRCs has no decode form: %v", err)
			}
			if err := nqDecodeEverything(c); err != nil {
				t.Fatalf("a cache that passed its CRCs fails to decode from its decode form: %v", err)
			}
		}
		c, err := readCompressed(data, rope, false)
		if err != nil {
			return
		}
		_ = nqDecodeEverything(c)
		_ = c.ResidentBytes()
		if c.PrepareDecode() == nil { // the decode form: the same floats or an error, never a panic
			_ = nqDecodeEverything(c)
		}
	})
}
