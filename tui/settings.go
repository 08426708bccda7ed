package tui

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"nexusquant/presets"
	"nexusquant/stages"
)

// settingRow is one line of the settings pane: a setting (by its field name
// in stages.Fields) and the values ←/→ step through.
type settingRow struct {
	label   string
	field   string // "preset" for the preset row
	choices func(layers int) []string
}

func fixed(vs ...string) func(int) []string { return func(int) []string { return vs } }

// evictionChoices are 0, 0.05, …, 0.95.
func evictionChoices(int) []string {
	out := make([]string, 20)
	for i := range out {
		out[i] = strconv.FormatFloat(float64(i*5)/100, 'g', -1, 64)
	}
	return out
}

// boundaryChoices are 0 up to half the layers (at most 8).
func boundaryChoices(layers int) []string {
	n := min(max(layers/2, 0), 8)
	out := make([]string, n+1)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}

var onOff = fixed("true", "false")

// settingRows are the settings pane's rows, in pipeline order: every setting
// of SPEC §1–7 the explorer lets the user change.
var settingRows = []settingRow{
	{"preset", "preset", fixed(presetKeys...)},
	{"method", "method", fixed("nexusquant", "none", "q8_0", "q4_0", "kivi2", "kivi4")},
	{"eviction", "eviction_rate", evictionChoices},
	{"key bits", "key_bits", fixed("2", "3", "4", "5", "6", "8")},
	{"value bits", "value_bits", fixed("2", "3", "4", "5", "6", "8")},
	{"lattice", "lattice", fixed("e8", "relaxed", "scalar")},
	{"scorer", "scorer", fixed("keykey", "attention", "h2o", "tova", "knorm", "streaming", "random")},
	{"granularity", "granularity", fixed("global", "layer", "head")},
	{"window", "sliding_window", fixed("0", "8", "16", "32", "64", "128", "256")},
	{"obs window", "obs_window", fixed("8", "16", "32", "64", "128")},
	{"hadamard", "hadamard", onOff},
	{"signs", "hadamard_signs", onOff},
	{"rope undo", "rope_undo", onOff},
	{"delta", "delta", onOff},
	{"zstd", "zstd_level", fixed("fastest", "default", "better", "best")},
	{"block tokens", "block_tokens", fixed("16", "32", "64", "128", "256", "512", "1024")},
	{"boundary", "protect_boundary", boundaryChoices},
}

// slidingRow is the row of sliding_layers, shown after settingRows only for
// a model with sliding-window layers (elsewhere the setting changes nothing).
var slidingRow = settingRow{"swa layers", "sliding_layers", fixed(stages.SlidingCompress, stages.SlidingFloat16)}

// rows are the settings pane's rows for the loaded model.
func (st *state) rows() []settingRow {
	if st.info.SlidingLayers == 0 {
		return settingRows
	}
	return append(slices.Clip(settingRows), slidingRow)
}

// focusedRow is the row with the focus (the first one if the focus is past
// the rows, as after loading a model with fewer rows).
func (st *state) focusedRow() settingRow {
	rows := st.rows()
	if st.focus < 0 || st.focus >= len(rows) {
		st.focus = 0
	}
	return rows[st.focus]
}

// presetKeys are the built-in presets on keys 1–4.
var presetKeys = []string{"high", "asym", "balanced", "max"}

// ExplorerZstdLevel is the explorer's zstd level: on both fixtures `better`
// keeps 98.5–99.3% of `best`'s ratio_total at an eighth to a tenth of its time,
// while `fastest` loses 27% on stories260K. Presets are applied with it.
const ExplorerZstdLevel = "better"

// applyPreset returns the built-in preset's settings with the explorer's
// current zstd level kept (see ExplorerZstdLevel).
func applyPreset(cur stages.Settings, name string) (stages.Settings, bool) {
	for _, p := range presets.Builtins() {
		if p.Name == name {
			s := p.Settings
			s.ZstdLevel = cur.ZstdLevel
			return s, true
		}
	}
	return cur, false
}

// presetName is the built-in preset s equals (zstd level aside), or "custom".
func presetName(s stages.Settings) string {
	for _, name := range presetKeys {
		if p, ok := applyPreset(s, name); ok && p == s {
			return name
		}
	}
	return "custom"
}

// rowValue is the row's current value as its choices spell it.
func rowValue(r settingRow, s stages.Settings) string {
	if r.field == "preset" {
		return presetName(s)
	}
	v, err := s.Get(r.field)
	if err != nil {
		return "?"
	}
	return v
}

// step moves the row's value by delta choices (clamped) and returns the new
// settings and whether anything changed.
func step(r settingRow, s stages.Settings, layers, delta int) (stages.Settings, bool) {
	choices := r.choices(layers)
	if len(choices) == 0 {
		return s, false
	}
	cur := rowValue(r, s)
	i := slices.Index(choices, cur)
	if i < 0 { // off the grid (a flag or a saved preset): the nearest choice in that direction first
		i = nearest(choices, cur)
		if c := choices[i]; delta > 0 && choiceLess(cur, c) || delta < 0 && choiceLess(c, cur) {
			return set(r, s, c)
		}
	}
	j := min(max(i+delta, 0), len(choices)-1)
	if j == i {
		return s, false
	}
	return set(r, s, choices[j])
}

func set(r settingRow, s stages.Settings, v string) (stages.Settings, bool) {
	if r.field == "preset" {
		if v == "custom" {
			return s, false
		}
		n, ok := applyPreset(s, v)
		return n, ok && n != s
	}
	n := s
	if err := n.Set(r.field, v); err != nil {
		return s, false
	}
	return n, n != s
}

// nearest is the index of the choice closest to v (numerically when both
// are numbers; presets: "balanced" for custom).
func nearest(choices []string, v string) int {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		if i := slices.Index(choices, "balanced"); i >= 0 {
			return i
		}
		return 0
	}
	best, bi := math.Inf(1), 0
	for i, c := range choices {
		if g, err := strconv.ParseFloat(c, 64); err == nil && math.Abs(g-f) < best {
			best, bi = math.Abs(g-f), i
		}
	}
	return bi
}

func choiceLess(a, b string) bool {
	fa, ea := strconv.ParseFloat(a, 64)
	fb, eb := strconv.ParseFloat(b, 64)
	return ea == nil && eb == nil && fa < fb
}

// settingsPane draws settingRows with the focused one marked.
type settingsPane struct{}

func (settingsPane) Title() string { return "Settings" }

func (settingsPane) Render(st *state, sty *Styles, w, h int) string {
	var lines []string
	for i, r := range st.rows() {
		v := rowValue(r, st.settings)
		shown := display(r, v, st.settings, sty, w-17)
		label := fmt.Sprintf(" %-12s", r.label)
		if i == st.focus {
			label = sty.Focused.Render(fmt.Sprintf("▸%-12s", r.label))
			shown = sty.Focused.Render("‹ ") + shown + sty.Focused.Render(" ›")
		} else {
			label = sty.Label.Render(label)
			shown = "  " + shown
		}
		if inert(r, st.settings) {
			shown = sty.Dim.Render(stripStyle(shown))
		}
		lines = append(lines, label+shown)
	}
	if h > len(lines) {
		note := "zstd better: ~99% of best's ratio, ⅛–⅒ the time"
		if st.settings.ZstdLevel != ExplorerZstdLevel {
			note = fmt.Sprintf("zstd %s (explorer default: better)", st.settings.ZstdLevel)
		}
		if h-len(lines) > 3 {
			lines = append(lines, "")
		}
		for _, l := range wrap(note, w) {
			lines = append(lines, sty.Dim.Render(l))
		}
	}
	return strings.Join(lines[:min(len(lines), max(h, 0))], "\n")
}

// display renders a row's value: the eviction rate as a slider, switches as
// ✓/✗, others as text.
func display(r settingRow, v string, s stages.Settings, sty *Styles, room int) string {
	switch r.field {
	case "eviction_rate":
		n := min(max(room-7, 3), 10)
		filled := int(math.Round(s.EvictionRate * float64(n)))
		return "▕" + sty.Bar.Render(strings.Repeat("█", filled)) + sty.Dim.Render(strings.Repeat("░", n-filled)) + "▏" + fmt.Sprintf(" %.2f", s.EvictionRate)
	case "hadamard", "hadamard_signs", "rope_undo", "delta":
		if v == "true" {
			return sty.Good.Render("✓ on")
		}
		return sty.Bad.Render("✗ off")
	}
	return sty.Value.Render(v)
}

// inert reports whether the row's setting has no effect under the current
// method (everything but block tokens and boundary for a row codec).
func inert(r settingRow, s stages.Settings) bool {
	if s.Method == stages.MethodNexusQuant {
		return r.field == "hadamard_signs" && !s.Hadamard
	}
	switch r.field {
	case "preset", "method", "block_tokens":
		return false
	case "protect_boundary", "sliding_layers": // a row codec's float16 layers
		return s.Method == stages.MethodNone
	}
	return true // no baseline method evicts, rotates or entropy-codes
}
