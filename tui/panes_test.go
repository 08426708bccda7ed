package tui

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"nexusquant/engine"
	"nexusquant/eval"
	"nexusquant/stages"
)

// panesUnderTest are the five panes of this file's tests.
var panesUnderTest = []pane{qualityPane{}, tokensPane{}, layersPane{}, continuationPane{}, capacityPane{}}

var testPieces = []string{"<s>", "Once", " upon", " a", " time", ",", " there", " was", " a", " little", " girl",
	"\n", "She", " liked", "\t", "to", " play", "\x01", " outside", ".", "\n\n", "One", " day", " she", " saw",
	" a", " big", ",", " red", " ball", ".", " \xff", "She", " wanted", " to", " play", " with", " it", "."}

// grid returns a layers × heads grid whose cell (wl, wh) has the highest
// errors.
func testGrid(layers, heads, wl, wh int) []stages.HeadFigures {
	var cells []stages.HeadFigures
	for l := range layers {
		for h := range heads {
			c := stages.HeadFigures{Layer: l, Head: h, Kept: 90 + l + h, RelErrK: 0.1 + 0.0001*float64(l*heads+h), RelErrV: 0.09 + 0.001*float64(h)}
			if l == wl && h == wh {
				c.RelErrK, c.RelErrV, c.Kept = 0.41, 0.38, 101
			}
			cells = append(cells, c)
		}
	}
	return cells
}

func testDiff() *eval.TextDiff {
	d := &eval.TextDiff{
		Base:       "she saw a big, red ball. She wanted to play with it, but it was too high.\nSo she asked her mom for help.",
		Compressed: "she saw a big, red ball. She wanted to play with the ball and the dog. They played all day long in the sun.",
		FirstDiff:  11,
	}
	for i := range 64 {
		d.BaseIDs = append(d.BaseIDs, int32(i))
		id := int32(i)
		if i >= 11 {
			id += 1000
		}
		d.CompIDs = append(d.CompIDs, id)
	}
	return d
}

// paneState builds the state of a scenario.
func paneState(kind string) *state {
	st := &state{budget: 24_000_000_000}
	shape := engine.Shape{Name: "stories260K", Arch: "llama", Layers: 5, KVHeads: 4, HeadDim: 8, Ctx: 512,
		Params: 292_000, WeightBytes: 1_100_000, WeightType: "F32"}
	switch kind {
	case "empty":
		st.phase = phaseIdle
	case "loading":
		st.phase = phaseLoading
	case "running":
		st.phase = phaseRunning
		st.shape = &shape
		st.pieces = testPieces
		st.cur = run{contDone: 82, contTot: 128, nll: math.Log(10.79), baseNLL: math.Log(10.76)}
		st.runs = []runPoint{{ratioTotal: 4, deltaPPL: 0.4, kld: 0.01, job: 1}}
		st.job = 2
	case "done", "fractional", "wide", "kld":
		st.phase = phaseIdle
		st.shape = &shape
		st.pieces = testPieces
		keep := make([]float64, len(testPieces))
		for i := range keep {
			switch {
			case kind == "fractional":
				keep[i] = float64(i%5) / 4
			case i < 3 || i%3 == 0:
				keep[i] = 1
			}
		}
		st.cur = run{
			keepShare: keep,
			heads:     testGrid(4, 2, 3, 1),
			report:    &stages.Report{RatioTotal: 17.4},
			result: &eval.Result{Metrics: engine.Metrics{PPLBase: 10.76, PPL: 10.79, DeltaPPLPct: 0.26,
				DeltaPPLCI: [2]float64{-0.88, 1.53}, KLD: 0.0031, Top1Agree: 0.953, N: 127}},
			diff: testDiff(),
		}
		if kind == "wide" {
			st.cur.heads = testGrid(32, 8, 17, 5)
		}
		st.chartKLD = kind == "kld"
		st.runs = []runPoint{
			{ratioTotal: 2.1, deltaPPL: 0.1, kld: 0.001, job: 1},
			{ratioTotal: 4.0, deltaPPL: 0.3, kld: 0.004, job: 2},
			{ratioTotal: 7.2, deltaPPL: 1.2, kld: 0.002, job: 3},
			{ratioTotal: 10.1, deltaPPL: 0.9, kld: 0.02, job: 4},
			{ratioTotal: 17.4, deltaPPL: 2.6, kld: 0.05, job: 5},
			{ratioTotal: 33.3, deltaPPL: 54.8, kld: 0.73, job: 6},
		}
		st.job = 5
	case "nan":
		st.phase = phaseIdle
		nan := math.NaN()
		bad := engine.Shape{Name: "broken", Layers: 2, KVHeads: 1, HeadDim: 4, WeightBytes: 30_000_000_000}
		st.shape = &bad
		st.pieces = []string{"\x00", "", "\n", "\r\n", " "}
		st.cur = run{
			keepShare: []float64{nan, 0.5, 1, 0, nan},
			heads:     []stages.HeadFigures{{Layer: 0, Head: 0, RelErrK: nan, RelErrV: nan}, {Layer: 1, Head: 0, RelErrK: math.Inf(1), RelErrV: 0.2}, {Layer: -1, Head: 7}},
			report:    &stages.Report{RatioTotal: math.Inf(1)},
			result: &eval.Result{Metrics: engine.Metrics{PPLBase: nan, PPL: math.Inf(1), DeltaPPLPct: nan,
				DeltaPPLCI: [2]float64{nan, nan}, KLD: nan, Top1Agree: nan}},
			diff: &eval.TextDiff{FirstDiff: -1},
		}
		st.runs = []runPoint{{ratioTotal: nan, deltaPPL: 1}, {ratioTotal: 3, deltaPPL: math.Inf(1)}, {ratioTotal: 0, deltaPPL: 0}, {ratioTotal: 5, deltaPPL: nan}}
	case "extreme":
		// huge and tiny figures everywhere
		st.phase = phaseIdle
		huge := engine.Shape{Name: strings.Repeat("x", 300), Layers: 1 << 20, KVHeads: 1 << 10, HeadDim: 1 << 10, Ctx: 1 << 30, WeightBytes: 1}
		st.shape = &huge
		st.pieces = []string{strings.Repeat("long", 500), "\n", strings.Repeat("wide字", 100)}
		st.cur = run{
			keepShare: []float64{1, 0, 0.5},
			heads:     []stages.HeadFigures{{Layer: 5000, Head: 0}, {Layer: 0, Head: 300, RelErrK: 1e300, RelErrV: -1e300, Kept: math.MaxInt}, {Layer: 1, Head: 0, Kept: math.MinInt}},
			report:    &stages.Report{RatioTotal: 1e-300},
			result:    &eval.Result{Metrics: engine.Metrics{PPLBase: 1e300, PPL: 1e-300, DeltaPPLPct: -1e300, DeltaPPLCI: [2]float64{-1e300, 1e300}, KLD: 1e300, Top1Agree: 1e300}},
			diff:      &eval.TextDiff{Base: strings.Repeat("a", 2000), Compressed: strings.Repeat("a", 1999) + "b", FirstDiff: 1 << 30},
		}
		st.runs = []runPoint{{ratioTotal: 1e-300, deltaPPL: 1e300, job: 1}, {ratioTotal: 1e300, deltaPPL: -1e300, job: 2}, {ratioTotal: 1, deltaPPL: 0, job: 3}}
	case "same":
		// every run at one point, identical continuations
		st.phase = phaseIdle
		st.shape = &shape
		st.cur.result = &eval.Result{}
		st.cur.diff = &eval.TextDiff{Base: "the same", Compressed: "the same", FirstDiff: -1, BaseIDs: []int32{1, 2}, CompIDs: []int32{1, 2}}
		st.runs = []runPoint{{ratioTotal: 3, job: 1}, {ratioTotal: 3, job: 2}, {ratioTotal: 3, job: 3}}
	}
	return st
}

var paneScenarios = []string{"empty", "loading", "running", "done", "fractional", "wide", "kld", "nan", "extreme", "same"}

// TestPanesFit renders every pane in every scenario at many sizes: no panic,
// at most h lines, none wider than w.
func TestPanesFit(t *testing.T) {
	sty := DefaultStyles(true)
	sizes := [][2]int{{0, 0}, {5, 1}, {1, 1}, {9, 3}, {10, 2}, {20, 3}, {30, 5}, {46, 10}, {78, 18}, {100, 6}, {118, 30}, {200, 40}}
	for _, p := range panesUnderTest {
		for _, sc := range paneScenarios {
			for _, sz := range sizes {
				w, h := sz[0], sz[1]
				t.Run(fmt.Sprintf("%s/%s/%dx%d", p.Title(), sc, w, h), func(t *testing.T) {
					out := p.Render(paneState(sc), sty, w, h)
					if out == "" {
						if w >= 10 && h >= 1 {
							t.Errorf("empty body at %d×%d", w, h)
						}
						return
					}
					lines := strings.Split(out, "\n")
					if len(lines) > h {
						t.Errorf("%d lines > h=%d:\n%s", len(lines), h, ansi.Strip(out))
					}
					for i, l := range lines {
						if lw := ansi.StringWidth(l); lw > w {
							t.Errorf("line %d is %d cells > w=%d: %q", i, lw, w, ansi.Strip(l))
						}
					}
				})
			}
		}
	}
	// nil state or styles
	for _, p := range panesUnderTest {
		if out := p.Render(nil, sty, 40, 5); out != "" {
			t.Errorf("%s: nil state drew %q", p.Title(), out)
		}
	}
}

// TestPanesContent checks the key content of each pane at the usual sizes.
func TestPanesContent(t *testing.T) {
	sty := DefaultStyles(true)
	tests := []struct {
		p     pane
		state string
		w, h  int
		want  []string
	}{
		{qualityPane{}, "done", 118, 30, []string{"PPL 10.76 → 10.79", "ΔPPL +0.26% [-0.88, +1.53]", "KLD 0.0031", "top-1 95.3%",
			"●", "○", "this run", "ΔPPL % vs ratio_total (c: KLD)", "Pareto front", "10×", "┤"}},
		{qualityPane{}, "done", 78, 18, []string{"ΔPPL +0.26%", "KLD 0.0031", "●", "ratio_total"}},
		{qualityPane{}, "done", 46, 10, []string{"ΔPPL +0.26%", "●"}},
		{qualityPane{}, "done", 46, 3, []string{"PPL 10.76 → 10.79", "ΔPPL +0.26% [-0.88, +1.53]", "KLD 0.0031"}},
		{qualityPane{}, "done", 46, 1, []string{"PPL 10.76 → 10.79  ΔPPL +0.26% [-0.88, +1.53]"}},
		{qualityPane{}, "done", 30, 1, []string{"ΔPPL +0.26%"}},
		{qualityPane{}, "kld", 78, 18, []string{"KLD vs ratio_total (c: ΔPPL)", "0.73", "●"}},
		{qualityPane{}, "running", 78, 18, []string{"PPL 10.76 → 10.79", "ΔPPL +0.28%", "82/128 tokens", "after two runs (1 so far)"}},
		{qualityPane{}, "empty", 78, 18, []string{"waiting for the first run…"}},
		{qualityPane{}, "nan", 78, 18, []string{"PPL – → ∞", "ΔPPL –%", "KLD –", "(0 so far)"}},
		{qualityPane{}, "same", 78, 18, []string{"●", "3.0×"}},
		{tokensPane{}, "done", 78, 18, []string{"kept 15 of 39 tokens (38%) · evicted shown dim", "Once upon a time", "⏎", "⇥", "␁", "�"}},
		{tokensPane{}, "fractional", 78, 18, []string{"tokens in every head", "shade: share of heads keeping it"}},
		{tokensPane{}, "running", 78, 18, []string{"39 prefix tokens · evicting…"}},
		{tokensPane{}, "done", 46, 4, []string{"kept 15 of 39", "earlier lines", "with it."}},
		{tokensPane{}, "empty", 46, 4, []string{"waiting for the first run…"}},
		{layersPane{}, "done", 78, 18, []string{"worst: layer 3 head 1 · K err 0.41 · V err 0.38 · kept 101", "L0", "L3", "K err", "V err", "kept"}},
		{layersPane{}, "done", 46, 10, []string{"worst: layer 3 head 1", "K err", "V err"}},
		{layersPane{}, "wide", 118, 30, []string{"worst: layer 17 head 5 · K err 0.41 · V err 0.38 · kept 101", "2 layers a row", "L30–31"}},
		{layersPane{}, "wide", 78, 40, []string{"worst: layer 17 head 5", "L31", "K err"}},
		{layersPane{}, "wide", 46, 10, []string{"worst: layer 17 head 5", "K err", "5 layers a row"}},
		{layersPane{}, "nan", 78, 18, []string{"worst: layer 1 head 0"}},
		{continuationPane{}, "done", 118, 30, []string{"base  …she saw a big", "comp  …she saw a big", "┃the", "first difference at token 12 of 64"}},
		{continuationPane{}, "done", 100, 2, []string{"base  …", "┃the", "first difference at token 12 of 64"}},
		{continuationPane{}, "done", 46, 10, []string{"base  …", "comp  …", "┃the", "first difference at token 12 of 64"}},
		{continuationPane{}, "same", 78, 18, []string{"identical for all 2 tokens", "base  …the same"}},
		{continuationPane{}, "running", 78, 18, []string{"generating the greedy continuation…"}},
		{continuationPane{}, "empty", 78, 18, []string{"appear after a run"}},
		{capacityPane{}, "done", 78, 18, []string{"tokens fit where", "(the model's own context is 512)", "stories260K · 5 layers × 4 KV heads × d=8",
			"budget 24 GB", "+/- budget", "KV per token  f16 640 B   compressed 37 B", "ratio_total 17.4× measured on this run"}},
		{capacityPane{}, "done", 30, 14, []string{"tokens fit", "where 37M did", "stories260K", "+/- budget", "compressed 37 B", "ratio_total 17.4×"}},
		{capacityPane{}, "running", 78, 18, []string{"tokens fit in float16", "compressed figures follow"}},
		{capacityPane{}, "nan", 78, 18, []string{"the weights alone (30 GB) exceed the budget (24 GB)"}},
		{capacityPane{}, "empty", 78, 18, []string{"waiting for the model's shape…"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%s/%dx%d", tc.p.Title(), tc.state, tc.w, tc.h), func(t *testing.T) {
			out := ansi.Strip(tc.p.Render(paneState(tc.state), sty, tc.w, tc.h))
			for _, s := range tc.want {
				if !strings.Contains(out, s) {
					t.Errorf("missing %q in\n%s", s, out)
				}
			}
		})
	}
}

func TestParetoFront(t *testing.T) {
	p := func(job uint64, ratio, dppl, kld float64) runPoint {
		return runPoint{job: job, ratioTotal: ratio, deltaPPL: dppl, kld: kld}
	}
	nan := math.NaN()
	tests := []struct {
		name   string
		points []runPoint
		kld    bool
		want   []uint64
	}{
		{"none", nil, false, nil},
		{"one", []runPoint{p(1, 4, 1, 0)}, false, []uint64{1}},
		{"dominated", []runPoint{p(1, 2, 1, 0), p(2, 4, 0.5, 0), p(3, 3, 2, 0)}, false, []uint64{2}},
		{"front of three", []runPoint{p(1, 2, 0.1, 0), p(2, 4, 0.5, 0), p(3, 3, 2, 0), p(4, 8, 3, 0), p(5, 6, 4, 0)}, false, []uint64{1, 2, 4}},
		{"sorted by ratio", []runPoint{p(4, 8, 3, 0), p(2, 4, 0.5, 0), p(1, 2, 0.1, 0)}, false, []uint64{1, 2, 4}},
		{"same ratio: lower wins", []runPoint{p(1, 4, 0.7, 0), p(2, 4, 0.5, 0)}, false, []uint64{2}},
		{"duplicates: one kept", []runPoint{p(1, 4, 0.5, 0), p(2, 4, 0.5, 0)}, false, []uint64{1}},
		{"same y: higher ratio wins", []runPoint{p(1, 4, 0.5, 0), p(2, 6, 0.5, 0)}, false, []uint64{2}},
		{"negative delta", []runPoint{p(1, 2, -0.5, 0), p(2, 4, 0.2, 0)}, false, []uint64{1, 2}},
		{"kld", []runPoint{p(1, 2, 0.1, 0.05), p(2, 4, 0.5, 0.01), p(3, 8, 3, 0.02)}, true, []uint64{2, 3}},
		{"invalid left out", []runPoint{p(1, nan, 0, 0), p(2, math.Inf(1), 0, 0), p(3, 0, 0, 0), p(4, 2, nan, 0), p(5, 3, 1, 0)}, false, []uint64{5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []uint64
			for _, q := range paretoFront(tc.points, tc.kld) {
				got = append(got, q.job)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("paretoFront = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestTokensStyling: evicted tokens change the styling, not the text, and the
// summary counts them.
func TestTokensStyling(t *testing.T) {
	sty := DefaultStyles(true)
	st := paneState("done")
	n := len(st.pieces)
	all := make([]float64, n)
	for i := range all {
		all[i] = 1
	}
	some := append([]float64(nil), all...)
	for _, i := range []int{1, 4, 5, 20} {
		some[i] = 0
	}
	render := func(share []float64) []string {
		st.cur.keepShare = share
		return strings.Split(tokensPane{}.Render(st, sty, 60, 20), "\n")
	}
	a, b := render(all), render(some)
	if len(a) != len(b) {
		t.Fatalf("%d lines vs %d", len(a), len(b))
	}
	if got, want := ansi.Strip(a[0]), fmt.Sprintf("kept %d of %d tokens (100%%)", n, n); !strings.HasPrefix(got, want) {
		t.Errorf("summary %q, want %q", got, want)
	}
	if got, want := ansi.Strip(b[0]), fmt.Sprintf("kept %d of %d tokens (%.0f%%)", n-4, n, 100*float64(n-4)/float64(n)); !strings.HasPrefix(got, want) {
		t.Errorf("summary %q, want %q", got, want)
	}
	styledDiffers := false
	for i := 1; i < len(a); i++ {
		if ansi.Strip(a[i]) != ansi.Strip(b[i]) {
			t.Errorf("line %d: plain text differs:\n%q\n%q", i, ansi.Strip(a[i]), ansi.Strip(b[i]))
		}
		if a[i] != b[i] {
			styledDiffers = true
		}
	}
	if !styledDiffers {
		t.Error("evicted tokens are drawn like kept ones")
	}
}

// TestLayersWorst names the worst cell of synthetic grids and fits the pane.
func TestLayersWorst(t *testing.T) {
	sty := DefaultStyles(true)
	tests := []struct {
		layers, heads, wl, wh int
		w, h                  int
	}{
		{4, 2, 3, 1, 46, 10},
		{4, 2, 0, 0, 78, 18},
		{32, 8, 17, 5, 118, 30},
		{32, 8, 31, 7, 46, 10},
		{32, 8, 0, 3, 78, 18},
		{32, 32, 9, 30, 46, 10},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%dx%d@%dx%d", tc.layers, tc.heads, tc.w, tc.h), func(t *testing.T) {
			st := &state{cur: run{heads: testGrid(tc.layers, tc.heads, tc.wl, tc.wh)}}
			out := layersPane{}.Render(st, sty, tc.w, tc.h)
			lines := strings.Split(out, "\n")
			want := fmt.Sprintf("worst: layer %d head %d", tc.wl, tc.wh)
			if !strings.HasPrefix(ansi.Strip(lines[0]), want) {
				t.Errorf("first line %q, want %q", ansi.Strip(lines[0]), want)
			}
			if len(lines) > tc.h {
				t.Errorf("%d lines > %d", len(lines), tc.h)
			}
			for i, l := range lines {
				if ansi.StringWidth(l) > tc.w {
					t.Errorf("line %d: %d cells > %d", i, ansi.StringWidth(l), tc.w)
				}
			}
		})
	}
}

// TestDiffSpan: the first difference by character without token pieces.
func TestDiffSpan(t *testing.T) {
	tests := []struct {
		base, comp      string
		pos, bLen, cLen int
	}{
		{"play with it, but", "play with the ball", 10, 3, 3},
		{"same", "same", -1, 0, 0},
		{"short", "shorter text", 5, 0, 2},
		{"a ball", "a bat", 4, 2, 1},
		{"", "", -1, 0, 0},
		{"héllo wörld", "héllo world", 7, 4, 4},
	}
	for _, tc := range tests {
		pos, bl, cl := diffSpan(&eval.TextDiff{}, tc.base, tc.comp)
		if pos != tc.pos || bl != tc.bLen || cl != tc.cLen {
			t.Errorf("diffSpan(%q, %q) = %d, %d, %d; want %d, %d, %d", tc.base, tc.comp, pos, bl, cl, tc.pos, tc.bLen, tc.cLen)
		}
	}
}

// TestWrapGlyphs: words move to the next line, long words are cut, hard
// breaks end lines, and no line is wider than asked.
func TestWrapGlyphs(t *testing.T) {
	tests := []struct {
		text string
		w    int
		want []string
	}{
		{"the quick brown fox", 10, []string{"the quick", "brown fox"}},
		{"abcdefghijkl", 5, []string{"abcde", "fghij", "kl"}},
		{"one\ntwo", 10, []string{"one⏎", "two"}},
		{"a  b", 2, []string{"a", "b"}},
		{"   lead", 10, []string{"   lead"}},
		{"", 5, nil},
	}
	for _, tc := range tests {
		lines := wrapGlyphs(printable(nil, tc.text, 0, true), tc.w)
		var got []string
		for _, l := range lines {
			var b strings.Builder
			for _, g := range l {
				b.WriteString(g.s)
			}
			got = append(got, b.String())
		}
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
			t.Errorf("wrap(%q, %d) = %q, want %q", tc.text, tc.w, got, tc.want)
		}
	}
}
