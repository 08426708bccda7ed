package tui

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"charm.land/lipgloss/v2"

	"nexusquant/eval"
)

// continuationPane sets the greedy continuation of the full cache ("base")
// beside the compressed cache's ("comp") and marks where the compressed
// text first leaves the baseline's: "┃" and the differing token in the mark
// style. A long text is cut at the start so the difference stays in view.
type continuationPane struct{}

func (continuationPane) Title() string { return "Continuation (greedy)" }

// diffPieces returns the decoded text of each continuation token of d, or
// nil when d does not carry it: then the pane marks the first differing
// character of the two strings instead of the first differing token.
func diffPieces(d *eval.TextDiff) (base, comp []string) {
	return d.BasePieces, d.CompPieces
}

// Style indices of the continuation pane.
const (
	contText = iota
	contDim
	contMark     // comp's first differing token and the ┃ before it
	contBaseMark // base's token at the same place
)

// contLabel is the width of "base  " and "comp  ".
const contLabel = 6

func (continuationPane) Render(st *state, sty *Styles, w, h int) string {
	if st == nil || sty == nil || w <= 0 || h <= 0 {
		return ""
	}
	d := st.cur.diff
	if d == nil {
		msg := "the greedy continuations appear after a run"
		switch {
		case st.phase == phaseRunning:
			msg = "generating the greedy continuation…"
		case st.cur.err != "":
			msg = "no continuation: the run failed"
		}
		return paneBody([]string{sty.Dim.Render(msg)}, w, h)
	}
	base, comp := d.Base, d.Compressed
	if base == "" && comp == "" {
		if len(d.BaseIDs) == 0 && len(d.CompIDs) == 0 {
			return paneBody([]string{sty.Dim.Render("no continuation text")}, w, h)
		}
		base, comp = idsText(d.BaseIDs), idsText(d.CompIDs) // no tokenizer: the ids
	}
	pos, bLen, cLen := diffSpan(d, base, comp)

	total := max(len(d.BaseIDs), len(d.CompIDs))
	var status string
	switch {
	case d.FirstDiff >= 0:
		status = fmt.Sprintf("first difference at token %d", d.FirstDiff+1)
		if total > 0 {
			status += fmt.Sprintf(" of %d", total)
		}
		status = sty.Mark.Render(status)
		if pos < 0 {
			status += sty.Dim.Render(" (the same text)")
		}
	case pos >= 0:
		status = sty.Mark.Render(fmt.Sprintf("the texts differ from character %d", pos+1))
	case total > 0:
		status = sty.Good.Render(fmt.Sprintf("identical for all %d tokens", total))
	default:
		status = sty.Good.Render("identical continuations")
	}
	tw := w - contLabel
	if h == 1 || tw < 8 {
		return paneBody([]string{status}, w, h)
	}

	styles := []lipgloss.Style{sty.Value, sty.Dim, sty.Mark, sty.Good}
	k, twComp, suffix := (h-1)/2, tw, ""
	if h == 2 {
		// no line of its own for the status: after comp's text if it fits
		k = 1
		if sw := 3 + lipgloss.Width(status); tw-sw >= 20 {
			twComp, suffix = tw-sw, "   "+status
		}
	}
	cut := 0
	if pos >= 0 {
		cut = contextCut([]rune(comp), pos, max(k*twComp/3, 8))
	}
	bl := contWindow(contGlyphs(base, cut, pos, bLen, contBaseMark, false), tw, k)
	cl := contWindow(contGlyphs(comp, cut, pos, cLen, contMark, true), twComp, k)

	var lines []string
	add := func(label string, ls [][]glyph, suffix string) {
		for i, l := range ls {
			lead := strings.Repeat(" ", contLabel)
			if i == 0 {
				lead = sty.Label.Render(label)
			}
			lines = append(lines, lead+renderGlyphs(l, styles))
		}
		if suffix != "" && len(lines) > 0 {
			lines[len(lines)-1] += strings.Repeat(" ", max(twComp-glyphsWidth(ls[len(ls)-1]), 0)) + suffix
		}
	}
	add("base  ", bl, "")
	add("comp  ", cl, suffix)
	if h >= 3 {
		lines = append(lines, status)
	}
	return paneBody(lines, w, h)
}

// idsText writes token ids as text.
func idsText(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, " ")
}

// diffSpan locates the first difference in the texts: the rune index where
// it starts (−1 when the texts are the same) and the runes of the marked
// token in base and in comp. With per-token pieces the token is FirstDiff's;
// without, the mark runs from the first differing character to the end of
// its word.
func diffSpan(d *eval.TextDiff, base, comp string) (pos, bLen, cLen int) {
	if bp, cp := diffPieces(d); bp != nil && cp != nil && d.FirstDiff >= 0 &&
		strings.Join(bp, "") == base && strings.Join(cp, "") == comp {
		i := d.FirstDiff
		pos = utf8.RuneCountInString(strings.Join(cp[:min(i, len(cp))], ""))
		if i < len(bp) {
			bLen = utf8.RuneCountInString(bp[i])
		}
		if i < len(cp) {
			cLen = utf8.RuneCountInString(cp[i])
		}
		return pos, bLen, cLen
	}
	br, cr := []rune(base), []rune(comp)
	pos = -1
	for i := 0; i < max(len(br), len(cr)); i++ {
		if i >= len(br) || i >= len(cr) || br[i] != cr[i] {
			pos = i
			break
		}
	}
	if pos < 0 {
		return -1, 0, 0
	}
	word := func(r []rune) int {
		n := 0
		for pos+n < len(r) && (n == 0 || r[pos+n] != ' ') {
			n++
		}
		return n
	}
	return pos, word(br), word(cr)
}

// contextCut is where to start showing a text so that about ctx runes come
// before the difference at pos: at a word start when one is near.
func contextCut(r []rune, pos, ctx int) int {
	if pos <= ctx {
		return 0
	}
	cut := pos - ctx
	for i := cut; i < min(cut+12, pos); i++ {
		if r[i] == ' ' {
			return i + 1
		}
	}
	return cut
}

// contGlyphs is text from rune cut on, after a "…" (the text continues the
// prefix or was cut), its runes [pos, pos+n) in style mark, with a "┃"
// before them when bar.
func contGlyphs(text string, cut, pos, n, mark int, bar bool) []glyph {
	gs := []glyph{{s: "…", w: 1, style: contDim}}
	r := []rune(text)
	for i := cut; i <= len(r); i++ {
		if i == pos && bar {
			gs = append(gs, glyph{s: "┃", w: 1, style: contMark})
		}
		if i == len(r) {
			break
		}
		style := contText
		if i >= pos && i < pos+n {
			style = mark
		}
		gs = printable(gs, string(r[i]), style, false)
	}
	return gs
}

// contWindow wraps glyphs to w cells and keeps k lines: those from the
// start, or ending at the marked line when it lies further; "…" ends the
// last line when text follows.
func contWindow(gs []glyph, w, k int) [][]glyph {
	lines := wrapGlyphs(gs, w)
	if len(lines) == 0 || k < 1 {
		return nil
	}
	start := 0
	for i, l := range lines {
		if i >= k && containsMark(l) {
			start = i - k + 1
		}
		if containsMark(l) {
			break
		}
	}
	end := min(start+k, len(lines))
	out := lines[start:end]
	if end < len(lines) {
		last := append([]glyph(nil), out[len(out)-1]...)
		for len(last) > 0 && glyphsWidth(last)+1 > w {
			last = last[:len(last)-1]
		}
		out[len(out)-1] = append(last, glyph{s: "…", w: 1, style: contDim})
	}
	return out
}

func containsMark(l []glyph) bool {
	for _, g := range l {
		if g.style == contMark || g.style == contBaseMark {
			return true
		}
	}
	return false
}
