package tui

import (
	"fmt"
	"math"
	"strings"

	"charm.land/lipgloss/v2"

	"nexusquant/stages"
)

// layersPane is a heat map of window 0's (layer, KV head) grid after
// quantization: rows are layers, columns KV heads, one grid for the relative
// error of K and one for V on a shared scale, and the kept tokens per cell as
// a third grid when there is room. The worst cell is named on the first
// line. When the layers outnumber the lines, each row groups several layers
// (the highest error, the mean kept count). When the layers are not all
// plain full-attention layers, each row names its type (full, sliding W,
// no-rope, qk-norm: they are compressed differently).
type layersPane struct{}

func (layersPane) Title() string { return "Layers" }

// Which figure a grid of the layers pane shows.
const (
	gridErrK = iota
	gridErrV
	gridErrMax // max(K, V), when two grids do not fit
	gridKept
)

var gridTitles = [...]string{gridErrK: "K err", gridErrV: "V err", gridErrMax: "max err K,V", gridKept: "kept"}

// maxGridSide bounds the layers and heads drawn, against corrupt indices.
const maxGridSide = 512

func (layersPane) Render(st *state, sty *Styles, w, h int) string {
	if st == nil || sty == nil || w <= 0 || h <= 0 {
		return ""
	}
	cells := st.cur.heads
	L, H := 0, 0
	for _, c := range cells {
		if c.Layer >= 0 && c.Head >= 0 && c.Layer < maxGridSide && c.Head < maxGridSide {
			L, H = max(L, c.Layer+1), max(H, c.Head+1)
		}
	}
	if L == 0 {
		msg := "waiting for the first run…"
		if st.phase == phaseRunning {
			msg = "the per-head errors follow the quantize stage…"
		}
		return paneBody([]string{sty.Dim.Render(msg)}, w, h)
	}
	grid := make([]*stages.HeadFigures, L*H)
	worst := -1
	errLo, errHi := math.Inf(1), math.Inf(-1)
	keptLo, keptHi := math.MaxInt, math.MinInt
	for i := range cells {
		c := &cells[i]
		if c.Layer < 0 || c.Head < 0 || c.Layer >= L || c.Head >= H {
			continue
		}
		grid[c.Layer*H+c.Head] = c
		for _, e := range []float64{c.RelErrK, c.RelErrV} {
			if finite(e) {
				errLo, errHi = min(errLo, e), max(errHi, e)
			}
		}
		keptLo, keptHi = min(keptLo, c.Kept), max(keptHi, c.Kept)
		if s := c.RelErrK + c.RelErrV; !math.IsNaN(s) && (worst < 0 || s > cells[worst].RelErrK+cells[worst].RelErrV) {
			worst = i
		}
	}

	lines := []string{worstCell(cells, worst, sty, w)}
	if h < 2 {
		return paneBody(lines, w, h)
	}
	legend := func(withKept bool, note string) string {
		s := ""
		if errLo <= errHi {
			s = sty.Dim.Render("err "+sigNum(errLo)+" ") + heatRamp(sty) + sty.Dim.Render(" "+sigNum(errHi))
		}
		if withKept {
			s += sty.Dim.Render(fmt.Sprintf("   kept %d ", keptLo)) + heatRamp(sty) + sty.Dim.Render(fmt.Sprintf(" %d", keptHi))
		}
		if note != "" {
			s += sty.Dim.Render(note)
		}
		return s
	}
	if h < 4 {
		return paneBody(append(lines, legend(false, "")), w, h)
	}

	// rows: g layers each
	rowsAvail := h - 3
	g := (L + rowsAvail - 1) / rowsAvail
	nrows := (L + g - 1) / g
	num := func(r int) string {
		if g == 1 {
			return fmt.Sprintf("L%d", r)
		}
		return fmt.Sprintf("L%d–%d", r*g, min(r*g+g, L)-1)
	}
	numW := len([]rune(num(nrows - 1)))
	// With layer types, the label is the number then the row's type: the
	// long names when a grid still fits beside them, else the short ones.
	tags := rowTags(layerTypes(st), L, g, nrows, false)
	tagW := maxRunes(tags)
	if numW+1+tagW+1+len([]rune(gridTitles[gridErrMax])) > w {
		tags = rowTags(layerTypes(st), L, g, nrows, true)
		tagW = maxRunes(tags)
	}
	label := func(r int) string {
		if tags == nil {
			return num(r)
		}
		return padRight(num(r), numW) + " " + tags[r]
	}
	lw := numW + 1
	if tags != nil {
		lw += tagW + 1
	}

	// the largest layout that fits: grids × cell width
	type layout struct {
		grids []int
		cw    int
	}
	kv := []int{gridErrK, gridErrV}
	kvk := []int{gridErrK, gridErrV, gridKept}
	one := []int{gridErrMax}
	heads := H // heads drawn: all, unless even one grid of width 1 is too wide
	gridW := func(kind, cw int) int { return max(heads*cw, len([]rune(gridTitles[kind]))) }
	width := func(l layout) int {
		n := lw
		for i, k := range l.grids {
			if i > 0 {
				n += 2
			}
			n += gridW(k, l.cw)
		}
		return n
	}
	lay := layout{one, 1}
	for _, l := range []layout{{kvk, 3}, {kvk, 2}, {kv, 3}, {kv, 2}, {kvk, 1}, {kv, 1}, {one, 2}} {
		if width(l) <= w {
			lay = l
			break
		}
	}
	if width(lay) > w {
		heads = max(w-lw, 1)
	}

	value := func(kind, r, head int) float64 {
		v, n := math.NaN(), 0
		for layer := r * g; layer < min(r*g+g, L); layer++ {
			c := grid[layer*H+head]
			if c == nil {
				continue
			}
			var x float64
			switch kind {
			case gridErrK:
				x = c.RelErrK
			case gridErrV:
				x = c.RelErrV
			case gridErrMax:
				x = math.Max(c.RelErrK, c.RelErrV)
			case gridKept:
				x = float64(c.Kept)
			}
			if !finite(x) {
				continue
			}
			switch {
			case n == 0:
				v = x
			case kind == gridKept:
				v += x
			default:
				v = math.Max(v, x)
			}
			n++
		}
		if kind == gridKept && n > 0 {
			v /= float64(n)
		}
		return v
	}
	scale := func(kind int, v float64) float64 {
		lo, hi := errLo, errHi
		if kind == gridKept {
			lo, hi = float64(keptLo), float64(keptHi)
		}
		if math.IsNaN(v) {
			return math.NaN()
		}
		if hi-lo <= 0 {
			return 0
		}
		return (v - lo) / (hi - lo)
	}

	var hdr strings.Builder
	hdr.WriteString(strings.Repeat(" ", lw))
	for i, k := range lay.grids {
		if i > 0 {
			hdr.WriteString("  ")
		}
		hdr.WriteString(padRight(gridTitles[k], gridW(k, lay.cw)))
	}
	lines = append(lines, sty.Dim.Render(strings.TrimRight(hdr.String(), " ")))
	for r := range nrows {
		var b strings.Builder
		b.WriteString(sty.Label.Render(padRight(label(r), lw)))
		for i, k := range lay.grids {
			if i > 0 {
				b.WriteString("  ")
			}
			for head := range heads {
				t := scale(k, value(k, r, head))
				if math.IsNaN(t) {
					b.WriteString(sty.Dim.Render(strings.Repeat("·", lay.cw)))
					continue
				}
				b.WriteString(fg(heatColor(sty, t)).Render(strings.Repeat(heatGlyph(t), lay.cw)))
			}
			b.WriteString(strings.Repeat(" ", gridW(k, lay.cw)-heads*lay.cw))
		}
		lines = append(lines, b.String())
	}
	var note []string
	if g > 1 {
		note = append(note, fmt.Sprintf("%d layers a row", g))
	}
	if heads < H {
		note = append(note, fmt.Sprintf("heads 0–%d of %d", heads-1, H))
	}
	ns := ""
	if len(note) > 0 {
		ns = " · " + strings.Join(note, " · ")
	}
	lines = append(lines, legend(len(lay.grids) == 3, ns))
	return paneBody(lines, w, h)
}

// layerTypes are the layers' attention descriptions from the current (else
// the previous) run's report, or nil when every layer is plain.
func layerTypes(st *state) []stages.LayerAttn {
	rep := ratiosReport(st)
	if rep == nil {
		return nil
	}
	var out []stages.LayerAttn
	plain := true
	for _, l := range rep.Layers {
		out = append(out, l.LayerAttn)
		plain = plain && l.LayerAttn == stages.LayerAttn{}
	}
	if plain {
		return nil
	}
	return out
}

// rowTags names each row's layer type (nil without types): the type of its
// layers, "mixed" when a row groups layers of several types. Short tags
// ("swa48", "norope", "+qk") fit a narrow pane.
func rowTags(types []stages.LayerAttn, L, g, nrows int, short bool) []string {
	if types == nil {
		return nil
	}
	out := make([]string, nrows)
	for r := range out {
		tag := ""
		for l := r * g; l < min(r*g+g, L); l++ {
			t := typeTag(l, types, short)
			switch {
			case l == r*g:
				tag = t
			case t != tag:
				tag = "mixed"
			}
		}
		out[r] = tag
	}
	return out
}

// typeTag is layer l's type as a row label shows it ("?" when the report has
// no figures for it).
func typeTag(l int, types []stages.LayerAttn, short bool) string {
	if l >= len(types) {
		return "?"
	}
	a := types[l]
	if !short {
		return a.Label()
	}
	s := map[string]string{stages.KindFull: "full", stages.KindSliding: fmt.Sprintf("swa%d", a.Window), stages.KindNoRoPE: "norope"}[a.Kind()]
	if a.QKNorm {
		s += "+qk"
	}
	return s
}

func maxRunes(ss []string) int {
	n := 0
	for _, s := range ss {
		n = max(n, len([]rune(s)))
	}
	return n
}

// worstCell names the cell with the highest K + V error (an infinite
// error is the worst; NaN ones are skipped).
func worstCell(cells []stages.HeadFigures, worst int, sty *Styles, w int) string {
	if worst < 0 {
		return sty.Dim.Render("worst: – (no errors measured)")
	}
	c := cells[worst]
	where := sty.Mark.Render(fmt.Sprintf("worst: layer %d head %d", c.Layer, c.Head))
	kept := fmt.Sprintf("kept %d", c.Kept)
	long := strings.Join([]string{where, "K err " + sigNum(c.RelErrK), "V err " + sigNum(c.RelErrV), kept}, " · ")
	if lipgloss.Width(long) <= w {
		return long
	}
	return fitParts(w, " · ", []string{where, "K/V err " + sigNum(c.RelErrK) + "/" + sigNum(c.RelErrV), kept}, []int{0, 1, 2})
}

// heatRamp is the legend's strip of the heat colors, low to high.
func heatRamp(sty *Styles) string {
	var b strings.Builder
	n := max(len(sty.Heat), 2)
	for i := range n {
		t := float64(i) / float64(n-1)
		b.WriteString(lipgloss.NewStyle().Foreground(heatColor(sty, t)).Render(heatGlyph(t)))
	}
	return b.String()
}
