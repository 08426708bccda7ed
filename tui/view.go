package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"nexusquant/internal/units"
)

// MinWidth and MinHeight are the smallest terminal the explorer draws in.
const (
	MinWidth  = 80
	MinHeight = 24
)

// view is one tab: a name and how it lays out the body.
type view struct {
	name string
	draw func(m *Model, w, h int) string
}

// tabs are the views. The first shows as much as fits; panes that do not fit
// at 80×24 have their own tab.
func (m *Model) tabs() []view {
	return []view{
		{"Explore", (*Model).explore},
		{"Quality", single(qualityPane{})},
		{"Tokens", single(tokensPane{})},
		{"Layers", single(layersPane{})},
		{"Continuation", single(continuationPane{})},
		{"Capacity", single(capacityPane{})},
		{"Sessions", single(sessionsPane{})},
	}
}

func single(p pane) func(m *Model, w, h int) string {
	return func(m *Model, w, h int) string { return block(p, &m.st, m.sty, w, h, false) }
}

// settingsWidth is the settings column's width.
func settingsWidth(w int) int {
	if w >= 120 {
		return 34
	}
	return 32
}

// explore lays out the main view: settings on the left; memory, quality and
// the continuation on the right; at 120×40 and up also the quality chart
// and the capacity pane.
func (m *Model) explore(w, h int) string {
	lw := settingsWidth(w)
	rw := w - lw
	rows := len(m.st.rows())
	left := block(settingsPane{}, &m.st, m.sty, lw, min(h, rows+4), true)
	if big := h >= 36 && w >= 120; big {
		setH := min(h, rows+6)
		left = block(settingsPane{}, &m.st, m.sty, lw, setH, true)
		if h-setH >= 6 {
			left += "\n" + block(capacityPane{}, &m.st, m.sty, lw, h-setH, false)
		}
		memH := 11 + m.kindRows(rw)
		qualH := min(16, h-memH-6)
		right := block(memoryPane{}, &m.st, m.sty, rw, memH, false) + "\n" +
			block(qualityPane{}, &m.st, m.sty, rw, qualH, false) + "\n" +
			block(continuationPane{}, &m.st, m.sty, rw, h-memH-qualH, false)
		return lipgloss.JoinHorizontal(lipgloss.Top, left, right)
	}
	memH := 10 + m.kindRows(rw)
	qualH := 4
	contH := h - memH - qualH
	right := block(memoryPane{}, &m.st, m.sty, rw, memH, false) + "\n" + block(qualityPane{}, &m.st, m.sty, rw, qualH, false)
	if contH >= 3 {
		right += "\n" + block(continuationPane{}, &m.st, m.sty, rw, contH, false)
	}
	return lipgloss.JoinHorizontal(lipgloss.Top, left, right)
}

// kindRows is how many lines the memory pane of width w adds for the bytes
// per layer type (0 for a model of one type).
func (m *Model) kindRows(w int) int {
	return len(kindLines(ratiosReport(&m.st), m.sty, w-4))
}

// View draws the whole screen.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "nexusquant"
	return v
}

// render draws the screen as text (View wraps it; tests read it).
func (m *Model) render() string {
	w, h := m.width, m.height
	if w == 0 && h == 0 {
		return "" // before the first WindowSizeMsg
	}
	if w < MinWidth || h < MinHeight {
		msg := fmt.Sprintf("The terminal is %d×%d; nexusquant needs at least %d×%d.\nEnlarge the window, or press q to quit.", w, h, MinWidth, MinHeight)
		return lipgloss.Place(w, h, lipgloss.Center, lipgloss.Center, ansi.Wrap(msg, max(w-2, 10), " "))
	}
	status := m.statusLines(w)
	bodyH := h - 2 - len(status)
	var body string
	switch {
	case m.picker.open:
		body = m.pickerView(w, bodyH)
	case m.st.help:
		body = m.helpView(w, bodyH)
	case m.st.phase == phaseFailed:
		body = box(m.sty, "Could not open the model or its text", w, bodyH, m.sty.StatusErr.Render(ansi.Wrap(m.st.loadErr, w-4, " "))+
			"\n\n"+m.sty.Dim.Render("Check the model path (a GGUF file of a supported architecture; nexusquant models lists what it finds) and the text: it must be non-empty, and prefix + continuation must fit the context. Press q to quit."), false)
	default:
		body = m.tabs()[m.st.tab%len(m.tabs())].draw(m, w, bodyH)
	}
	lines := []string{m.header(w), m.tabBar(w)}
	lines = append(lines, fitLines(body, w, bodyH)...)
	lines = append(lines, status...)
	return strings.Join(lines, "\n")
}

// header is the first line: the model, where it runs and the text.
func (m *Model) header(w int) string {
	in := m.st.info
	right := m.sty.HeaderDim.Render("? help ")
	room := w - ansi.StringWidth(right)
	// From the fullest line down: without the device, with "cont" for
	// "continuation", without the context, without the architecture.
	var left string
	for level := range 5 {
		parts := []string{m.sty.Header.Render("nexusquant")}
		if in.Name != "" {
			parts = append(parts, in.Name)
			if level < 4 {
				parts = append(parts, fmt.Sprintf("%s %s %s", in.Arch, units.Count(in.Params), in.WeightType))
			}
			if level < 3 {
				parts = append(parts, fmt.Sprintf("ctx %d", in.Ctx))
			}
		}
		if in.Source != "" {
			parts = append(parts, in.Source)
		}
		if in.Prefix > 0 {
			t := fmt.Sprintf("prefix %d · continuation %d", in.Prefix, in.Continuation)
			if level >= 2 {
				t = fmt.Sprintf("prefix %d · cont %d", in.Prefix, in.Continuation)
			}
			if in.Windows > 1 {
				t += fmt.Sprintf(" · %d windows", in.Windows)
			}
			parts = append(parts, t)
		}
		if in.Device != "" && level == 0 {
			parts = append(parts, in.Device)
		}
		left = " " + strings.Join(parts, m.sty.HeaderDim.Render(" · "))
		if ansi.StringWidth(left) <= room {
			break
		}
	}
	return padRight(left, room) + right
}

// tabBar names the views, the active one highlighted.
func (m *Model) tabBar(w int) string {
	var parts []string
	for i, t := range m.tabs() {
		st := m.sty.Tab
		if i == m.st.tab {
			st = m.sty.TabActive
		}
		parts = append(parts, st.Render(t.name))
	}
	bar := " " + strings.Join(parts, m.sty.Dim.Render("│"))
	if hint := m.sty.Dim.Render("  [ ] views"); ansi.StringWidth(bar+hint) <= w {
		bar += hint
	}
	return padRight(bar, w)
}

var spinner = []string{"⣾", "⣽", "⣻", "⢿", "⡿", "⣟", "⣯", "⣷"}

// statusLines are the last lines of the screen: a notice (saved, exported,
// an error) over the full width, up to three lines so written paths show
// whole, or else the status line.
func (m *Model) statusLines(w int) []string {
	st := &m.st
	if m.prompt.open {
		m.prompt.input.SetWidth(min(max(len(m.prompt.input.Value())+2, 24), 64))
		hint := m.sty.Dim.Render("   enter save · esc cancel")
		if st.status != "" {
			hint = "   " + m.sty.StatusErr.Render(st.status)
		}
		return []string{padRight(" "+m.prompt.input.View()+hint, w)}
	}
	if st.status != "" && st.phase != phaseLoading && st.phase != phaseFailed {
		s := m.sty.Status
		if st.statusErr {
			s = m.sty.StatusErr
		}
		lines := wrap(st.status, w-2)
		if len(lines) > 3 {
			lines = lines[:3]
		}
		for i, l := range lines {
			lines[i] = padRight(" "+s.Render(l), w)
		}
		return lines
	}
	return []string{m.statusLine(w)}
}

// statusLine says what is running or how the last run went, and the key
// reminder.
func (m *Model) statusLine(w int) string {
	st := &m.st
	left := ""
	sp := spinner[st.spin%len(spinner)] + " "
	switch {
	case m.picker.open:
		left = "choose a model"
	case st.phase == phaseLoading:
		p := st.prefill
		left = sp + "loading the model"
		if p.Phase != "" && p.Phase != "load" {
			left = sp + fmt.Sprintf("%s · layer %d/%d · %s", p.Phase, p.Done, p.Total, fmtDur(time.Duration(p.ElapsedMillis*float64(time.Millisecond))))
			if p.Windows != 1 { // several windows, or not known yet
				left += fmt.Sprintf(" · window %d", p.Window+1)
				if p.Windows > 1 {
					left += fmt.Sprintf("/%d", p.Windows)
				}
			}
		}
	case st.phase == phaseFailed:
		left = m.sty.StatusErr.Render("could not open the model (q quits)")
	case st.phase == phaseRunning:
		left = sp + runActivity(&st.cur)
	case st.cur.result != nil:
		t := st.cur.result.Timing
		left = fmt.Sprintf("✓ %s · pipeline %s · cont %s", describeRun(st.cur.settings), fmtDur(t.Pipeline), fmtDur(t.Continuation))
		if w >= 110 {
			left = fmt.Sprintf("✓ %s · pipeline %s · continuation %s", describeRun(st.cur.settings), fmtDur(t.Pipeline), fmtDur(t.Continuation))
		}
		if st.cur.saved {
			left += " · saved"
		}
	}
	right := m.sty.HelpDesc.Render("←→ change · 1-4 presets · ? help")
	if w >= 110 {
		right = m.sty.HelpDesc.Render("tab next · ←→ change · 1-4 presets · s save · e export · ? help")
	}
	room := w - ansi.StringWidth(right) - 1
	if room < 30 {
		return padRight(" "+left, w)
	}
	return padRight(" "+left, room) + right + " "
}

// runActivity describes a run in progress.
func runActivity(r *run) string {
	switch {
	case r.result != nil:
		return "greedy continuation from the packed cache"
	case r.contTot > 0:
		return fmt.Sprintf("continuation %d/%d · window %d", r.contDone, r.contTot, r.contWindow+1)
	case r.report != nil:
		return "continuation starting"
	case len(r.stages) > 0:
		last := r.stages[len(r.stages)-1]
		return fmt.Sprintf("%s %.0f ms", stageLabel(last.Name), last.Ms)
	}
	return "compressing"
}

// helpView is the full help: every binding with its text, and what the
// views show.
func (m *Model) helpView(w, h int) string {
	keys := helpColumns(m.sty, m.keys.FullHelp(), w-4)
	about := []string{
		"",
		"Explore: settings (tab to move, ←→ to change: only the stages from the changed one re-run),",
		"the bytes after each stage against float16, and the quality of the continuation from the packed cache.",
		"Quality: ΔPPL (c: KLD) against ratio_total for every run of this session; the Pareto front is drawn.",
		"Tokens: the prompt with evicted tokens dimmed. Layers: kept tokens and error per layer × KV head.",
		"Continuation: greedy text from the full and from the packed cache. Capacity: tokens that fit a budget (+/-).",
		"zstd defaults to better here: 98.5–99.3% of best's ratio at ⅛–⅒ of its time. Presets keep it.",
		"Press any key to close this help.",
	}
	var text []string
	for _, a := range about {
		text = append(text, wrap(a, w-4)...)
	}
	return box(m.sty, "Help", w, h, keys+"\n"+m.sty.Dim.Render(strings.Join(text, "\n")), true)
}

// helpColumns lays the binding groups out in as many columns as fit, each
// line "key  description".
func helpColumns(sty *Styles, groups [][]key.Binding, w int) string {
	var cols [][]string
	colW := 0
	for _, g := range groups {
		var col []string
		for _, b := range g {
			h := b.Help()
			line := sty.HelpKey.Render(fmt.Sprintf("%-10s", h.Key)) + " " + sty.HelpDesc.Render(h.Desc)
			colW = max(colW, ansi.StringWidth(line))
			col = append(col, line)
		}
		cols = append(cols, col)
	}
	perRow := max(1, min(len(cols), (w+2)/(colW+2)))
	var out []string
	for i := 0; i < len(cols); i += perRow {
		rows := 0
		for _, c := range cols[i:min(i+perRow, len(cols))] {
			rows = max(rows, len(c))
		}
		for r := range rows {
			var line string
			for _, c := range cols[i:min(i+perRow, len(cols))] {
				cell := ""
				if r < len(c) {
					cell = c[r]
				}
				line += padRight(cell, colW) + "  "
			}
			out = append(out, strings.TrimRight(line, " "))
		}
		out = append(out, "")
	}
	return strings.Join(out, "\n")
}
