package tui

import (
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"nexusquant/eval"
	"nexusquant/presets"
	"nexusquant/stages"
)

// namePrompt asks for the name of a preset to save (the `p` key): while it
// is open it takes every key; enter saves, esc cancels.
type namePrompt struct {
	input textinput.Model
	open  bool
	// overwrite is the name the user confirmed to replace (enter again on
	// an existing preset's name).
	overwrite string
}

// openPresetPrompt opens the prompt with a suggested name.
func (m *Model) openPresetPrompt() tea.Cmd {
	in := textinput.New()
	in.Prompt = "save preset as: "
	in.CharLimit = 64
	in.SetValue(exportName(m.st.settings))
	in.CursorEnd()
	m.prompt = namePrompt{input: in, open: true}
	m.st.status, m.st.statusErr = "", false
	return m.prompt.input.Focus()
}

// onPromptKey handles a key while the prompt is open.
func (m *Model) onPromptKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case k.String() == "esc" || key.Matches(k, key.NewBinding(key.WithKeys("ctrl+c"))):
		m.prompt.open = false
		m.notify(false, "preset not saved")
		return nil
	case k.String() == "enter":
		name := m.prompt.input.Value()
		if err := presets.CheckUserName(name); err != nil {
			m.notify(true, "%v", err)
			return nil
		}
		m.prompt.open = false
		return savePreset(m.cfg.Presets, name, m.st.settings, name == m.prompt.overwrite)
	}
	var cmd tea.Cmd
	m.prompt.input, cmd = m.prompt.input.Update(k)
	return cmd
}

// PresetSavedMsg reports a preset saved with `p`; Path is for display.
// Exists says nothing was written because a preset of that name exists and
// overwriting was not confirmed.
type PresetSavedMsg struct {
	Name, Path string
	Exists     bool
	Err        error
}

// savePreset writes s as the user preset name (file I/O: a command); an
// existing preset is replaced only when overwrite is set.
func savePreset(store *presets.Store, name string, s stages.Settings, overwrite bool) tea.Cmd {
	return func() tea.Msg {
		if store == nil {
			return PresetSavedMsg{Name: name, Err: errNoFolder("preset")}
		}
		if !overwrite && store.Exists(name) {
			return PresetSavedMsg{Name: name, Exists: true}
		}
		p := &presets.Preset{Name: name, Description: "saved from the explorer: " + eval.Describe(s), Settings: s}
		if err := store.Save(p); err != nil {
			return PresetSavedMsg{Name: name, Err: err}
		}
		return PresetSavedMsg{Name: name, Path: tildePath(store.Dir + "/" + name + ".json")}
	}
}
