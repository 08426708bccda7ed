package tui

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"nexusquant/engine"
	"nexusquant/stages"
)

// gemmaAttn is syn-gemma3's layout: layers 0–4 slide with window 48, layer
// 5 attends to everything, every layer normalises its keys.
var gemmaAttn = []stages.LayerAttn{{Window: 48, QKNorm: true}, {Window: 48, QKNorm: true}, {Window: 48, QKNorm: true},
	{Window: 48, QKNorm: true}, {Window: 48, QKNorm: true}, {QKNorm: true}}

// slidingReport is a plausible report of a 256-token prefix on gemmaAttn's
// model (1 KV head, head dim 256: 1 KiB per layer and position).
func slidingReport(ratio float64) stages.Report {
	rep := syntheticReport(ratio)
	rep.Heads = nil
	rep.BaselineBytes, rep.SlidingLayers, rep.SlidingWindow, rep.BaselineAllPositionsBytes = 262144+5*49152, 5, 48, 6*262144
	for l, a := range gemmaAttn {
		f := stages.LayerFigures{Layer: l, Kind: a.Kind(), LayerAttn: a, RoPEUndone: true, Storage: "quantized",
			Cached: 256, Kept: 124, BaselineBytes: 262144, StoredBytes: 24000, RelErrK: 0.31, RelErrV: 0.33}
		if a.Window > 0 {
			f.Cached, f.Kept, f.BaselineBytes, f.StoredBytes, f.RelErrK = 48, 38, 49152, 6900, 0.36+0.01*float64(l)
		}
		rep.Layers = append(rep.Layers, f)
		rep.Heads = append(rep.Heads, stages.HeadFigures{Layer: l, Kept: f.Kept, RelErrK: f.RelErrK, RelErrV: f.RelErrV})
	}
	rep.Kinds = stages.SumKinds(rep.Layers)
	return rep
}

// slidingModel is the explorer at w×h over a gemma3-shaped model after one
// balanced run.
func slidingModel(t *testing.T, w, h int) *Model {
	m, _ := newTestModel(t, w, h)
	m.st.info.Name, m.st.info.Arch, m.st.info.Params, m.st.info.Ctx = "syn-gemma3.Q8_0.gguf", "gemma3", 22_300_000, 8192
	m.st.info.SlidingLayers, m.st.info.SlidingWindow = 5, 48
	sh := engine.Shape{Name: "syn-gemma3", Arch: "gemma3", Layers: 6, KVHeads: 1, HeadDim: 256, Ctx: 8192, Params: 22_300_000,
		WeightBytes: 23_754_688, WeightType: "Q8_0", SlidingWindow: 48, SWA: []bool{true, true, true, true, true, false}, Runnable: true}
	m.st.shape = &sh
	m.st.pieces = pieces(256)
	res := syntheticResult(balanced(t), 7.9, 1.2)
	res.Report = slidingReport(7.9)
	feedResult(m, res)
	return m
}

// TestSlidingSettingsRow: the sliding_layers row is there only for a model
// with sliding-window layers; the focus reaches it and ←/→ step it.
func TestSlidingSettingsRow(t *testing.T) {
	plain, _ := newTestModel(t, 100, 30)
	if n := len(plain.st.rows()); n != len(settingRows) || strings.Contains(screen(t, plain), "swa layers") {
		t.Fatalf("a plain model shows %d rows (want %d) or the swa layers row", n, len(settingRows))
	}
	m := slidingModel(t, 100, 30)
	if !strings.Contains(screen(t, m), "swa layers") {
		t.Fatal("the sliding model's settings pane lacks the swa layers row")
	}
	for m.st.focusedRow().field != "protect_boundary" {
		m.Update(keyPress("tab"))
	}
	m.Update(keyPress("tab"))
	if f := m.st.focusedRow().field; f != "sliding_layers" {
		t.Fatalf("tab after boundary: focus %q, want sliding_layers", f)
	}
	m.Update(keyPress("right"))
	if m.st.settings.SlidingLayers != stages.SlidingFloat16 {
		t.Errorf("→ on the row: sliding_layers %q, want float16", m.st.settings.SlidingLayers)
	}
	m.Update(keyPress("tab"))
	if f := m.st.focusedRow().field; f != "preset" {
		t.Errorf("tab wraps to %q, want preset", f)
	}
	// A model with fewer rows loaded after: the focus falls back in range.
	m.st.focus = len(m.st.rows()) - 1
	m.st.info.SlidingLayers = 0
	if f := m.st.focusedRow().field; f != "preset" {
		t.Errorf("focus past the rows: %q, want preset", f)
	}
	s := m.st.settings
	s.Method = stages.MethodNone
	if !inert(slidingRow, s) || inert(slidingRow, m.st.settings) {
		t.Error("the row is inert only for method none")
	}
}

// TestSlidingPanes: the memory pane gives the bytes per layer type, the
// layers pane names each row's type, the capacity pane the windows — only
// for a model with more than one type.
func TestSlidingPanes(t *testing.T) {
	m := slidingModel(t, 120, 40)
	plain := sessionModel(t, 120, 40)
	cases := []struct {
		pane  pane
		has   []string
		plain []string // absent from the plain model's pane
	}{
		{memoryPane{}, []string{"full ×1 256.0 KiB → 23.4 KiB", "sliding ×5 240.0 KiB → 33.7 KiB", "fp16 counts 48-token windows"}, []string{"×4", "windows"}},
		{layersPane{}, []string{"L0 sliding 48 qk-norm", "L5 full qk-norm"}, []string{"full", "sliding"}},
		{capacityPane{}, []string{"windows       f16 240.0 KiB", "5 sliding layers of 6 stop at their 48-token window"}, []string{"windows", "sliding"}},
	}
	for _, c := range cases {
		got := ansi.Strip(c.pane.Render(&m.st, m.sty, 100, 16))
		for _, want := range c.has {
			if !strings.Contains(got, want) {
				t.Errorf("%s pane lacks %q:\n%s", c.pane.Title(), want, got)
			}
		}
		other := ansi.Strip(c.pane.Render(&plain.st, plain.sty, 100, 16))
		for _, no := range c.plain {
			if strings.Contains(other, no) {
				t.Errorf("%s pane of a plain model shows %q:\n%s", c.pane.Title(), no, other)
			}
		}
	}
	// A narrow layers pane falls back to the short tags.
	narrow := ansi.Strip(layersPane{}.Render(&m.st, m.sty, 30, 12))
	if !strings.Contains(narrow, "L0 swa48+qk") || !strings.Contains(narrow, "L5 full+qk") {
		t.Errorf("narrow layers pane:\n%s", narrow)
	}
	// Rows grouping layers of two types say so.
	if tags := rowTags(slices.Clone(gemmaAttn), 6, 3, 2, true); !slices.Equal(tags, []string{"swa48+qk", "mixed"}) {
		t.Errorf("grouped tags %v", tags)
	}
}

// TestGoldenSliding snapshots the explorer, layers and capacity views of a
// model with sliding-window layers.
func TestGoldenSliding(t *testing.T) {
	for _, c := range []struct {
		tab  string
		w, h int
	}{{"explore", 120, 40}, {"explore", 80, 24}, {"layers", 80, 24}, {"capacity", 80, 24}} {
		name := c.tab + "-sliding-" + strconv.Itoa(c.w) + "x" + strconv.Itoa(c.h)
		t.Run(name, func(t *testing.T) {
			m := slidingModel(t, c.w, c.h)
			for i, v := range m.tabs() {
				if strings.ToLower(v.name) == c.tab {
					m.st.tab = i
				}
			}
			golden(t, name, screen(t, m))
		})
	}
}

// TestKeepShareSlidingLayers: with granularity global a token before the
// sliding windows is held by the full layers only, so its share is theirs,
// not the first layer's.
func TestKeepShareSlidingLayers(t *testing.T) {
	const L, H, d, T = 3, 2, 8, 80
	kv := &stages.KV{Layers: L, KVHeads: H, HeadDim: d, T: T, K: make([]float32, L*H*T*d), V: make([]float32, L*H*T*d),
		Attn: []stages.LayerAttn{{Window: 20}, {}, {Window: 20}}}
	for i := range kv.K {
		kv.K[i], kv.V[i] = float32(i%7)-3, float32(i%5)-2
	}
	s := stages.DefaultSettings()
	s.EvictionRate, s.ZstdLevel = 0, "fastest"
	res, err := stages.NewPipeline(kv, nil, stages.NormalRoPE(d, 1e4), "m").Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	share, _ := windowViews(&res.Report, res.Compressed)
	for _, c := range []struct {
		t    int
		want float64
	}{{0, 1.0 / 3}, {T - 21, 1.0 / 3}, {T - 20, 1}, {T - 1, 1}} {
		if share[c.t] != c.want {
			t.Errorf("token %d: share %g, want %g", c.t, share[c.t], c.want)
		}
	}
}
