package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"nexusquant/engine"
	"nexusquant/eval"
)

// Choice is one model the start-up picker offers: the embedded demo or a
// GGUF file found on disk (Config.Choices).
type Choice struct {
	Label  string // e.g. "llama3.2:1b (ollama)"
	Detail string // e.g. "llama · 1.2B · Q8_0 · ctx 131072 · 1.3 GB"
	Open   func() (*engine.Model, error)
	Input  eval.Input
	// SourceName describes the text in the header.
	SourceName string
	// Err, when set, says why the file cannot be opened; it is listed but
	// not chosen.
	Err string
}

// pickerState is the start-up picker: shown when Config.Choices is not
// empty, until the user picks one.
type pickerState struct {
	open   bool
	cursor int
}

// onPickerKey moves the picker's cursor or opens the chosen model.
func (m *Model) onPickerKey(k tea.KeyPressMsg) tea.Cmd {
	km := m.keys
	n := len(m.cfg.Choices)
	switch {
	case key.Matches(k, km.Quit):
		return tea.Quit
	case key.Matches(k, km.Up, km.Prev):
		m.picker.cursor = (m.picker.cursor + n - 1) % n
	case key.Matches(k, km.Down, km.Next):
		m.picker.cursor = (m.picker.cursor + 1) % n
	case key.Matches(k, km.Mark, km.Inc):
		c := m.cfg.Choices[m.picker.cursor]
		if c.Err != "" {
			m.notify(true, "%s cannot be opened: %s", c.Label, c.Err)
			return nil
		}
		m.picker.open = false
		m.cfg.Open, m.cfg.Input = c.Open, c.Input
		m.st.info.Source = c.SourceName
		m.st.status = ""
		m.load()
	}
	return nil
}

// pickerView lists the choices.
func (m *Model) pickerView(w, h int) string {
	var lines []string
	lines = append(lines, "Models found on this machine — ↑/↓ choose, enter opens, q quits:", "")
	for i, c := range m.cfg.Choices {
		mark := "  "
		label := padRight(c.Label, min(44, max(w/2, 20)))
		line := label + "  " + m.sty.Dim.Render(c.Detail)
		if c.Err != "" {
			line = label + "  " + m.sty.Bad.Render(c.Err)
		}
		if i == m.picker.cursor {
			mark = m.sty.Focused.Render("▸ ")
			line = m.sty.Focused.Render(stripStyle(label)) + strings.TrimPrefix(line, label)
		}
		lines = append(lines, mark+line)
	}
	lines = append(lines, "", m.sty.Dim.Render(fmt.Sprintf("A model on disk opens on the demo text; give --model M --file F (or --prompt P) to choose the text. %d found.", len(m.cfg.Choices)-demoChoices(m.cfg.Choices))))
	return box(m.sty, "Open a model", w, h, strings.Join(lines, "\n"), true)
}

// demoChoices counts the embedded demos among the choices.
func demoChoices(cs []Choice) int {
	n := 0
	for _, c := range cs {
		if strings.HasPrefix(c.Label, "demo:") {
			n++
		}
	}
	return n
}
