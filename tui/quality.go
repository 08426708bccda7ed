package tui

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/guptarohit/asciigraph"
)

// qualityPane answers "what did it cost": ΔPPL with its interval, KLD and
// top-1 agreement in one line (running figures while the continuation is
// scored), and under it every run of the session as a point of ΔPPL (or KLD,
// st.chartKLD) against ratio_total, the Pareto front drawn and the current
// run marked.
type qualityPane struct{}

func (qualityPane) Title() string { return "Quality" }

func (qualityPane) Render(st *state, sty *Styles, w, h int) string {
	if st == nil || sty == nil || w <= 0 || h <= 0 {
		return ""
	}
	// the figures take two lines when one is too narrow and the height
	// leaves the chart its five
	nfig := 1
	if h < 6 || h >= 7 {
		nfig = min(h, 2)
	}
	lines := qualityFigures(st, sty, w, nfig)
	if h-len(lines) >= 5 {
		lines = append(lines, qualityChart(st, sty, w, h-len(lines))...)
	}
	return paneBody(lines, w, h)
}

// deltaStyle colors a ΔPPL %: under 1% good, under 5% a warning, else bad.
func deltaStyle(sty *Styles, d float64) lipgloss.Style {
	switch {
	case math.IsNaN(d):
		return sty.Dim
	case d < 1:
		return sty.Good
	case d < 5:
		return sty.Warn
	}
	return sty.Bad
}

// qualityFigures is the pane's first line — or first lines, at most n:
// the final metrics, the running ones, or what the explorer is doing. When
// the figures do not fit, the least telling go first: top-1, KLD, the
// interval.
func qualityFigures(st *state, sty *Styles, w, n int) []string {
	sep := "   "
	if w < 70 {
		sep = "  "
	}
	c := &st.cur
	switch {
	case c.result != nil:
		m := c.result.Metrics
		ppl := "PPL " + fixedNum(m.PPLBase, 2) + " → " + fixedNum(m.PPL, 2)
		d := deltaStyle(sty, m.DeltaPPLPct).Render("ΔPPL " + pctNum(m.DeltaPPLPct, false) + "%")
		dci := d
		if ci := m.DeltaPPLCI; finite(ci[0]) && finite(ci[1]) && (ci[0] != 0 || ci[1] != 0) {
			dci += sty.Dim.Render(" [" + pctNum(ci[0], true) + ", " + pctNum(ci[1], true) + "]")
		}
		kld := "KLD " + sigNum(m.KLD)
		top1 := "top-1 " + fixedNum(100*m.Top1Agree, 1) + "%"
		return flowFirst(w, n, sep,
			[]string{ppl, dci, kld, top1},
			[]string{ppl, dci, kld},
			[]string{ppl, dci},
			[]string{ppl, d, kld},
			[]string{ppl, d},
			[]string{d})
	case c.contTot > 0:
		prog := sty.Dim.Render(fmt.Sprintf("%d/%d tokens", c.contDone, c.contTot))
		if c.contDone <= 0 {
			return flowFirst(w, n, sep, []string{sty.Dim.Render("scoring the continuation…"), prog}, []string{prog})
		}
		dp := 100 * math.Expm1(c.nll-c.baseNLL)
		ppl := "PPL " + fixedNum(math.Exp(c.baseNLL), 2) + " → " + fixedNum(math.Exp(c.nll), 2)
		d := deltaStyle(sty, dp).Render("ΔPPL " + pctNum(dp, false) + "%")
		return flowFirst(w, n, sep, []string{ppl, d, prog}, []string{d, prog}, []string{d})
	case c.err != "":
		msg, _, _ := strings.Cut(c.err, "\n")
		return []string{sty.Bad.Render("run failed: " + msg)}
	case st.phase == phaseRunning:
		return []string{sty.Dim.Render("compressing… the figures stream in with the continuation")}
	case st.phase == phaseLoading:
		return []string{sty.Dim.Render("loading the model… waiting for the first run")}
	}
	return []string{sty.Dim.Render("waiting for the first run…")}
}

// flowFirst lays out the first candidate list of parts that fits in n lines
// of w cells (flowParts); the last candidate, cut, when none fits.
func flowFirst(w, n int, sep string, candidates ...[]string) []string {
	for _, parts := range candidates {
		lines := flowParts(w, sep, parts)
		fits := len(lines) <= n
		for _, l := range lines {
			fits = fits && ansi.StringWidth(l) <= w
		}
		if fits {
			return lines
		}
	}
	last := candidates[len(candidates)-1]
	return []string{strings.Join(last, sep)}
}

// paretoFront returns the runs no other run dominates (one with a ratio at
// least as high and a ΔPPL — or KLD when kld — at most as high, one of them
// strictly), sorted by ratio. Of identical points one is kept; runs with a
// NaN, infinite or non-positive figure are left out.
func paretoFront(points []runPoint, kld bool) []runPoint {
	ps := validRuns(points, kld)
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].ratioTotal != ps[j].ratioTotal {
			return ps[i].ratioTotal > ps[j].ratioTotal
		}
		return runY(ps[i], kld) < runY(ps[j], kld)
	})
	var front []runPoint
	best := math.Inf(1)
	for _, p := range ps {
		if y := runY(p, kld); y < best {
			front = append(front, p)
			best = y
		}
	}
	slices.Reverse(front)
	return front
}

// runY is the charted figure of a run.
func runY(p runPoint, kld bool) float64 {
	if kld {
		return p.kld
	}
	return p.deltaPPL
}

// validRuns are the runs that can be charted.
func validRuns(points []runPoint, kld bool) []runPoint {
	var ps []runPoint
	for _, p := range points {
		if finite(p.ratioTotal) && p.ratioTotal > 0 && finite(runY(p, kld)) {
			ps = append(ps, p)
		}
	}
	return ps
}

// Cell kinds of the chart grid.
const (
	chartBlank = iota
	chartAxis
	chartZero
	chartFront
	chartPoint
	chartFrontPoint
	chartCurrent
	chartNote
	chartCompare
)

// yScale replicates asciigraph's mapping of a value to a plot row, so
// markers land on the rows its labels name.
type yScale struct {
	ratio float64
	min2  int
	rows  int
}

func newYScale(lo, hi float64, height int) yScale {
	r := float64(height) / (hi - lo)
	mn, mx := int(math.Round(lo*r)), int(math.Round(hi*r))
	return yScale{ratio: r, min2: mn, rows: max(mx-mn, mn-mx)}
}

// row is the plot line (0 at the top) of value y.
func (s yScale) row(y float64) int {
	return min(max(s.rows-(int(math.Round(y*s.ratio))-s.min2), 0), s.rows)
}

// qualityChart draws the runs in h lines (h ≥ 5): the plot, the ratio
// ticks and a caption.
//
// asciigraph plots series against their index and joins consecutive values
// with line segments: it cannot draw a scatter (an isolated value becomes a
// "╶╴" pair). So the chart is asciigraph's y axis, labels and the Pareto
// front — a series of one value per column, resampled by linear
// interpolation between the front's points on an x axis binned from the
// lowest to the highest ratio_total — with the runs laid over the plotted
// grid by hand (○ a run, ● the current one) on the rows asciigraph's own
// scale gives them. The ratio ticks and the caption are drawn here too, as
// asciigraph's x axis puts ticks at evenly spaced, not round, values.
func qualityChart(st *state, sty *Styles, w, h int) []string {
	kld := st.chartKLD
	yname, other := "ΔPPL %", "KLD"
	if kld {
		yname, other = "KLD", "ΔPPL"
	}
	pts := validRuns(st.runs, kld)
	compare := validRuns(st.sess.comparePoints(), kld) // marked saved runs, drawn as ◆
	if len(pts)+len(compare) < 2 {
		return []string{sty.Dim.Render(fmt.Sprintf("the %s chart appears after two runs (%d so far)", yname, len(pts)))}
	}
	cur := len(pts) - 1 // -1: no run of this session yet
	for i, p := range pts {
		if p.job == st.job {
			cur = i
		}
	}

	ylo, yhi := 0.0, 0.0 // zero is always on the chart
	xlo, xhi := math.Inf(1), math.Inf(-1)
	for _, p := range append(slices.Clone(pts), compare...) {
		y := runY(p, kld)
		ylo, yhi = min(ylo, y), max(yhi, y)
		xlo, xhi = min(xlo, p.ratioTotal), max(xhi, p.ratioTotal)
	}
	if yhi-ylo < 1e-12 {
		yhi = ylo + 1
	}
	if xhi-xlo < 1e-9*xhi {
		pad := max(0.1*xlo, 0.1)
		xlo, xhi = xlo-pad, xhi+pad
	}

	plotRows := h - 2
	height := plotRows - 1
	for height >= 1 && newYScale(ylo, yhi, height).rows+1 > plotRows {
		height--
	}
	if height < 1 {
		return []string{sty.Dim.Render("too short for the chart")}
	}
	ys := newYScale(ylo, yhi, height)
	ystep := (yhi - ylo) / float64(max(ys.rows, 1))
	ydec := 0
	if ystep < 1 {
		ydec = min(int(math.Ceil(-math.Log10(ystep))), 4)
	}
	opts := []asciigraph.Option{
		asciigraph.Height(height),
		asciigraph.LowerBound(ylo),
		asciigraph.UpperBound(yhi),
		asciigraph.YAxisValueFormatter(func(v float64) string {
			switch {
			case math.Abs(v) < ystep/2:
				v = 0
			case math.Abs(v) >= 1e6:
				return strconv.FormatFloat(v, 'g', 3, 64)
			}
			return strconv.FormatFloat(v, 'f', ydec, 64)
		}),
		// no caps where the front starts and ends: its points are drawn over it
		asciigraph.SeriesChars(asciigraph.CharSet{StartCap: " ", EndCap: " "}),
	}
	probe := asciigraph.PlotMany([][]float64{{math.NaN()}}, opts...)
	first, _, _ := strings.Cut(probe, "\n")
	left := 0
	for i, r := range []rune(first) {
		if r == '┤' || r == '┼' {
			left = i + 1
			break
		}
	}
	W := w - left - 1
	if left == 0 || W < 8 {
		return []string{sty.Dim.Render("too narrow for the chart")}
	}
	col := func(x float64) int {
		return min(max(int(math.Round((x-xlo)/(xhi-xlo)*float64(W-1))), 0), W-1)
	}

	front := paretoFront(pts, kld)
	series := make([]float64, W)
	for i := range series {
		series[i] = math.NaN()
	}
	for i := 0; i+1 < len(front); i++ {
		c0, c1 := col(front[i].ratioTotal), col(front[i+1].ratioTotal)
		y0, y1 := runY(front[i], kld), runY(front[i+1], kld)
		for c := c0; c <= c1; c++ {
			t := 0.0
			if c1 > c0 {
				t = float64(c-c0) / float64(c1-c0)
			}
			series[c] = y0 + t*(y1-y0)
		}
	}
	plot := asciigraph.PlotMany([][]float64{series}, opts...)

	raw := strings.Split(plot, "\n")
	if len(raw) > plotRows {
		raw = raw[:plotRows]
	}
	width := left + W
	grid := make([][]rune, len(raw))
	kind := make([][]int, len(raw))
	for i, l := range raw {
		rs := []rune(l)
		grid[i] = make([]rune, width)
		kind[i] = make([]int, width)
		for c := range width {
			grid[i][c] = ' '
			if c < len(rs) {
				grid[i][c] = rs[c]
			}
			switch {
			case c < left:
				kind[i][c] = chartAxis
			case grid[i][c] != ' ':
				kind[i][c] = chartFront
			}
		}
	}
	put := func(r, c int, ch rune, k int) {
		if r >= 0 && r < len(grid) && c >= 0 && c < width {
			grid[r][c], kind[r][c] = ch, k
		}
	}
	if r := ys.row(0); r < len(grid) {
		for c := left; c < width; c++ {
			if grid[r][c] == ' ' {
				put(r, c, '┈', chartZero)
			}
		}
	}
	onFront := func(p runPoint) bool {
		return slices.ContainsFunc(front, func(q runPoint) bool {
			return q.job == p.job && q.ratioTotal == p.ratioTotal && runY(q, kld) == runY(p, kld)
		})
	}
	for i, p := range pts {
		if i == cur {
			continue
		}
		k := chartPoint
		if len(front) >= 2 && onFront(p) {
			k = chartFrontPoint
		}
		put(ys.row(runY(p, kld)), left+col(p.ratioTotal), '○', k)
	}
	for _, p := range compare {
		put(ys.row(runY(p, kld)), left+col(p.ratioTotal), '◆', chartCompare)
	}
	cr, cc := 0, width // no current run: nothing to mark
	if cur >= 0 {
		cr, cc = ys.row(runY(pts[cur], kld)), left+col(pts[cur].ratioTotal)
		put(cr, cc, '●', chartCurrent)
	}
	if note := []rune(" this run"); cur >= 0 && cc+len(note) < width && cr < len(grid) {
		free := true
		for j := range note {
			if k := kind[cr][cc+1+j]; k != chartBlank && k != chartZero {
				free = false
			}
		}
		if free {
			for j, r := range note {
				put(cr, cc+1+j, r, chartNote)
			}
		}
	}

	styles := map[int]lipgloss.Style{
		chartBlank: lipgloss.NewStyle(), chartAxis: sty.Dim, chartZero: sty.Dim, chartFront: sty.Bar,
		chartPoint: sty.Value, chartFrontPoint: sty.Bar, chartCurrent: sty.Mark, chartNote: sty.Dim, chartCompare: sty.Warn,
	}
	var lines []string
	for i := range grid {
		var b strings.Builder
		for c := 0; c < width; {
			j := c
			for j < width && kind[i][j] == kind[i][c] {
				j++
			}
			seg := string(grid[i][c:j])
			if kind[i][c] == chartBlank {
				b.WriteString(seg)
			} else {
				b.WriteString(styles[kind[i][c]].Render(seg))
			}
			c = j
		}
		lines = append(lines, strings.TrimRight(b.String(), " "))
	}

	lines = append(lines, sty.Dim.Render(ratioTicks(xlo, xhi, left, W, col)))

	caption := sty.Dim.Render(yname + " vs ratio_total (c: " + other + ")")
	legend := ""
	if len(pts) > 0 {
		legend = sty.Mark.Render("●") + sty.Dim.Render(" this run  ") + sty.Value.Render("○") + sty.Dim.Render(" runs")
	}
	if len(front) >= 2 {
		legend += "  " + sty.Bar.Render("─") + sty.Dim.Render(" Pareto front")
	}
	if len(compare) > 0 {
		legend = strings.TrimPrefix(legend+"  "+sty.Warn.Render("◆")+sty.Dim.Render(" saved"), "  ")
	}
	capLine := fitParts(w, "   ", []string{caption, legend}, []int{0, 1})
	indent := min(left, max(w-ansi.StringWidth(capLine), 0))
	lines = append(lines, strings.Repeat(" ", indent)+capLine)
	return lines
}

// ratioTicks is the line under the plot: round ratio_total values ("2×",
// "2.5×") at their columns, as many as fit apart.
func ratioTicks(xlo, xhi float64, left, W int, col func(float64) int) string {
	step := niceStep((xhi - xlo) / max(1, float64(W)/8))
	dec := max(0, int(-math.Floor(math.Log10(step))))
	line := []rune(strings.Repeat(" ", left+W))
	lastEnd := -1
	k0, k1 := math.Ceil(xlo/step), math.Floor(xhi/step)
	for k := k0; k <= k1 && k-k0 < 200; k++ {
		v := strconv.FormatFloat(k*step, 'f', dec, 64)
		if k*step >= 1e6 {
			v = strconv.FormatFloat(k*step, 'g', 3, 64)
		}
		lbl := []rune(v + "×")
		start := min(left+col(k*step), left+W-len(lbl))
		if start <= lastEnd || start < 0 {
			continue
		}
		copy(line[start:], lbl)
		lastEnd = start + len(lbl)
	}
	return strings.TrimRight(string(line), " ")
}

// niceStep rounds raw up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if !finite(raw) || raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5} {
		if raw <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}
