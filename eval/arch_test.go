package eval

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"nexusquant/engine"
	"nexusquant/engine/gguf"
	"nexusquant/engine/tokenizer"
	"nexusquant/internal/demo"
	"nexusquant/internal/synth/synthtest"
	"nexusquant/presets"
	"nexusquant/stages"
)

// synthExplorer writes the synthetic model called name (Q8_0, seeded, a
// second or so) into a temporary folder, loads it and prepares one window
// of prefix + cont tokens of the embedded TinyStories text.
func synthExplorer(t *testing.T, name string, prefix, cont int) *Explorer {
	t.Helper()
	m, err := engine.Load(synthtest.File(t, name, gguf.Q8_0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	d, err := demo.Get("stories")
	if err != nil {
		t.Fatal(err)
	}
	ids := m.Tok.Encode(d.Text, tokenizer.Options{AddSpecial: true})
	wins, err := Windows(ids, m.Tok.BOS(), prefix, cont, 1)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := NewExplorer(context.Background(), m, wins, prefix, 32, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// TestBalancedOnEveryArchitecture runs the balanced preset on every
// synthetic architecture through the packed cache, and checks the ratio,
// finite quality figures (the weights are random: their values mean
// nothing), and that the report names every layer's type: sliding windows
// (gemma2, gemma3), the no-RoPE layer (smollm3), QK-norm (qwen3, gemma3).
// The prefix (96) is longer than the sliding windows (48), so the sliding
// layers' caches hold only their window.
func TestBalancedOnEveryArchitecture(t *testing.T) {
	const prefix, cont = 96, 24
	cases := []struct {
		name             string
		sliding, noRoPE  int
		qkNorm           bool
		kinds            []string
		baselineVsAllPos float64 // BaselineBytes / the all-positions baseline
	}{
		{"syn-qwen3", 0, 0, true, []string{"full"}, 1},
		{"syn-gemma3", 5, 0, true, []string{"full", "sliding"}, (1 + 5*48.0/96) / 6},
		{"syn-gemma2", 2, 0, false, []string{"full", "sliding"}, (2 + 2*48.0/96) / 4},
		{"syn-phi3", 0, 0, false, []string{"full"}, 1},
		{"syn-smollm3", 0, 1, false, []string{"full", "no-rope"}, 1},
		{"syn-llama3", 0, 0, false, []string{"full"}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ex := synthExplorer(t, c.name, prefix, cont)
			res, err := ex.Run(context.Background(), preset(t, "balanced"))
			if err != nil {
				t.Fatal(err)
			}
			r, m := res.Report, res.Metrics
			if !(r.RatioTotal > 1) || math.IsInf(r.RatioTotal, 0) {
				t.Errorf("ratio_total %g, want > 1", r.RatioTotal)
			}
			for what, v := range map[string]float64{"ΔPPL": m.DeltaPPLPct, "KLD": m.KLD, "PPL": m.PPL, "base PPL": m.PPLBase} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("%s = %g, want finite", what, v)
				}
			}
			if m.KLD < 0 || m.N != cont-1 {
				t.Errorf("KLD %g over %d positions, want ≥ 0 over %d", m.KLD, m.N, cont-1)
			}
			var kinds []string
			for _, k := range r.Kinds {
				kinds = append(kinds, k.Kind)
			}
			if !slices.Equal(kinds, c.kinds) {
				t.Errorf("layer kinds %v, want %v", kinds, c.kinds)
			}
			attn := LayerAttn(ex.Model.Config)
			sliding, noRoPE := 0, 0
			for l, lf := range r.Layers {
				if lf.LayerAttn != attn[l] || lf.Kind != attn[l].Kind() || lf.QKNorm != c.qkNorm {
					t.Errorf("layer %d reported as %s %+v, the model's is %+v", l, lf.Kind, lf.LayerAttn, attn[l])
				}
				if lf.Window > 0 {
					sliding++
					if lf.Cached != 48 || lf.Kept >= 48*ex.Model.Config.KVHeads {
						t.Errorf("sliding layer %d caches %d positions and keeps %d", l, lf.Cached, lf.Kept)
					}
				}
				if lf.NoRoPE {
					noRoPE++
					if lf.RoPEUndone {
						t.Errorf("layer %d has no RoPE but reports its keys rotated back", l)
					}
				}
			}
			if sliding != c.sliding || noRoPE != c.noRoPE || r.SlidingLayers != c.sliding {
				t.Errorf("%d sliding (report %d) and %d no-RoPE layers, want %d and %d", sliding, r.SlidingLayers, noRoPE, c.sliding, c.noRoPE)
			}
			all := r.BaselineAllPositionsBytes
			if c.sliding == 0 {
				all = r.BaselineBytes
			}
			if got := float64(r.BaselineBytes) / float64(all); math.Abs(got-c.baselineVsAllPos) > 1e-12 {
				t.Errorf("baseline %d is %g of every position's %d, want %g", r.BaselineBytes, got, all, c.baselineVsAllPos)
			}
			// The eval JSON names the types when there are several.
			out := NewReport(ex, res)
			if (len(out.LayerKinds) > 1) != (len(c.kinds) > 1) || (out.Layers != nil) != (c.sliding+c.noRoPE > 0 || c.qkNorm) {
				t.Errorf("JSON layer_kinds %d, layers %d", len(out.LayerKinds), len(out.Layers))
			}
			// The packed cache written to a file decodes to the same figures.
			path := filepath.Join(t.TempDir(), "c.nqkv")
			if _, err := WriteCache(path, res.Packed); err != nil {
				t.Fatal(err)
			}
			back, err := ex.RunFromFile(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			if back.Metrics.KLD != m.KLD || back.Report.BaselineBytes != r.BaselineBytes || !slices.Equal(kindNames(back.Report.Kinds), c.kinds) {
				t.Errorf("from the file: KLD %g baseline %d kinds %v; in memory %g %d", back.Metrics.KLD, back.Report.BaselineBytes, back.Report.Kinds, m.KLD, r.BaselineBytes)
			}
		})
	}
}

func kindNames(ks []stages.KindFigures) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.Kind)
	}
	return out
}

// TestPackedMatchesFloatOnSlidingLayers: with nothing evicted and 8-bit
// codes the continuation from the packed cache — whose sliding layers hold
// only their window, the older rows dropped — gives logits close to the
// float cache's, which holds every row (attention masks them). With
// sliding_layers float16 the windows are float16 rows. A wrong RoPE, a
// wrong window or a dropped reachable row would move the logits far more.
func TestPackedMatchesFloatOnSlidingLayers(t *testing.T) {
	const prefix, cont = 100, 20
	for _, name := range []string{"syn-gemma3", "syn-gemma2"} {
		ex := synthExplorer(t, name, prefix, cont)
		for _, mode := range []string{stages.SlidingCompress, stages.SlidingFloat16} {
			s := stages.DefaultSettings()
			s.EvictionRate, s.KeyBits, s.ValueBits, s.SlidingLayers, s.ZstdLevel = 0, 8, 8, mode, "fastest"
			res, err := ex.Run(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			c := res.Packed
			L, H, _ := c.Dims()
			for l := range L {
				want := prefix
				if w := ex.Model.Config.Layer(l).Window; w > 0 {
					want = w
				}
				for h := range H {
					if pos := c.Positions(l, h); len(pos) != want || int(pos[0]) != prefix-want {
						t.Fatalf("%s %s: layer %d head %d holds %d positions from %d, want %d from %d", name, mode, l, h, len(pos), pos[0], want, prefix-want)
					}
				}
			}
			w := ex.Windows[0]
			comp, err := ex.continueFrom(context.Background(), Packed(c), w, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			var maxDiff, maxAbs float64
			for i := range comp {
				maxDiff = max(maxDiff, math.Abs(float64(comp[i]-w.base[i])))
				maxAbs = max(maxAbs, math.Abs(float64(w.base[i])))
			}
			m := res.Metrics
			if maxDiff > 0.02*maxAbs || m.KLD > 1e-3 || m.Top1Agree < 0.999 {
				t.Errorf("%s %s: logits differ by up to %g (largest logit %g), KLD %g, top-1 %g", name, mode, maxDiff, maxAbs, m.KLD, m.Top1Agree)
			}
			t.Logf("%s %s: max |Δlogit| %.3g of %.3g, KLD %.3g, ratio_total %.2f", name, mode, maxDiff, maxAbs, m.KLD, res.Report.RatioTotal)
		}
	}
}

// TestSettingsByFlagOmitsNewDefaults: sliding-layers appears in reports and
// session runs only when it is not the default, and reads back either way.
func TestSettingsByFlagOmitsNewDefaults(t *testing.T) {
	for _, mode := range []string{stages.SlidingCompress, stages.SlidingFloat16} {
		s := stages.DefaultSettings()
		s.SlidingLayers = mode
		m := SettingsByFlag(s)
		v, ok := m["sliding-layers"]
		if ok != (mode != stages.SlidingCompress) || ok && v != mode {
			t.Errorf("%s: sliding-layers %v (present %t)", mode, v, ok)
		}
		if want := len(stages.Fields()) - 1; len(m) < want {
			t.Errorf("%s: %d settings, want at least %d", mode, len(m), want)
		}
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := presets.DecodeSettings(raw)
		if err != nil || back != s {
			t.Errorf("%s: read back %+v (%v), want %+v", mode, back, err, s)
		}
	}
}
