package stages

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand"
	"slices"
	"testing"
)

// nqKV returns a seeded random cache: keys and values N(0, 1) with a slowly
// varying per-token offset, so that neighbouring rows are correlated a little.
func nqKV(seed int64, L, H, d, T int) *KV {
	rng := rand.New(rand.NewSource(seed))
	n := L * H * T * d
	kv := &KV{Layers: L, KVHeads: H, HeadDim: d, T: T, K: make([]float32, n), V: make([]float32, n)}
	for i := range kv.K {
		kv.K[i] = float32(rng.NormFloat64())
		kv.V[i] = float32(rng.NormFloat64() * 0.5)
	}
	return kv
}

// nqSettings returns the defaults with a fast zstd level and the changes.
func nqSettings(t testing.TB, kv ...string) Settings {
	t.Helper()
	s := DefaultSettings()
	s.ZstdLevel = "fastest"
	for i := 0; i+1 < len(kv); i += 2 {
		if err := s.Set(kv[i], kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

// nqExpectRows reconstructs group (layer, kv, head) independently of
// Compressed: Quantizer.Decode of the quantize stage's codes → inverse
// Hadamard → RedoRoPE at the kept positions.
func nqExpectRows(t *testing.T, p *Pipeline, s Settings, layer, kvi, head int) []float32 {
	t.Helper()
	qo := p.outs.quant.recent()
	ev := p.outs.evict.recent()
	d := p.kv.HeadDim
	w := codeWidth(d, s)
	g := p.group(layer, kvi, head)
	bitsN := s.KeyBits
	if kvi == 1 {
		bitsN = s.ValueBits
	}
	q, err := NewQuantizer(s.Lattice, bitsN)
	if err != nil {
		t.Fatal(err)
	}
	pos := ev.list(layer, head)
	codes, scales := qo.codes[g], qo.scales[g]
	if len(scales) != len(pos) {
		t.Fatalf("group %d: %d scales for %d kept rows", g, len(scales), len(pos))
	}
	var had *Hadamard
	if s.Hadamard {
		had = NewHadamard(d, s.HadamardSigns, s.Seed)
	}
	cb := q.CodeBytes()
	out := make([]float32, len(pos)*d)
	c16 := make([]int16, w)
	f := make([]float32, w)
	for r := range pos {
		for j := range c16 {
			if cb == 1 {
				c16[j] = int16(int8(codes[(r*w+j)*cb]))
			} else {
				c16[j] = int16(binary.LittleEndian.Uint16(codes[(r*w+j)*cb:]))
			}
		}
		q.Decode(f, c16, scales[r])
		if had != nil {
			had.Inverse(out[r*d:(r+1)*d], f[:had.DPad])
		} else {
			copy(out[r*d:(r+1)*d], f[:d])
		}
	}
	if kvi == 0 && p.ropeUndone(s, layer) {
		RedoRoPE(out, d, layer, pos, p.rope)
	}
	return out
}

// nqDecodeAll reads every block of (layer, head) and returns positions, K, V.
func nqDecodeAll(t *testing.T, c *Compressed, layer, head int) (pos []int32, k, v []float32) {
	t.Helper()
	b := c.NewBlock()
	for i := range c.NumBlocks(layer, head) {
		if err := c.ReadBlock(layer, head, i, b); err != nil {
			t.Fatal(err)
		}
		pos = append(pos, b.Pos...)
		k = append(k, b.K...)
		v = append(v, b.V...)
	}
	return pos, k, v
}

func nqSameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: value %d = %v, want %v (bit for bit)", what, i, got[i], want[i])
		}
	}
}

// TestPipelineRoundTrip runs the pipeline over lattices, bit widths, delta
// on/off, granularities and head dims, and checks that decoding through
// ReadBlock reproduces bit for bit the independent reconstruction of the
// quantize stage's codes, with positions preserved; and that the .nqkv
// encoding reads back to the same values and writes back to the same bytes.
func TestPipelineRoundTrip(t *testing.T) {
	const L, H, T = 3, 2, 200
	for _, d := range []int{8, 64, 96} {
		for _, gran := range []string{"global", "layer", "head"} {
			kv := nqKV(int64(d), L, H, d, T)
			rope := NormalRoPE(d, 10000)
			p := NewPipeline(kv, nil, rope, "test-model")
			for _, lat := range []string{"e8", "relaxed", "scalar"} {
				for _, bits := range []int{2, 3, 4, 5, 6, 8} {
					for _, delta := range []bool{true, false} {
						s := nqSettings(t, "granularity", gran, "scorer", "knorm", "lattice", lat,
							"key_bits", fmt.Sprint(bits), "value_bits", fmt.Sprint(nqNextBits[bits]),
							"delta", fmt.Sprint(delta), "block_tokens", "48")
						name := fmt.Sprintf("d%d/%s/%s/%d/delta=%t", d, gran, lat, bits, delta)
						res, err := p.Run(context.Background(), s)
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						nqCheckDecode(t, name, p, s, res.Compressed)
						if bits == 2 || bits == 8 {
							var buf bytes.Buffer
							n, err := res.Compressed.WriteTo(&buf)
							if err != nil {
								t.Fatalf("%s: WriteTo: %v", name, err)
							}
							if n != res.Compressed.Stored().Total() || n != int64(buf.Len()) {
								t.Fatalf("%s: WriteTo wrote %d (buffer %d), StoredBytes sum %d", name, n, buf.Len(), res.Compressed.Stored().Total())
							}
							c2, err := ReadCompressed(buf.Bytes(), rope)
							if err != nil {
								t.Fatalf("%s: ReadCompressed: %v", name, err)
							}
							nqCheckDecode(t, name+"/read", p, s, c2)
							var buf2 bytes.Buffer
							if _, err := c2.WriteTo(&buf2); err != nil || !bytes.Equal(buf.Bytes(), buf2.Bytes()) {
								t.Fatalf("%s: read-back cache writes different bytes (err %v)", name, err)
							}
							if c2.ModelID() != "test-model" || c2.Stored() != res.Compressed.Stored() {
								t.Fatalf("%s: read back model %q stored %+v, want %+v", name, c2.ModelID(), c2.Stored(), res.Compressed.Stored())
							}
						}
					}
				}
			}
		}
	}
}

// nqNextBits pairs each key width with a different value width.
var nqNextBits = map[int]int{2: 3, 3: 4, 4: 5, 5: 6, 6: 8, 8: 2}

func nqCheckDecode(t *testing.T, name string, p *Pipeline, s Settings, c *Compressed) {
	t.Helper()
	ev := p.outs.evict.recent()
	for layer := range p.kv.Layers {
		for head := range p.kv.KVHeads {
			pos, k, v := nqDecodeAll(t, c, layer, head)
			want := ev.list(layer, head)
			if !slices.Equal(pos, want) {
				t.Fatalf("%s (%d,%d): positions %v, want %v", name, layer, head, pos, want)
			}
			if _, f16 := p.codecFor(s, layer).(f16Codec); f16 { // protected, or a sliding layer kept as float16
				for kvi, got := range [2][]float32{k, v} {
					ref := p.gather(nil, kvi == 0, layer, head, pos)
					for i := range ref {
						ref[i] = F16ToF32(F32ToF16(ref[i]))
					}
					nqSameBits(t, fmt.Sprintf("%s (%d,%s,%d) float16", name, layer, kvName(kvi), head), got, ref)
				}
				continue
			}
			nqSameBits(t, fmt.Sprintf("%s (%d,K,%d)", name, layer, head), k, nqExpectRows(t, p, s, layer, 0, head))
			nqSameBits(t, fmt.Sprintf("%s (%d,V,%d)", name, layer, head), v, nqExpectRows(t, p, s, layer, 1, head))
		}
	}
}

// TestPipelineProtectAndOptions covers protect_boundary, seeded signs,
// hadamard and rope_undo off, int16 codes and one block per stream.
func TestPipelineProtectAndOptions(t *testing.T) {
	kv := nqKV(7, 5, 2, 96, 150)
	rope := NeoxRoPE(96, 1e6)
	p := NewPipeline(kv, nil, rope, "m")
	cases := [][]string{
		{"protect_boundary", "1"},
		{"protect_boundary", "3"}, // every layer float16
		{"hadamard_signs", "seeded", "seed", "42"},
		{"hadamard", "false"},
		{"rope_undo", "false"},
		{"key_bits", "8", "value_bits", "8", "lattice", "e8"},
		{"block_tokens", "65536"},
		{"block_tokens", "1", "eviction_rate", "0.9"},
	}
	for _, c := range cases {
		s := nqSettings(t, c...)
		res, err := p.Run(context.Background(), s)
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		nqCheckDecode(t, fmt.Sprint(c), p, s, res.Compressed)
		st := res.Compressed.Stored()
		if s.ProtectBoundary > 0 && st.FP16Layers == 0 {
			t.Fatalf("%v: no float16 bytes", c)
		}
		if s.ProtectBoundary == 3 && (st.Codes != 0 || st.Scales != 0) {
			t.Fatalf("%v: every layer protected but codes %d scales %d", c, st.Codes, st.Scales)
		}
	}
}

// TestByteAccountingByHand checks every stage's bytes on caches small enough
// to count by hand (L=1, Hkv=1, d=8, T=10, W=2, e8 at 2 bits: 9 levels, so 4
// packed bits per code).
func TestByteAccountingByHand(t *testing.T) {
	kv := nqKV(3, 1, 1, 8, 10)
	cases := []struct {
		name string
		rate string
		// hand-computed figures
		kept                          int64 // rows per K (and per V)
		posEnc                        string
		posBytes                      int64
		evict, hadamard, quantize     int64
		quantizeCodes, quantizeScales int64
	}{
		{
			// ρ=0: P = T−W = 8, n = ⌊8·1⌋ = 8 but only 1..7 exist: keep all 10.
			// positions "all": 0 bytes.
			// evict = 10 rows · 8 · 2 bytes · 2 (K, V) = 320 (= baseline).
			// quantize: codes 10·8·4 bits = 40 bytes per K/V → 80; scales
			// 10 rows · 2 bytes · 2 = 40; total 120.
			name: "rate0", rate: "0", kept: 10, posEnc: "all", posBytes: 0,
			evict: 320, hadamard: 320, quantize: 120, quantizeCodes: 80, quantizeScales: 40,
		},
		{
			// ρ=0.5: n = ⌊8·0.5⌋ = 4 of 1..7; streaming keeps the latest:
			// {0, 4, 5, 6, 7, 8, 9} = 7 rows. gaps: uv(7), 0, 4, 1, 1, 1, 1, 1 = 8
			// bytes; bitmap: ⌈10/8⌉ = 2 bytes → bitmap wins.
			// evict = 7·8·2·2 + 2 = 226. quantize: 7·8·4/8 = 28 per K/V → 56,
			// scales 7·2·2 = 28, positions 2 → 86.
			name: "rate0.5", rate: "0.5", kept: 7, posEnc: "bitmap", posBytes: 2,
			evict: 226, hadamard: 226, quantize: 86, quantizeCodes: 56, quantizeScales: 28,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPipeline(kv, nil, NormalRoPE(8, 10000), "m")
			s := nqSettings(t, "eviction_rate", tc.rate, "sliding_window", "2", "scorer", "streaming")
			res, err := p.Run(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			r := res.Report
			if r.BaselineBytes != 320 { // 2 · T 10 · L 1 · 2 · Hkv 1 · d 8
				t.Fatalf("baseline %d, want 320", r.BaselineBytes)
			}
			if r.KeptRows != tc.kept || r.PositionEncoding != tc.posEnc {
				t.Fatalf("kept %d encoding %s, want %d %s", r.KeptRows, r.PositionEncoding, tc.kept, tc.posEnc)
			}
			st := res.Compressed.Stored()
			// entropy = the file: codes as stored + scales + positions + header.
			// The header (see format.go): preamble 10, CRCs 4·4 = 16, and a body:
			//   model "m" 1+1 = 2; L, Hkv, d, DPad, T = 1, 1, 8, 8, 10 → 5;
			//   "nexusquant" 1+10 = 11; eviction_rate 8; sliding_window 1;
			//   obs_window 1; "streaming" 1+9 = 10; "global" 1+6 = 7; seed 8;
			//   flags 1; "e8" 1+2 = 3; key_bits 1; value_bits 1;
			//   "fastest" 1+7 = 8; block_tokens 256 → uvarint 2; protect 1
			//   → 70 bytes of shapes and settings; then positions kind 1 + zstd
			//   flag 1 + uv(raw) + uv(stored); frame count 1 (2 frames: K, V);
			//   one uv word per frame (length<<1 | raw); uv(rows length); scale
			//   frame count 1 (2: K, V); one uv word per scale frame; uv(scales
			//   length).
			uvl := func(v int64) int64 { return int64(len(binary.AppendUvarint(nil, uint64(v)))) }
			c := res.Compressed
			fr0, raw0 := c.frame(0)
			fr1, raw1 := c.frame(1)
			sf0, sraw0 := c.scaleFrame(0)
			sf1, sraw1 := c.scaleFrame(1)
			word := func(fr []byte, raw bool) int64 { return uvl(int64(frameWord(len(fr), raw))) }
			body := int64(2+5+11+8+1+1+10+7+8+1+3+1+1+8+2+1) + // = 70
				2 + uvl(tc.posBytes) + uvl(tc.posBytes) + // positions: raw == stored here
				1 + word(fr0, raw0) + word(fr1, raw1) + uvl(int64(len(fr0)+len(fr1))) +
				1 + word(sf0, sraw0) + word(sf1, sraw1) + uvl(int64(len(sf0)+len(sf1)))
			header := 10 + body + 16
			if st.Header != header {
				t.Fatalf("header %d bytes, by hand %d", st.Header, header)
			}
			if st.Codes != int64(len(fr0)+len(fr1)) || st.Positions != tc.posBytes {
				t.Fatalf("stored %+v", st)
			}
			// Scale frames: each the kept rows' high bytes (raw: kept bytes, or
			// a zstd frame) then their low bytes (kept bytes).
			for _, sf := range []struct {
				b   []byte
				raw bool
			}{{sf0, sraw0}, {sf1, sraw1}} {
				if int64(len(sf.b)) < tc.kept || sf.raw && int64(len(sf.b)) != 2*tc.kept {
					t.Fatalf("scale frame of %d bytes (raw %t) for %d rows", len(sf.b), sf.raw, tc.kept)
				}
			}
			if st.Scales != int64(len(sf0)+len(sf1)) || len(c.scaleEnd) != 2 {
				t.Fatalf("scales %d bytes in %d frames, want %d in 2", st.Scales, len(c.scaleEnd), len(sf0)+len(sf1))
			}
			want := map[string]int64{
				"score": 320, "evict": tc.evict, "rope": tc.evict, "hadamard": tc.hadamard,
				"quantize": tc.quantize, "entropy": st.Codes + st.Scales + tc.posBytes + header,
			}
			for _, sr := range r.Stages {
				if sr.Bytes != want[sr.Name] {
					t.Errorf("stage %s: %d bytes, by hand %d", sr.Name, sr.Bytes, want[sr.Name])
				}
			}
			if st.Scales > tc.quantizeScales {
				t.Errorf("scales stored in %d bytes, more than raw %d", st.Scales, tc.quantizeScales)
			}
			if r.RatioTotal != 320/float64(st.Total()) || r.RatioPayload != 320/float64(st.Codes) {
				t.Errorf("ratios %v %v", r.RatioTotal, r.RatioPayload)
			}
			var buf bytes.Buffer
			if n, err := res.Compressed.WriteTo(&buf); err != nil || n != st.Total() {
				t.Fatalf("WriteTo %d, %v; want %d", n, err, st.Total())
			}
		})
	}
}

// TestStageErrors checks the error figures: rope and hadamard are exact to
// float32 rounding, quantize has the quantization error, entropy equals
// quantize (lossless), evict is the evicted share.
func TestStageErrors(t *testing.T) {
	kv := nqKV(11, 2, 2, 64, 300)
	p := NewPipeline(kv, nil, NormalRoPE(64, 10000), "m")
	res, err := p.Run(context.Background(), nqSettings(t))
	if err != nil {
		t.Fatal(err)
	}
	st := map[string]StageReport{}
	for _, s := range res.Report.Stages {
		st[s.Name] = s
	}
	if got := len(res.Report.Stages); got != 6 {
		t.Fatalf("%d stages", got)
	}
	for i, s := range res.Report.Stages {
		if s.Name != StageNames[i] {
			t.Fatalf("stage %d is %s, want %s", i, s.Name, StageNames[i])
		}
	}
	// ρ=0.6 on random rows evicts ~60% of rows of similar norm.
	if e := st["evict"].RelErrK; e < 0.6 || e > 0.85 {
		t.Errorf("evict error %v, want about sqrt(0.6)", e)
	}
	for _, n := range []string{"rope", "hadamard"} {
		if st[n].RelErrK > 1e-6 || st[n].RelErrV > 1e-6 {
			t.Errorf("%s error %v %v, want float32 rounding", n, st[n].RelErrK, st[n].RelErrV)
		}
	}
	if e := st["quantize"].RelErrK; e < 0.05 || e > 0.6 {
		t.Errorf("quantize error %v out of the plausible range for 2 bits", e)
	}
	if st["entropy"].RelErrK != st["quantize"].RelErrK || st["entropy"].RelErrV != st["quantize"].RelErrV {
		t.Errorf("entropy error %v/%v differs from quantize %v/%v", st["entropy"].RelErrK, st["entropy"].RelErrV,
			st["quantize"].RelErrK, st["quantize"].RelErrV)
	}
	r := res.Report
	if !(r.RatioPayload > r.RatioTotal && r.RatioTotal >= r.RatioResident*0.95 && r.RatioResident > 1) {
		t.Errorf("ratios payload %v total %v resident %v", r.RatioPayload, r.RatioTotal, r.RatioResident)
	}
}

// TestIncrementalRuns counts stage runs as single settings change.
func TestIncrementalRuns(t *testing.T) {
	kv := nqKV(5, 2, 2, 32, 120)
	p := NewPipeline(kv, nil, NormalRoPE(32, 10000), "m")
	steps := []struct {
		set   []string
		reran []string
	}{
		{nil, StageNames},
		{nil, nil},
		{[]string{"key_bits", "3"}, []string{"quantize", "entropy"}},
		{[]string{"value_bits", "4"}, []string{"quantize", "entropy"}},
		{[]string{"eviction_rate", "0.3"}, []string{"evict", "rope", "hadamard", "quantize", "entropy"}},
		{[]string{"scorer", "streaming"}, StageNames},
		{[]string{"zstd_level", "better"}, []string{"entropy"}},
		{[]string{"block_tokens", "16"}, []string{"entropy"}},
		{[]string{"delta", "false"}, []string{"entropy"}},
		{[]string{"hadamard_signs", "true"}, []string{"hadamard", "quantize", "entropy"}},
		{[]string{"seed", "9"}, []string{"hadamard", "quantize", "entropy"}}, // signs on, scorer not random
		{[]string{"rope_undo", "false"}, []string{"rope", "hadamard", "quantize", "entropy"}},
		{[]string{"protect_boundary", "1"}, []string{"quantize", "entropy"}},
		{[]string{"lattice", "relaxed"}, []string{"quantize", "entropy"}},
		{[]string{"sliding_window", "8"}, []string{"evict", "rope", "hadamard", "quantize", "entropy"}},
		{[]string{"granularity", "head"}, StageNames},
	}
	s := nqSettings(t)
	want := map[string]int{}
	for i, st := range steps {
		prev := s
		for j := 0; j+1 < len(st.set); j += 2 {
			if err := s.Set(st.set[j], st.set[j+1]); err != nil {
				t.Fatal(err)
			}
		}
		if i > 0 {
			first := ""
			if len(st.reran) > 0 {
				first = st.reran[0]
			}
			if got := FirstChangedStage(prev, s); got != first {
				t.Errorf("step %d %v: FirstChangedStage %q, want %q", i, st.set, got, first)
			}
		}
		runStep(t, p, s, i, st.set, st.reran, want)
	}
}

// TestRunCancelled checks that a cancelled context stops the run, that the
// failed stages leave the cache, and that the next Run recomputes them.
func TestRunCancelled(t *testing.T) {
	kv := nqKV(5, 2, 2, 32, 120)
	p := NewPipeline(kv, nil, NormalRoPE(32, 10000), "m")
	s := nqSettings(t)
	if _, err := p.Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.KeyBits = 4
	if _, err := p.Run(ctx, s); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	res, err := p.Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Report.Reran, []string{"quantize", "entropy"}) {
		t.Fatalf("after a cancelled run reran %v", res.Report.Reran)
	}
}

// TestMethodNone checks the float16 baseline: nothing evicted, every stage at
// baseline bytes, the file one header larger than the baseline, values the
// float16 rounding of the input.
func TestMethodNone(t *testing.T) {
	kv := nqKV(2, 2, 3, 16, 70)
	p := NewPipeline(kv, nil, nil, "m")
	s := nqSettings(t, "method", "none", "block_tokens", "32")
	res, err := p.Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	for _, sr := range r.Stages[:5] {
		if sr.Bytes != r.BaselineBytes || sr.RelErrK > 1e-3 {
			t.Errorf("stage %s: %d bytes err %v, want baseline %d", sr.Name, sr.Bytes, sr.RelErrK, r.BaselineBytes)
		}
	}
	st := res.Compressed.Stored()
	if st.FP16Layers != r.BaselineBytes || st.Codes+st.Scales+st.Positions != 0 {
		t.Fatalf("stored %+v, want only baseline float16 bytes", st)
	}
	if r.Stages[5].Bytes != r.BaselineBytes+st.Header || r.PositionEncoding != "all" {
		t.Fatalf("entropy bytes %d, encoding %s", r.Stages[5].Bytes, r.PositionEncoding)
	}
	if r.RatioPayload != 1 || r.RatioTotal >= 1 || r.RatioTotal < 0.99 {
		t.Fatalf("ratios payload %v total %v", r.RatioPayload, r.RatioTotal)
	}
	for layer := range kv.Layers {
		for head := range kv.KVHeads {
			pos, k, _ := nqDecodeAll(t, res.Compressed, layer, head)
			if len(pos) != kv.T {
				t.Fatalf("kept %d of %d", len(pos), kv.T)
			}
			ref := p.gather(nil, true, layer, head, pos)
			for i := range ref {
				ref[i] = F16ToF32(F32ToF16(ref[i]))
			}
			nqSameBits(t, "none K", k, ref)
		}
	}
	// Settings other than block_tokens change nothing.
	s2 := s
	s2.KeyBits, s2.EvictionRate, s2.Scorer, s2.SlidingLayers = 4, 0.3, "random", SlidingFloat16
	if FirstChangedStage(s, s2) != "" {
		t.Fatalf("method none depends on %s", FirstChangedStage(s, s2))
	}
}

// nqHalfCodec is a test RowCodec through the seam: keeps evicted rows as
// float32 bits, so decoding is exact.
type nqHalfCodec struct{}

func (nqHalfCodec) Name() string            { return "test-f32" }
func (nqHalfCodec) Evicts() bool            { return true }
func (nqHalfCodec) EncodedLen(n, d int) int { return 4 * n * d }
func (nqHalfCodec) Encode(dst []byte, rows []float32, _ int, _ bool) []byte {
	for _, v := range rows {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
	}
	return dst
}
func (nqHalfCodec) Decode(rows []float32, src []byte, _ int, _ bool) error {
	if len(src) != 4*len(rows) {
		return errors.New("size")
	}
	for i := range rows {
		rows[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
	return nil
}

// TestRowCodecSeam registers a codec and runs it as a method with eviction.
func TestRowCodecSeam(t *testing.T) {
	if _, ok := lookupRowCodec("test-f32"); !ok {
		if err := RegisterRowCodec(nqHalfCodec{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := RegisterRowCodec(nqHalfCodec{}); err == nil {
		t.Fatal("registering a name twice succeeded")
	}
	kv := nqKV(4, 2, 2, 16, 90)
	p := NewPipeline(kv, nil, nil, "m")
	s := nqSettings(t, "method", "test-f32", "block_tokens", "20")
	res, err := p.Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	ev := p.outs.evict.recent()
	for layer := range kv.Layers {
		for head := range kv.KVHeads {
			pos, k, v := nqDecodeAll(t, res.Compressed, layer, head)
			if !slices.Equal(pos, ev.list(layer, head)) || len(pos) == kv.T {
				t.Fatalf("positions %v", pos)
			}
			nqSameBits(t, "K", k, p.gather(nil, true, layer, head, pos))
			nqSameBits(t, "V", v, p.gather(nil, false, layer, head, pos))
		}
	}
	if q := res.Report.Stages[4]; q.Bytes != res.Report.KeptRows*2*16*4+res.Report.Stored.Positions {
		t.Fatalf("quantize bytes %d", q.Bytes)
	}
	var buf bytes.Buffer
	if _, err := res.Compressed.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCompressed(buf.Bytes(), nil); err != nil {
		t.Fatal(err)
	}
}

// TestPipelineBadInput checks errors instead of panics on bad shapes.
func TestPipelineBadInput(t *testing.T) {
	kv := nqKV(1, 1, 1, 8, 10)
	kv.K = kv.K[:5]
	if _, err := NewPipeline(kv, nil, NormalRoPE(8, 1e4), "m").Run(context.Background(), nqSettings(t)); err == nil {
		t.Fatal("short K accepted")
	}
	kv = nqKV(1, 1, 1, 8, 10)
	if _, err := NewPipeline(kv, nil, nil, "m").Run(context.Background(), nqSettings(t)); err == nil {
		t.Fatal("rope_undo without a RoPE function accepted")
	}
	bad := nqSettings(t)
	bad.KeyBits = 7
	if _, err := NewPipeline(kv, nil, NormalRoPE(8, 1e4), "m").Run(context.Background(), bad); err == nil {
		t.Fatal("key_bits 7 accepted")
	}
	if _, err := NewPipeline(kv, nil, NormalRoPE(8, 1e4), "m").Run(context.Background(), nqSettings(t, "scorer", "attention")); err == nil {
		t.Fatal("attention scorer without stats accepted")
	}
}

// runStep runs one step of an incremental-run test: p.Run(s) must re-run
// exactly the stages in reran (want counts every stage's runs so far and is
// updated), report them as re-run and the others as cached.
func runStep(t *testing.T, p *Pipeline, s Settings, i int, set, reran []string, want map[string]int) *Result {
	t.Helper()
	res, err := p.Run(context.Background(), s)
	if err != nil {
		t.Fatalf("step %d: %v", i, err)
	}
	for _, n := range reran {
		want[n]++
	}
	if got := p.Runs(); !maps.Equal(got, want) {
		t.Fatalf("step %d %v: runs %v, want %v", i, set, got, want)
	}
	if !slices.Equal(res.Report.Reran, reran) {
		t.Fatalf("step %d %v: report says reran %v, want %v", i, set, res.Report.Reran, reran)
	}
	for _, sr := range res.Report.Stages {
		if sr.Cached == slices.Contains(reran, sr.Name) {
			t.Fatalf("step %d: stage %s cached=%t", i, sr.Name, sr.Cached)
		}
	}
	return res
}
