package tui

import (
	"fmt"
	"math"

	"charm.land/lipgloss/v2"
)

// tokensPane shows window 0's prefix as text, each token drawn by whether
// the compressed cache kept it: kept tokens plain, evicted ones dim, and —
// when eviction is per layer or head — a grey shade by the share of
// (layer, KV head) lists that keep it. Newlines are drawn as ⏎ and break
// the line. When the text is taller than the pane its end is shown: the
// continuation starts there.
type tokensPane struct{}

func (tokensPane) Title() string { return "Tokens" }

// Style indices of the tokens pane; shades follow.
const (
	tokKept = iota
	tokEvicted
	tokUnknown
	tokShade0
)

// tokenShades is the number of grey shades of fractional keep shares.
const tokenShades = 4

func (tokensPane) Render(st *state, sty *Styles, w, h int) string {
	if st == nil || sty == nil || w <= 0 || h <= 0 {
		return ""
	}
	n := len(st.pieces)
	if n == 0 {
		msg := "waiting for the first run…"
		if st.phase == phaseLoading {
			msg = "waiting for the prefix: loading the model…"
		}
		return paneBody([]string{sty.Dim.Render(msg)}, w, h)
	}
	share := st.cur.keepShare
	known := len(share) == n

	styles := []lipgloss.Style{sty.Kept, sty.Evicted, sty.Value}
	shades := lipgloss.Blend1D(tokenShades+2, sty.Subtle, sty.Kept.GetForeground())
	for i := range tokenShades {
		if i+1 < len(shades) {
			styles = append(styles, fg(shades[i+1]))
		} else {
			styles = append(styles, sty.Kept)
		}
	}
	styleOf := func(t int) int {
		if !known {
			return tokUnknown
		}
		s := share[t]
		switch {
		case math.IsNaN(s):
			return tokUnknown
		case s >= 1-1e-9:
			return tokKept
		case s <= 1e-9:
			return tokEvicted
		}
		return tokShade0 + min(int(s*tokenShades), tokenShades-1)
	}

	var head []string
	head = append(head, tokenSummary(st, sty, known, w))
	if known && hasFractional(share) {
		leg := sty.Dim.Render("shade: share of heads keeping it  0% ")
		for i := range tokenShades {
			leg += styles[tokShade0+i].Render("██")
		}
		head = append(head, leg+sty.Dim.Render(" 100%"))
	}

	var gs []glyph
	for t, p := range st.pieces {
		gs = printable(gs, p, styleOf(t), true)
	}
	text := wrapGlyphs(gs, w)
	room := h - len(head)
	if room <= 0 {
		return paneBody(head, w, h)
	}
	var lines []string
	if len(text) > room {
		hidden := len(text) - room
		if room >= 2 {
			hidden++
			lines = append(lines, sty.Dim.Render(fmt.Sprintf("… %d earlier lines", hidden)))
		}
		text = text[hidden:]
	}
	for _, l := range text {
		lines = append(lines, renderGlyphs(l, styles))
	}
	return paneBody(append(head, lines...), w, h)
}

// hasFractional reports whether a keep share is neither 0 nor 1.
func hasFractional(share []float64) bool {
	for _, s := range share {
		if s > 1e-9 && s < 1-1e-9 {
			return true
		}
	}
	return false
}

// tokenSummary is the pane's first line: how much of the prefix was kept.
func tokenSummary(st *state, sty *Styles, known bool, w int) string {
	n := len(st.pieces)
	if !known {
		what := "eviction shown after the next run"
		if st.phase == phaseRunning {
			what = "evicting…"
		}
		return sty.Dim.Render(fmt.Sprintf("%d prefix tokens · %s", n, what))
	}
	var kept, none int
	var sum float64
	for _, s := range st.cur.keepShare {
		if math.IsNaN(s) {
			continue
		}
		sum += s
		switch {
		case s >= 1-1e-9:
			kept++
		case s <= 1e-9:
			none++
		}
	}
	if !hasFractional(st.cur.keepShare) {
		return fitParts(w, " · ", []string{
			fmt.Sprintf("kept %d of %d tokens (%.0f%%)", kept, n, 100*float64(kept)/float64(n)),
			sty.Dim.Render("evicted shown dim"),
		}, []int{0, 1})
	}
	return fitParts(w, " · ", []string{
		fmt.Sprintf("kept %.0f%% of token×head slots", 100*sum/float64(n)),
		fmt.Sprintf("%s in every head, %d in none", plural(kept, "token"), none),
		sty.Dim.Render("evicted dim"),
	}, []int{0, 1, 2})
}

// plural writes n and the noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
