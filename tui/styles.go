package tui

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Styles holds every style of the explorer, so panes share one look and a
// theme is one place to change.
type Styles struct {
	Header, HeaderDim      lipgloss.Style
	Box, BoxFocused        lipgloss.Style // pane borders
	Title                  lipgloss.Style // a pane's title in its top border
	Tab, TabActive         lipgloss.Style
	Label, Value, Dim      lipgloss.Style
	Focused                lipgloss.Style // the focused setting's row
	Good, Bad, Warn        lipgloss.Style
	Bar, BarBaseline       lipgloss.Style
	Evicted, Kept          lipgloss.Style // tokens pane
	Mark                   lipgloss.Style // the first differing token, the current run
	Status, StatusErr      lipgloss.Style
	HelpKey, HelpDesc      lipgloss.Style
	Heat                   []color.Color // cold → hot, for the layer grid and token shades
	Accent, Subtle, Danger color.Color
}

// DefaultStyles returns the explorer's styles for a dark or light terminal.
func DefaultStyles(dark bool) *Styles {
	ld := lipgloss.LightDark(dark)
	accent := ld(lipgloss.Color("#5A56E0"), lipgloss.Color("#8B87FF"))
	subtle := ld(lipgloss.Color("#9B9B9B"), lipgloss.Color("#6C6C6C"))
	text := ld(lipgloss.Color("#1A1A1A"), lipgloss.Color("#DDDDDD"))
	good := ld(lipgloss.Color("#17803D"), lipgloss.Color("#5FD787"))
	bad := ld(lipgloss.Color("#C0262D"), lipgloss.Color("#FF6B6B"))
	warn := ld(lipgloss.Color("#A86800"), lipgloss.Color("#FFC857"))
	border := lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(subtle)
	s := &Styles{
		Header:      lipgloss.NewStyle().Bold(true).Foreground(accent),
		HeaderDim:   lipgloss.NewStyle().Foreground(subtle),
		Box:         border,
		BoxFocused:  border.BorderForeground(accent),
		Title:       lipgloss.NewStyle().Bold(true).Foreground(accent),
		Tab:         lipgloss.NewStyle().Foreground(subtle).Padding(0, 1),
		TabActive:   lipgloss.NewStyle().Bold(true).Foreground(text).Background(ld(lipgloss.Color("#DAD8FF"), lipgloss.Color("#3A3670"))).Padding(0, 1),
		Label:       lipgloss.NewStyle().Foreground(subtle),
		Value:       lipgloss.NewStyle().Foreground(text),
		Dim:         lipgloss.NewStyle().Foreground(subtle).Faint(true),
		Focused:     lipgloss.NewStyle().Bold(true).Foreground(accent),
		Good:        lipgloss.NewStyle().Foreground(good),
		Bad:         lipgloss.NewStyle().Foreground(bad),
		Warn:        lipgloss.NewStyle().Foreground(warn),
		Bar:         lipgloss.NewStyle().Foreground(accent),
		BarBaseline: lipgloss.NewStyle().Foreground(subtle),
		Evicted:     lipgloss.NewStyle().Foreground(subtle).Faint(true).Strikethrough(false),
		Kept:        lipgloss.NewStyle().Foreground(text),
		Mark:        lipgloss.NewStyle().Bold(true).Foreground(bad),
		Status:      lipgloss.NewStyle().Foreground(subtle),
		StatusErr:   lipgloss.NewStyle().Bold(true).Foreground(bad),
		HelpKey:     lipgloss.NewStyle().Foreground(accent),
		HelpDesc:    lipgloss.NewStyle().Foreground(subtle),
		Accent:      accent,
		Subtle:      subtle,
		Danger:      bad,
	}
	for _, c := range []string{"#1D3557", "#2A6F97", "#2C9C8F", "#8AB17D", "#E9C46A", "#F4A261", "#E76F51", "#D62828"} {
		s.Heat = append(s.Heat, lipgloss.Color(c))
	}
	return s
}
