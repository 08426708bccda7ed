package tui

import (
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Helpers shared by the quality, tokens, layers, continuation and capacity
// panes: fitting a body, number formats, printable text and a word wrapper
// for text whose every character carries its own style.

// paneBody joins lines into a pane body of at most h lines, each cut or
// padded to exactly w cells; "" when nothing fits.
func paneBody(lines []string, w, h int) string {
	if w <= 0 || h <= 0 || len(lines) == 0 {
		return ""
	}
	if len(lines) > h {
		lines = lines[:h]
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = padRight(l, w)
	}
	return strings.Join(out, "\n")
}

// finite reports whether x is neither NaN nor infinite.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// badNum is how a NaN or infinite figure is written, or "" for a finite one.
func badNum(x float64) string {
	switch {
	case math.IsNaN(x):
		return "–"
	case math.IsInf(x, 1):
		return "∞"
	case math.IsInf(x, -1):
		return "−∞"
	}
	return ""
}

// fixedNum formats x with prec decimals ("–" for NaN, "∞" for infinities).
func fixedNum(x float64, prec int) string {
	if s := badNum(x); s != "" {
		return s
	}
	if math.Abs(x) >= 1e9 {
		return strconv.FormatFloat(x, 'g', 3, 64)
	}
	return strconv.FormatFloat(x, 'f', prec, 64)
}

// sigNum formats a non-negative figure such as a KLD or a relative error
// with about two significant digits and at least two decimals: 0.0031,
// 0.73, 2.50.
func sigNum(x float64) string {
	if s := badNum(x); s != "" {
		return s
	}
	if x == 0 {
		return "0"
	}
	if a := math.Abs(x); a >= 1e9 || a < 1e-6 {
		return strconv.FormatFloat(x, 'g', 2, 64)
	}
	d := 1 - int(math.Floor(math.Log10(math.Abs(x))))
	return strconv.FormatFloat(x, 'f', min(max(d, 2), 6), 64)
}

// pctNum formats a signed percentage: two decimals under 10, one under
// 100, none above ("+0.26", "−3.10", "+54.8"); short drops one more
// decimal (for interval ends).
func pctNum(x float64, short bool) string {
	if s := badNum(x); s != "" {
		return s
	}
	a := math.Abs(x)
	if a >= 1e9 {
		return strconv.FormatFloat(x, 'g', 3, 64)
	}
	prec := 0
	switch {
	case a < 10:
		prec = 2
	case a < 100 && !short:
		prec = 1
	}
	s := strconv.FormatFloat(x, 'f', prec, 64)
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-") // no "-0.00"
	}
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s
}

// timesNum formats a ratio as "17.4×" ("–" when unusable).
func timesNum(r float64) string {
	switch {
	case math.IsNaN(r) || r <= 0:
		return "–"
	case math.IsInf(r, 1):
		return "∞"
	case r >= 1e9 || r < 0.1:
		return strconv.FormatFloat(r, 'g', 2, 64) + "×"
	case r >= 100:
		return fmt.Sprintf("%.0f×", r)
	}
	return fmt.Sprintf("%.1f×", r)
}

// heatColor picks the color of t ∈ [0, 1] on the heat scale (NaN: the
// middle).
func heatColor(sty *Styles, t float64) color.Color {
	n := len(sty.Heat)
	if n == 0 {
		return sty.Accent
	}
	if math.IsNaN(t) {
		t = 0.5
	}
	i := int(math.Round(math.Min(math.Max(t, 0), 1) * float64(n-1)))
	return sty.Heat[i]
}

// heatGlyph is a block whose density grows with t ∈ [0, 1], so the heat
// map reads without colors too.
func heatGlyph(t float64) string {
	switch {
	case math.IsNaN(t):
		return "·"
	case t < 0.25:
		return "░"
	case t < 0.5:
		return "▒"
	case t < 0.75:
		return "▓"
	}
	return "█"
}

// fg is a style with foreground c.
func fg(c color.Color) lipgloss.Style { return lipgloss.NewStyle().Foreground(c) }

// glyph is one printable character of a text and the style it is drawn in
// (an index into the caller's style table).
type glyph struct {
	s     string
	w     int
	style int
	brk   bool // a hard line break after this glyph
}

// printable appends the glyphs of s to dst: control characters as their
// Unicode pictures (tab ⇥, newline ⏎ — with a line break after it when
// breakLines), invalid UTF-8 as �.
func printable(dst []glyph, s string, style int, breakLines bool) []glyph {
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		s = s[n:]
		g := glyph{style: style}
		switch {
		case r == utf8.RuneError && n <= 1:
			g.s = "�"
		case r == '\n':
			g.s, g.brk = "⏎", breakLines
		case r == '\t':
			g.s = "⇥"
		case r < 0x20:
			g.s = string(rune(0x2400 + r)) // ␀ … ␟
		case r == 0x7f:
			g.s = "␡"
		case r >= 0x80 && r < 0xa0:
			g.s = "�"
		default:
			g.s = string(r)
		}
		g.w = ansi.StringWidth(g.s)
		dst = append(dst, g)
	}
	return dst
}

// wrapGlyphs word-wraps glyphs into lines of at most w cells: lines break
// at spaces where they can, a word longer than a line is cut, spaces where
// a line wraps are dropped, and hard breaks always end a line.
func wrapGlyphs(gs []glyph, w int) [][]glyph {
	if w < 1 {
		return nil
	}
	var lines [][]glyph
	var line []glyph
	lw := 0
	flush := func() {
		lines = append(lines, line)
		line, lw = nil, 0
	}
	for i := 0; i < len(gs); {
		// the next unit: a run of spaces or a run of other glyphs,
		// ending early at a hard break
		j := i + 1
		space := gs[i].s == " "
		for j < len(gs) && !gs[j-1].brk && (gs[j].s == " ") == space {
			j++
		}
		unit := gs[i:j]
		uw := 0
		for _, g := range unit {
			uw += g.w
		}
		switch {
		case lw+uw <= w:
			line = append(line, unit...)
			lw += uw
		case space:
			if lw > 0 {
				flush() // the spaces at a wrap are dropped
			}
		default:
			if lw > 0 && uw <= w {
				for len(line) > 0 && line[len(line)-1].s == " " {
					line = line[:len(line)-1] // no trailing spaces where a line wraps
				}
				flush()
			}
			for _, g := range unit {
				if lw+g.w > w && lw > 0 {
					flush()
				}
				line = append(line, g)
				lw += g.w
			}
		}
		if unit[len(unit)-1].brk {
			flush()
		}
		i = j
	}
	if len(line) > 0 {
		lines = append(lines, line)
	}
	return lines
}

// renderGlyphs draws a line of glyphs, each run of one style rendered once.
func renderGlyphs(line []glyph, styles []lipgloss.Style) string {
	var b strings.Builder
	for i := 0; i < len(line); {
		j := i
		var run strings.Builder
		for j < len(line) && line[j].style == line[i].style {
			run.WriteString(line[j].s)
			j++
		}
		b.WriteString(styles[line[i].style].Render(run.String()))
		i = j
	}
	return b.String()
}

// glyphsWidth is the cells a line of glyphs takes.
func glyphsWidth(line []glyph) int {
	n := 0
	for _, g := range line {
		n += g.w
	}
	return n
}

// flowParts joins parts with sep, starting a new line where the next part
// would make a line wider than w (a part wider than w stays whole, for
// the caller to cut). Empty parts are skipped.
func flowParts(w int, sep string, parts []string) []string {
	var lines []string
	cur := ""
	for _, p := range parts {
		switch {
		case p == "":
		case cur == "":
			cur = p
		case ansi.StringWidth(cur+sep+p) <= w:
			cur += sep + p
		default:
			lines = append(lines, cur)
			cur = p
		}
	}
	if cur != "" || len(lines) == 0 {
		lines = append(lines, cur)
	}
	return lines
}

// fitParts joins parts with sep, dropping the parts of lowest priority
// (highest prio value) until the line fits w cells.
func fitParts(w int, sep string, parts []string, prio []int) string {
	keep := make([]bool, len(parts))
	for i := range keep {
		keep[i] = parts[i] != ""
	}
	join := func() string {
		var out []string
		for i, p := range parts {
			if keep[i] {
				out = append(out, p)
			}
		}
		return strings.Join(out, sep)
	}
	for {
		s := join()
		if ansi.StringWidth(s) <= w {
			return s
		}
		worst := -1
		for i := range parts {
			if keep[i] && (worst < 0 || prio[i] > prio[worst]) {
				worst = i
			}
		}
		n := 0
		for _, k := range keep {
			if k {
				n++
			}
		}
		if n <= 1 {
			return s // the caller's padRight cuts it
		}
		keep[worst] = false
	}
}
