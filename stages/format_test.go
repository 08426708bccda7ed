package stages

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// nqEncode builds a small cache with the given settings and returns its
// .nqkv bytes.
func nqEncode(t testing.TB, seed int64, L, H, d, T int, kv ...string) []byte {
	t.Helper()
	p := NewPipeline(nqKV(seed, L, H, d, T), nil, NormalRoPE(d, 10000), "model:stories")
	s := nqSettings(t, kv...)
	res, err := p.Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := res.Compressed.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// nqDecodeEverything reads every block; it must not panic.
func nqDecodeEverything(c *Compressed) error {
	L, H, _ := c.Dims()
	b := &Block{}
	for l := range L {
		for h := range H {
			for i := range c.NumBlocks(l, h) {
				if err := c.ReadBlock(l, h, i, b); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// nqReseal recomputes the header CRC after the header was edited in place.
func nqReseal(data []byte) {
	h := int(binary.LittleEndian.Uint32(data[6:]))
	binary.LittleEndian.PutUint32(data[10+h:], crc32.Checksum(data[:10+h], crcTable))
}

// nqZstdScales encodes a cache (head dim 16, so decode it with
// NormalRoPE(16, 10000)) whose scale frames' high-byte planes are zstd in
// some frames and raw in others, and whose frames are read in several read
// blocks each.
func nqZstdScales(t testing.TB) []byte {
	data := nqEncode(t, 4, 1, 1, 16, 300, "block_tokens", "128", "zstd_level", "best")
	c, err := ReadCompressed(data, NormalRoPE(16, 10000))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.ScalesEncoding(), " of ") || c.ReadBlockRows() >= 128 {
		t.Fatalf("want zstd and raw high planes and R < 128: %s, R %d", c.ScalesEncoding(), c.ReadBlockRows())
	}
	return data
}

func TestReadCompressedTruncated(t *testing.T) {
	for _, enc := range [][]string{
		{"block_tokens", "8", "sliding_window", "4"},
		{"granularity", "head", "protect_boundary", "1", "block_tokens", "16"},
		nil, // nqZstdScales
	} {
		data, rope := nqEncode(t, 1, 3, 1, 8, 40, enc...), NormalRoPE(8, 10000)
		if enc == nil {
			data, rope = nqZstdScales(t), NormalRoPE(16, 10000)
		}
		if _, err := ReadCompressed(data, rope); err != nil {
			t.Fatal(err)
		}
		for n := range len(data) {
			c, err := ReadCompressed(data[:n], rope)
			if err == nil || c != nil {
				t.Fatalf("%v: truncation to %d of %d bytes accepted", enc, n, len(data))
			}
			if !strings.HasPrefix(err.Error(), "nqkv: ") {
				t.Fatalf("error %q lacks the nqkv prefix", err)
			}
		}
	}
}

// TestReadCompressedBitFlips flips random bits: the CRCs must catch every
// one; with CRC checks off the parser and the decoder must still return
// errors or data, never panic.
func TestReadCompressedBitFlips(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	for _, enc := range [][]string{
		{"block_tokens", "8", "sliding_window", "4"},
		{"granularity", "layer", "eviction_rate", "0.2", "key_bits", "8", "lattice", "relaxed"},
		{"method", "none", "block_tokens", "16"},
		nil, // nqZstdScales
	} {
		data, rope := nqEncode(t, 2, 2, 2, 8, 50, enc...), NormalRoPE(8, 10000)
		if enc == nil {
			data, rope = nqZstdScales(t), NormalRoPE(16, 10000)
		}
		for range 1500 {
			bad := bytes.Clone(data)
			for range 1 + rng.Intn(3) {
				i := rng.Intn(len(bad))
				bad[i] ^= 1 << rng.Intn(8)
			}
			if bytes.Equal(bad, data) {
				continue
			}
			if _, err := ReadCompressed(bad, rope); err == nil {
				t.Fatalf("%v: bit flips accepted", enc)
			}
			if c, err := readCompressed(bad, rope, false); err == nil {
				_ = nqDecodeEverything(c)
			}
		}
	}
}

// TestReadCompressedFields edits single fields (with a valid CRC) and checks
// that the error names the field.
func TestReadCompressedFields(t *testing.T) {
	base := nqEncode(t, 3, 2, 1, 8, 30, "block_tokens", "8", "sliding_window", "4")
	hlen := int(binary.LittleEndian.Uint32(base[6:]))
	// Offsets in the header: model "model:stories" is 1+13 bytes at 10.
	const layersAt = 10 + 14
	cases := []struct {
		name string
		edit func([]byte) []byte
		want string
	}{
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, "magic"},
		{"version", func(b []byte) []byte { b[4] = 1; return b }, "version 1"},
		{"version", func(b []byte) []byte { b[4] = 3; return b }, "version 3"},
		{"header length", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[6:], 1<<30); return b }, "header length"},
		{"layers 0", func(b []byte) []byte { b[layersAt] = 0; nqReseal(b); return b }, "layers"},
		{"layers 3", func(b []byte) []byte { b[layersAt] = 3; nqReseal(b); return b }, "frame count"},
		{"head dim", func(b []byte) []byte { b[layersAt+2] = 16; nqReseal(b); return b }, "code width"},
		{"trailing bytes", func(b []byte) []byte { return append(b, 0) }, "after the rows stream"},
		{"header crc", func(b []byte) []byte { b[10+hlen] ^= 1; return b }, "header CRC"},
		{"rows crc", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, "rows CRC"},
		{"short", func(b []byte) []byte { return b[:5] }, "preamble"},
	}
	for _, c := range cases {
		_, err := ReadCompressed(c.edit(bytes.Clone(base)), NormalRoPE(8, 10000))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
	if _, err := ReadCompressed(base, nil); err == nil || !strings.Contains(err.Error(), "RoPE") {
		t.Errorf("rope_undo file without a RoPE function: %v", err)
	}
	c, err := ReadCompressed(base, NormalRoPE(8, 10000))
	if err != nil || c.ModelID() != "model:stories" || c.PrefixLen() != 30 {
		t.Fatalf("read back: %v", err)
	}
	if l, h, d := c.Dims(); l != 2 || h != 1 || d != 8 {
		t.Fatalf("dims %d %d %d", l, h, d)
	}
}

// TestScaleFramesChecked edits the scale frames and their table (the pieces
// assemble receives from the reader) and checks that each defect is refused
// with an error naming it.
func TestScaleFramesChecked(t *testing.T) {
	rope := NormalRoPE(16, 10000)
	c, err := ReadCompressed(nqZstdScales(t), rope)
	if err != nil {
		t.Fatal(err)
	}
	// The first scale frame with a zstd high plane, and its rows.
	z := -1
	for s := range c.scaleEnd {
		if _, raw := c.scaleFrame(s); !raw {
			z = s
			break
		}
	}
	fr, _ := c.scaleFrame(z)
	h, err := zstdHeader(fr)
	if err != nil {
		t.Fatal(err)
	}
	m := int(h.FrameContentSize)
	start := int(c.scaleEnd[z]) - len(fr)
	cases := []struct {
		name string
		edit func(p *parts)
		want string
	}{
		{"one word fewer", func(p *parts) { p.scaleWords = p.scaleWords[1:] }, "scale frame count"},
		{"one word more", func(p *parts) { p.scaleWords = append(p.scaleWords, 3) }, "scale frame count"},
		{"past the stream", func(p *parts) { p.scaleWords[len(p.scaleWords)-1] += 2 << 1 }, "past the scales stream"},
		{"trailing bytes", func(p *parts) { p.scaleFrames = append(p.scaleFrames, 0) }, "scale frames cover"},
		{"shorter than its low bytes", func(p *parts) { p.scaleWords[z] = frameWord(m-1, false) }, "low bytes"},
		{"raw of the wrong size", func(p *parts) { p.scaleWords[z] |= 1 }, "raw high plane"},
		{"zstd declaring other rows", func(p *parts) {
			p.scaleFrames[start+5]++ // frame content size (single segment, 1 byte)
		}, "declares"},
	}
	for _, tc := range cases {
		p := nqParts(t, c, false)
		p.scaleFrames = slices.Clone(p.scaleFrames)
		tc.edit(p)
		if _, err := assemble(p, rope); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	if _, err := assemble(nqParts(t, c, false), rope); err != nil {
		t.Fatalf("unedited pieces: %v", err)
	}
}
