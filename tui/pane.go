package tui

import (
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// pane is one box of the screen. Panes keep no state of their own: they draw
// the shared state at a size, so any layout can place them anywhere and a
// test can render each one alone.
type pane interface {
	// Title is the pane's name in its border and in the tab bar.
	Title() string
	// Render draws the pane's body in exactly w columns and at most h lines
	// (the border is not included).
	Render(st *state, sty *Styles, w, h int) string
}

// box draws body inside a rounded border of exactly w×h cells with one cell
// of padding on each side (the body is w−4 wide, h−2 high), the title in the
// top border. Lines are cut or padded to fit, ANSI-aware.
func box(sty *Styles, title string, w, h int, body string, focused bool) string {
	if w < 5 || h < 2 {
		return ""
	}
	bs := sty.Box
	if focused {
		bs = sty.BoxFocused
	}
	border := bs.GetBorderStyle()
	edge := lipgloss.NewStyle().Foreground(bs.GetBorderTopForeground())
	paint := func(s string) string { return edge.Render(s) }
	inner := w - 2 // border
	t := ""
	if title != "" {
		t = " " + ansi.Truncate(title, max(inner-3, 0), "…") + " "
	}
	fill := max(inner-1-ansi.StringWidth(t), 0)
	top := paint(border.TopLeft+border.Top) + sty.Title.Render(t) + paint(strings.Repeat(border.Top, fill)+border.TopRight)
	lines := fitLines(body, inner-2, h-2)
	var b strings.Builder
	b.WriteString(top)
	for _, l := range lines {
		b.WriteString("\n" + paint(border.Left) + " " + l + " " + paint(border.Right))
	}
	b.WriteString("\n" + paint(border.BottomLeft+strings.Repeat(border.Bottom, inner)+border.BottomRight))
	return b.String()
}

// fitLines cuts body into exactly h lines of exactly w cells.
func fitLines(body string, w, h int) []string {
	src := strings.Split(body, "\n")
	out := make([]string, h)
	for i := range out {
		l := ""
		if i < len(src) {
			l = src[i]
		}
		out[i] = padRight(l, w)
	}
	return out
}

// padRight cuts s to w cells (ANSI-aware, "…" marking a cut) or pads it with
// spaces to w.
func padRight(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) > w {
		s = ansi.Truncate(s, w, "…")
	}
	return s + strings.Repeat(" ", max(w-ansi.StringWidth(s), 0))
}

// block renders a pane in a box of w×h.
func block(p pane, st *state, sty *Styles, w, h int, focused bool) string {
	return box(sty, p.Title(), w, h, p.Render(st, sty, w-4, h-2), focused)
}

// wrap word-wraps s (ANSI-aware) to lines of at most w cells.
func wrap(s string, w int) []string {
	if w < 1 {
		return nil
	}
	return strings.Split(ansi.Wrap(s, w, " "), "\n")
}

// stripStyle removes ANSI styling.
func stripStyle(s string) string { return ansi.Strip(s) }
