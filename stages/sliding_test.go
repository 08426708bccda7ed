package stages

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

// nqLayersRoPE is a per-layer RoPE whose base differs by layer (as gemma3's
// sliding layers do) and which rotates every layer, no-RoPE ones included:
// the pipeline must skip those by their LayerAttn, not rely on the function.
func nqLayersRoPE(d int) RoPEFunc {
	ropes := []RoPEFunc{NormalRoPE(d, 10000), NeoxRoPE(d, 1e6), NormalRoPE(d, 500)}
	return func(l int, rows []float32, pos []int32, inverse bool) { ropes[l%len(ropes)](l, rows, pos, inverse) }
}

// nqSlidingKV is a 5-layer cache: layers 0 and 2 slide with window w, layer
// 3 has no RoPE, layer 4 normalises its keys.
func nqSlidingKV(seed int64, H, d, T, w int) *KV {
	kv := nqKV(seed, 5, H, d, T)
	kv.Attn = []LayerAttn{{Window: w}, {}, {Window: w}, {NoRoPE: true}, {QKNorm: true}}
	return kv
}

func TestKeepWindow(t *testing.T) {
	scores := make([]float32, 40)
	for i := range scores {
		scores[i] = float32((i * 7) % 11) // ties broken by the earlier position
	}
	cases := []struct {
		lo, window int
		rate       float64
		want       []int32
	}{
		{30, 4, 0.5, nil}, // 6 candidates 30…35, the 3 best, then 36…39

		{30, 10, 0.5, positionRange(30, 40)}, // T − lo <= window: nothing evicted
		{39, 0, 0.9, []int32{39}},            // one candidate: kept
		{20, 0, 0.99, nil},                   // rate near 1 still keeps one
	}
	for _, c := range cases {
		got := keepWindow(scores, c.lo, c.rate, c.window, make([]int32, 0, 40))
		if err := checkKeepList(got, c.lo, len(scores)); err != nil {
			t.Fatalf("lo %d window %d: %v", c.lo, c.window, err)
		}
		// The last window positions are kept, nothing before lo is.
		for p := max(c.lo, len(scores)-c.window); p < len(scores); p++ {
			if !slices.Contains(got, int32(p)) {
				t.Errorf("lo %d window %d: recent position %d evicted: %v", c.lo, c.window, p, got)
			}
		}
		P := len(scores) - c.window - c.lo
		if P > 0 && c.window < len(scores)-c.lo {
			n := min(max(1, int(float64(P)*(1-c.rate))), P)
			if len(got) != n+c.window {
				t.Errorf("lo %d window %d rate %g: kept %d, want %d + %d", c.lo, c.window, c.rate, len(got), n, c.window)
			}
			// The kept candidates are the best-scored ones.
			worstKept := float32(math.Inf(1))
			for _, p := range got[:n] {
				worstKept = min(worstKept, scores[p])
			}
			for p := c.lo; p < c.lo+P; p++ {
				if !slices.Contains(got, int32(p)) && scores[p] > worstKept {
					t.Errorf("lo %d: evicted %d (score %g) over a kept one scoring %g", c.lo, p, scores[p], worstKept)
				}
			}
		}
		if c.want != nil && !slices.Equal(got, c.want) {
			t.Errorf("lo %d window %d: %v, want %v", c.lo, c.window, got, c.want)
		}
	}
	// lo = 0 is the SPEC §2 rule, BOS kept.
	for _, rate := range []float64{0, 0.3, 0.6, 0.9} {
		a := keepWindow(scores, 0, rate, 8, make([]int32, 0, 40))
		b := keepPositions(scores, rate, 8, make([]int32, 0, 40))
		if !slices.Equal(a, b) || a[0] != 0 {
			t.Errorf("rate %g: keepWindow(lo 0) %v, keepPositions %v", rate, a, b)
		}
	}
}

// TestPipelineSlidingLayers runs the pipeline over a cache with sliding,
// no-RoPE and QK-norm layers at every granularity and both sliding_layers
// settings, and checks the keep lists, the decode (bit for bit against the
// stages' own outputs), the file round trip and the report's accounting.
func TestPipelineSlidingLayers(t *testing.T) {
	const H, d, T, w = 2, 16, 120, 40
	kv := nqSlidingKV(21, H, d, T, w)
	rope := nqLayersRoPE(d)
	p := NewPipeline(kv, nil, rope, "m")
	for _, gran := range []string{"global", "layer", "head"} {
		for _, mode := range []string{SlidingCompress, SlidingFloat16} {
			name := gran + "/" + mode
			s := nqSettings(t, "granularity", gran, "sliding_layers", mode, "block_tokens", "16", "scorer", "knorm")
			res, err := p.Run(context.Background(), s)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			c, r := res.Compressed, res.Report
			nqCheckDecode(t, name, p, s, c)
			for layer := range kv.Layers {
				for head := range H {
					pos := c.Positions(layer, head)
					switch {
					case kv.Attn[layer].Window == 0:
						if pos[0] != 0 {
							t.Errorf("%s: full layer %d lost BOS: %v", name, layer, pos[:3])
						}
					case mode == SlidingFloat16:
						if !slices.Equal(pos, positionRange(T-w, T)) {
							t.Errorf("%s: float16 sliding layer %d keeps %v, want its window %d…%d", name, layer, pos, T-w, T-1)
						}
					default:
						if pos[0] < T-w || len(pos) >= w || !slices.Equal(pos[len(pos)-32:], positionRange(T-32, T)) {
							t.Errorf("%s: sliding layer %d keeps %v: want positions ≥ %d, fewer than %d, the last 32", name, layer, pos, T-w, w)
						}
					}
				}
			}
			// Bytes: the baseline counts the windows; layers sum to the frames.
			full := int64(2 * T * 2 * H * d)
			if want := 3*full + 2*int64(2*w*2*H*d); r.BaselineBytes != want || r.Stages[0].Bytes != want {
				t.Errorf("%s: baseline %d (score stage %d), want %d", name, r.BaselineBytes, r.Stages[0].Bytes, want)
			}
			if r.SlidingLayers != 2 || r.SlidingWindow != w || r.BaselineAllPositionsBytes != 5*full {
				t.Errorf("%s: sliding %d window %d all-positions %d", name, r.SlidingLayers, r.SlidingWindow, r.BaselineAllPositionsBytes)
			}
			var sum int64
			kinds := map[string]int{}
			for _, lf := range r.Layers {
				sum += lf.StoredBytes
				kinds[lf.Kind]++
				if lf.Kind != kv.Attn[lf.Layer].Kind() || lf.LayerAttn != kv.Attn[lf.Layer] {
					t.Errorf("%s: layer %d figures say %s %+v", name, lf.Layer, lf.Kind, lf.LayerAttn)
				}
				wantStorage := "quantized"
				if mode == SlidingFloat16 && kv.Attn[lf.Layer].Window > 0 {
					wantStorage = "float16"
				}
				if want := wantStorage == "quantized" && !kv.Attn[lf.Layer].NoRoPE; lf.RoPEUndone != want {
					t.Errorf("%s: layer %d rope undone %t, want %t", name, lf.Layer, lf.RoPEUndone, want)
				}
				if lf.Storage != wantStorage || !(lf.RelErrK >= 0) {
					t.Errorf("%s: layer %d storage %q err %g, want %q", name, lf.Layer, lf.Storage, lf.RelErrK, wantStorage)
				}
				if wantStorage == "float16" && (lf.RelErrK > 1e-3 || lf.Kept != H*w) {
					t.Errorf("%s: float16 layer %d err %g kept %d", name, lf.Layer, lf.RelErrK, lf.Kept)
				}
			}
			st := r.Stored
			if sum != st.Codes+st.Scales+st.FP16Layers {
				t.Errorf("%s: layer bytes sum to %d, frames are %d", name, sum, st.Codes+st.Scales+st.FP16Layers)
			}
			if kinds[KindFull] != 2 || kinds[KindSliding] != 2 || kinds[KindNoRoPE] != 1 || len(r.Kinds) != 3 {
				t.Errorf("%s: kinds %v, report kinds %+v", name, kinds, r.Kinds)
			}
			var kb, ks int64
			for _, k := range r.Kinds {
				kb += k.BaselineBytes
				ks += k.StoredBytes
			}
			if kb != r.BaselineBytes || ks != sum {
				t.Errorf("%s: kinds sum to %d / %d, want %d / %d", name, kb, ks, r.BaselineBytes, sum)
			}
			if !strings.Contains(r.Stages[2].Note, "layer 3") || !strings.Contains(r.Stages[1].Note, "2 sliding layers") {
				t.Errorf("%s: notes %q / %q", name, r.Stages[1].Note, r.Stages[2].Note)
			}
			// The file round trip keeps the layer table and the setting.
			var buf bytes.Buffer
			if _, err := c.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			c2, err := ReadCompressed(buf.Bytes(), rope)
			if err != nil {
				t.Fatalf("%s: read back: %v", name, err)
			}
			nqCheckDecode(t, name+"/read", p, s, c2)
			var buf2 bytes.Buffer
			if _, err := c2.WriteTo(&buf2); err != nil || !bytes.Equal(buf.Bytes(), buf2.Bytes()) {
				t.Fatalf("%s: read-back cache writes different bytes (%v)", name, err)
			}
			if c2.Settings() != c.Settings() || c2.Settings().SlidingLayers != mode || c2.BaselineBytes() != r.BaselineBytes {
				t.Errorf("%s: read back settings %+v baseline %d", name, c2.Settings(), c2.BaselineBytes())
			}
			for l := range kv.Layers {
				if c2.Layer(l) != kv.Attn[l] || c2.LayerBytes(l) != c.LayerBytes(l) {
					t.Errorf("%s: read back layer %d as %+v (%d bytes)", name, l, c2.Layer(l), c2.LayerBytes(l))
				}
			}
		}
	}
}

// TestRoPEStagePerLayer: the rope stage rotates each layer's keys back with
// that layer's own rotation and leaves a no-RoPE layer's keys as they are.
func TestRoPEStagePerLayer(t *testing.T) {
	const H, d, T = 1, 16, 50
	kv := nqSlidingKV(5, H, d, T, 20)
	rope := nqLayersRoPE(d)
	p := NewPipeline(kv, nil, rope, "m")
	s := nqSettings(t, "eviction_rate", "0")
	if _, err := p.Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	ev, ro := p.outs.evict.recent(), p.outs.rope.recent()
	for layer := range kv.Layers {
		pos := ev.list(layer, 0)
		want := p.gather(nil, true, layer, 0, pos)
		if !kv.Attn[layer].NoRoPE {
			UndoRoPE(want, d, layer, pos, rope)
		}
		nqSameBits(t, fmt.Sprintf("layer %d rope output", layer), ro.rows[p.group(layer, 0, 0)], want)
	}
}

// TestPlainLayerTable: a cache whose layers are all plain writes the same
// file with Attn nil or an all-zero Attn (no layer table, no flag bits).
func TestPlainLayerTable(t *testing.T) {
	files := map[string][]byte{}
	for _, attn := range [][]LayerAttn{nil, make([]LayerAttn, 3)} {
		kv := nqKV(9, 3, 2, 8, 60)
		kv.Attn = attn
		res, err := NewPipeline(kv, nil, NormalRoPE(8, 1e4), "m").Run(context.Background(), nqSettings(t, "sliding_layers", "float16"))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Report.Kinds) != 1 || res.Report.SlidingLayers != 0 || res.Report.Stages[1].Note != "" {
			t.Errorf("attn %v: kinds %+v sliding %d note %q", attn, res.Report.Kinds, res.Report.SlidingLayers, res.Report.Stages[1].Note)
		}
		files[fmt.Sprint(attn == nil)] = nqFile(t, res.Compressed)
	}
	a, b := files["true"], files["false"]
	if !bytes.Equal(a, b) {
		t.Fatal("an all-plain layer table changes the file")
	}
	flags := a[10+1+1+5+1+10+8+1+1+1+6+1+6+8] // preamble, model "m", 5 dims (1 byte each), "nexusquant", rate, windows, "keykey", "global", seed
	if flags&0x30 != 0 {
		t.Errorf("flags %#x: bits 4/5 set on a plain model", flags)
	}
}

// TestSlidingLayersRefused: a file whose sliding list starts before its
// window, or whose layer table is bad, is refused with the field named.
func TestSlidingLayersRefused(t *testing.T) {
	kv := nqSlidingKV(3, 1, 8, 60, 20)
	res, err := NewPipeline(kv, nil, nqLayersRoPE(8), "m").Run(context.Background(), nqSettings(t, "block_tokens", "8"))
	if err != nil {
		t.Fatal(err)
	}
	c := res.Compressed
	cases := []struct {
		name string
		edit func(p *parts)
		want string
	}{
		{"wider window", func(p *parts) { p.attn[0].Window = 50 }, "position"},
		{"no table", func(p *parts) { p.attn = nil }, "positions"},
		{"short table", func(p *parts) { p.attn = p.attn[:3] }, "layer descriptions"},
		{"negative window", func(p *parts) { p.attn[1].Window = -1 }, "sliding window -1"},
	}
	for _, tc := range cases {
		p := nqParts(t, c, false)
		tc.edit(p)
		if _, err := assemble(p, nqLayersRoPE(8)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	if _, err := assemble(nqParts(t, c, false), nqLayersRoPE(8)); err != nil {
		t.Fatalf("unedited pieces: %v", err)
	}
}

// nqSlidingFile is a small .nqkv of a cache with sliding, no-RoPE and
// QK-norm layers (a fuzz seed with a layer table).
func nqSlidingFile(t testing.TB, mode string) []byte {
	t.Helper()
	res, err := NewPipeline(nqSlidingKV(8, 1, 8, 40, 12), nil, nqLayersRoPE(8), "m").Run(context.Background(),
		nqSettings(t, "block_tokens", "8", "sliding_window", "4", "sliding_layers", mode))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := res.Compressed.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
