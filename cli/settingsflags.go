package cli

import (
	"flag"
	"strings"

	"nexusquant/presets"
	"nexusquant/stages"
)

// settingsFlags registers --preset and one flag per pipeline setting (the
// setting's name with hyphens: --eviction-rate, --key-bits, …) plus the
// ablation switches --no-hadamard, --no-rope-undo and --no-delta. resolve
// applies, in order: defaults, the preset, then every flag given.
type settingsFlags struct {
	fs     *flag.FlagSet
	preset *string
	values map[string]*string
	noHad  *bool
	noRoPE *bool
	noDel  *bool
}

func flagName(setting string) string { return strings.ReplaceAll(setting, "_", "-") }

func addSettingsFlags(fs *flag.FlagSet) *settingsFlags {
	sf := &settingsFlags{fs: fs, values: map[string]*string{}}
	sf.preset = fs.String("preset", "", "start from a preset (built-in: high, asym, balanced, max; or a saved one, or a .json file)")
	for _, f := range stages.Fields() {
		sf.values[f.Name] = fs.String(flagName(f.Name), f.Default(), f.Usage)
	}
	sf.noHad = fs.Bool("no-hadamard", false, "skip the Hadamard rotation (ablation)")
	sf.noRoPE = fs.Bool("no-rope-undo", false, "skip RoPE undo on keys (ablation)")
	sf.noDel = fs.Bool("no-delta", false, "store code rows without delta coding")
	return sf
}

// resolve returns the settings the command line asks for.
func (sf *settingsFlags) resolve() (stages.Settings, error) {
	s := stages.DefaultSettings()
	if *sf.preset != "" {
		// Without a config directory the store is nil: built-ins and .json
		// files still resolve.
		store, _ := presets.DefaultStore()
		p, err := store.Find(*sf.preset)
		if err != nil {
			return s, usageError{err}
		}
		s = p.Settings
	}
	var err error
	sf.fs.Visit(func(f *flag.Flag) {
		if err != nil {
			return
		}
		name := strings.ReplaceAll(f.Name, "-", "_")
		if _, ok := sf.values[name]; ok {
			if e := s.Set(name, f.Value.String()); e != nil {
				err = usagef("--%s: %v", f.Name, e)
			}
		}
	})
	if err != nil {
		return s, err
	}
	if *sf.noHad {
		s.Hadamard = false
	}
	if *sf.noRoPE {
		s.RoPEUndo = false
	}
	if *sf.noDel {
		s.Delta = false
	}
	if err := s.Validate(); err != nil {
		return s, usageError{err}
	}
	return s, nil
}
