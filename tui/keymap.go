package tui

import "charm.land/bubbles/v2/key"

// KeyMap is every key binding of the explorer, each with its help text.
type KeyMap struct {
	Next, Prev         key.Binding // focus the next / previous setting
	Up, Down           key.Binding // the same, with arrows
	Inc, Dec           key.Binding // change the focused setting
	Preset1, Preset2   key.Binding
	Preset3, Preset4   key.Binding
	NextTab, PrevTab   key.Binding
	Save, Export       key.Binding
	SavePreset         key.Binding
	Mark               key.Binding // sessions view: mark a run to compare
	ChartMetric        key.Binding
	BudgetUp, BudgetDn key.Binding
	Rerun              key.Binding
	Help, Quit         key.Binding
}

// DefaultKeyMap returns the explorer's bindings.
func DefaultKeyMap() *KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return &KeyMap{
		Next:        b("tab", "next setting", "tab"),
		Prev:        b("shift+tab", "previous setting", "shift+tab"),
		Up:          b("↑/k", "previous setting", "up", "k"),
		Down:        b("↓/j", "next setting", "down", "j"),
		Inc:         b("→/l", "next value", "right", "l"),
		Dec:         b("←/h", "previous value", "left", "h"),
		Preset1:     b("1", "preset high: ρ 0.35 K3V2", "1"),
		Preset2:     b("2", "preset asym: ρ 0.60 K3V2", "2"),
		Preset3:     b("3", "balanced: ρ 0.60 K2V2", "3"),
		Preset4:     b("4", "preset max: ρ 0.80 K2V2", "4"),
		NextTab:     b("]", "next view", "]"),
		PrevTab:     b("[", "previous view", "["),
		Save:        b("s", "save run to session", "s"),
		Export:      b("e", "export preset (2 formats)", "e"),
		SavePreset:  b("p", "save as a named preset", "p"),
		Mark:        b("space", "mark a run (Sessions)", "space", "enter"),
		ChartMetric: b("c", "chart ΔPPL or KLD", "c"),
		BudgetUp:    b("+", "memory budget +1 GB", "+", "="),
		BudgetDn:    b("-", "memory budget −1 GB", "-", "_"),
		Rerun:       b("r", "run again", "r"),
		Help:        b("?", "full help", "?"),
		Quit:        b("q", "quit", "q", "ctrl+c"),
	}
}

// ShortHelp is the status line's reminder.
func (k *KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Next, k.Inc, k.Preset1, k.NextTab, k.Help}
}

// FullHelp is the help screen, in columns.
func (k *KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Next, k.Prev, k.Up, k.Down, k.Inc, k.Dec},
		{k.Preset1, k.Preset2, k.Preset3, k.Preset4, k.Rerun},
		{k.NextTab, k.PrevTab, k.ChartMetric, k.BudgetUp, k.BudgetDn},
		{k.Save, k.Export, k.SavePreset, k.Mark, k.Help, k.Quit},
	}
}
