package stages

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

func TestDeltaRows(t *testing.T) {
	// Known values with wrap-around: int8 rows {127, -128} → delta {127, 1}
	// (−128 − 127 = −255 ≡ 1 mod 256); int16 rows {32767, -32768} → {32767, 1}.
	got := deltaRows(nil, []byte{127, 0x80}, 1, 1)
	if !bytes.Equal(got, []byte{127, 1}) {
		t.Fatalf("int8 delta %v", got)
	}
	src16 := binary.LittleEndian.AppendUint16(binary.LittleEndian.AppendUint16(nil, 32767), 0x8000)
	got = deltaRows(nil, src16, 2, 2)
	if binary.LittleEndian.Uint16(got[2:]) != 1 {
		t.Fatalf("int16 delta %v", got)
	}
	rng := rand.New(rand.NewSource(1))
	for _, cb := range []int{1, 2} {
		for _, rows := range []int{1, 2, 7, 64} {
			for _, rowBytes := range []int{cb, 2 * cb, 6, 8, 16 * cb, 24, 136} {
				src := make([]byte, rows*rowBytes)
				rng.Read(src)
				fast := deltaRows(nil, src, rowBytes, cb)
				if ref := deltaRowsRef(nil, src, rowBytes, cb); !bytes.Equal(fast, ref) {
					t.Fatalf("cb %d rows %d rowBytes %d: deltaRows differs from deltaRowsRef", cb, rows, rowBytes)
				}
				undeltaRows(fast, rowBytes, cb)
				if !bytes.Equal(fast, src) {
					t.Fatalf("cb %d rows %d rowBytes %d: undelta(delta(x)) != x", cb, rows, rowBytes)
				}
			}
			rowBytes := 16 * cb
			src := make([]byte, rows*rowBytes)
			rng.Read(src)
			d := deltaRows([]byte{9}, src, rowBytes, cb)[1:]
			if !bytes.Equal(d[:rowBytes], src[:rowBytes]) {
				t.Fatalf("cb %d: row 0 not raw", cb)
			}
			undeltaRows(d, rowBytes, cb)
			if !bytes.Equal(d, src) {
				t.Fatalf("cb %d rows %d: undelta(delta(x)) != x", cb, rows)
			}
		}
	}
}

func TestAppendFrame(t *testing.T) {
	enc, err := zstdEncoder("fastest")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(2))
	noise := make([]byte, 300)
	rng.Read(noise)
	zeros := make([]byte, 300)
	cases := []struct {
		name    string
		src     []byte
		enc     bool
		wantRaw bool
	}{
		{"noise falls back to raw", noise, true, true},
		{"zeros compress", zeros, true, false},
		{"no encoder is raw", zeros, false, true},
	}
	for _, c := range cases {
		e := enc
		if !c.enc {
			e = nil
		}
		out, w := appendFrame([]byte("prefix"), c.src, e)
		raw := w&1 == 1
		n := int(w >> 1)
		if raw != c.wantRaw || len(out) != 6+n {
			t.Fatalf("%s: raw %t len %d word %d", c.name, raw, len(out), w)
		}
		fr := out[6:]
		if raw {
			if !bytes.Equal(fr, c.src) {
				t.Fatalf("%s: raw frame differs", c.name)
			}
			continue
		}
		dec, err := zstdDecodeExact(nil, fr, len(c.src))
		if err != nil || !bytes.Equal(dec, c.src) {
			t.Fatalf("%s: decode %v", c.name, err)
		}
		if _, err := zstdDecodeExact(nil, fr, len(c.src)+1); err == nil {
			t.Fatalf("%s: wrong expected size accepted", c.name)
		}
		if _, err := zstdDecodeExact(nil, fr[:len(fr)-1], len(c.src)); err == nil {
			t.Fatalf("%s: truncated frame accepted", c.name)
		}
	}
}

// TestGroupEncoderBlocks checks that frames restart the delta at each block,
// so each decodes alone, and that one frame per stream is what unblocked
// measures.
func TestGroupEncoderBlocks(t *testing.T) {
	enc, _ := zstdEncoder("default")
	rng := rand.New(rand.NewSource(3))
	const rowBytes, n, block = 32, 100, 24
	rows := make([]byte, n*rowBytes)
	for i := range rows {
		rows[i] = byte(rng.Intn(5) - 2)
	}
	g := &groupEncoder{enc: enc, block: block}
	frames, words := g.encode(nil, nil, rows, rowBytes, 1, true)
	if len(words) != (n+block-1)/block {
		t.Fatalf("%d frames", len(words))
	}
	off := 0
	total := 0
	for i, w := range words {
		size, raw := int(w>>1), w&1 == 1
		fr := frames[off : off+size]
		off += size
		total += size
		nr := min(block, n-i*block)
		var dec []byte
		if raw {
			dec = append([]byte(nil), fr...)
		} else {
			var err error
			if dec, err = zstdDecodeExact(nil, fr, nr*rowBytes); err != nil {
				t.Fatal(err)
			}
		}
		undeltaRows(dec, rowBytes, 1)
		if !bytes.Equal(dec, rows[i*block*rowBytes:(i*block+nr)*rowBytes]) {
			t.Fatalf("block %d does not decode alone", i)
		}
	}
	if off != len(frames) {
		t.Fatal("frame words do not cover the frames")
	}
	unb := g.unblockedSize(rows, rowBytes, 1, true, total)
	one := enc.EncodeAll(deltaRows(nil, rows, rowBytes, 1), nil)
	if unb != len(one) {
		t.Fatalf("unblocked %d, one frame %d", unb, len(one))
	}
}

func TestEncodePositions(t *testing.T) {
	const T = 1000
	full := make([]int32, T)
	for i := range full {
		full[i] = int32(i)
	}
	dense := slices.DeleteFunc(slices.Clone(full), func(v int32) bool { return v%7 == 3 })
	sparse := []int32{0, 5, 400, 990, 999}
	rng := rand.New(rand.NewSource(4))
	var mid []int32
	for i := range T {
		if i == 0 || rng.Intn(10) < 4 {
			mid = append(mid, int32(i))
		}
	}
	cases := []struct {
		name  string
		lists [][]int32
		kind  byte
	}{
		{"nothing evicted", [][]int32{full, full}, posAll},
		{"sparse", [][]int32{sparse}, posGaps},
		{"dense", [][]int32{dense, dense, dense}, 255}, // periodic: gaps+zstd wins here
		{"random 40%", [][]int32{mid}, 255},            // either; must be the smallest
	}
	for _, c := range cases {
		ps, err := encodePositions(c.lists, T)
		if err != nil {
			t.Fatal(err)
		}
		if c.kind != 255 && ps.kind != c.kind {
			t.Errorf("%s: kind %s", c.name, ps.name())
		}
		if ps.bitmapRawBytes != len(c.lists)*((T+7)/8) {
			t.Errorf("%s: bitmap raw %d", c.name, ps.bitmapRawBytes)
		}
		if ps.kind != posAll {
			if len(ps.stored) != min(ps.gapsBytes, ps.bitmapBytes) {
				t.Errorf("%s: stored %d, gaps %d bitmap %d: not the smallest", c.name, len(ps.stored), ps.gapsBytes, ps.bitmapBytes)
			}
		}
		for _, gran := range []string{"global", "layer"} {
			layers := 1
			if gran == "layer" {
				layers = len(c.lists)
			} else if len(c.lists) != 1 {
				continue
			}
			for _, block := range []int{1, 3, 256, 5000} {
				idx, err := buildPosIndex(ps.kind, ps.raw, newListLayout(gran, layers, 2, make([]span, layers)), T, block)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				got := idx.lists()
				if len(got) != len(c.lists) {
					t.Fatalf("%s: %d lists", c.name, len(got))
				}
				for i := range got {
					if !slices.Equal(got[i], c.lists[i]) {
						t.Fatalf("%s block %d: list %d differs", c.name, block, i)
					}
				}
			}
		}
	}
}

func TestBuildPosIndexRejects(t *testing.T) {
	uv := func(vs ...uint64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.AppendUvarint(b, v)
		}
		return b
	}
	cases := []struct {
		name string
		kind byte
		raw  []byte
		want string
	}{
		{"count zero", posGaps, uv(0), "count 0"},
		{"count past T", posGaps, uv(11, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), "count 11"},
		{"gap zero", posGaps, uv(2, 3, 0), "gap 0"},
		{"position past T", posGaps, uv(2, 3, 7), "past T"},
		{"first past T", posGaps, uv(1, 10), "past T"},
		{"truncated", posGaps, uv(3, 1, 1), "truncated"},
		{"trailing", posGaps, append(uv(1, 4), 0), "left after"},
		{"overlong varint", posGaps, bytes.Repeat([]byte{0xff}, 11), "uvarint"},
		{"bitmap size", posBitmap, []byte{1}, "bitmap of 1 bytes"},
		{"bitmap past T", posBitmap, []byte{1, 0x04}, "past T"},
		{"all with bytes", posAll, []byte{1}, "kind all"},
		{"unknown kind", 9, nil, "unknown kind"},
	}
	for _, c := range cases {
		_, err := buildPosIndex(c.kind, c.raw, newListLayout("global", 1, 1, make([]span, 1)), 10, 4)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}

// TestFramesLargerThanTheWindow: a block frame larger than the encoders'
// window (1 MiB) still encodes and decodes exactly.
func TestFramesLargerThanTheWindow(t *testing.T) {
	kv := nqKV(3, 1, 1, 128, 5000) // one block of 5000 rows × 128 int16 codes ≈ 1.2 MiB
	for _, level := range []string{"fastest", "better"} {
		p := NewPipeline(kv, nil, NormalRoPE(128, 10000), "m")
		s := nqSettings(t, "block_tokens", "65536", "eviction_rate", "0", "key_bits", "8", "value_bits", "8", "zstd_level", level)
		res, err := p.Run(context.Background(), s)
		if err != nil {
			t.Fatalf("%s: %v", level, err)
		}
		nqCheckDecode(t, level, p, s, res.Compressed)
	}
}
