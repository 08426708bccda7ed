package cli

import (
	"fmt"
	"io"
	"path/filepath"

	"nexusquant/eval"
	"nexusquant/presets"
	"nexusquant/stages"
)

// checkNewPreset refuses a name a new user preset may not take: unsafe as a
// file name, a built-in's, or an existing user preset's unless force.
func checkNewPreset(store *presets.Store, name string, force bool) error {
	if err := presets.CheckUserName(name); err != nil {
		return usageError{err}
	}
	if !force && store.Exists(name) {
		return usagef("preset %s exists (%s); choose another name, or replace it (presets save --force, or presets rm %s first)", name, store.Path(name), name)
	}
	return nil
}

// evalPresetStore checks eval --save-preset NAME before the evaluation starts
// and returns the store to save into (nil when name is empty).
func evalPresetStore(name string) (*presets.Store, error) {
	if name == "" {
		return nil, nil
	}
	store, err := presets.DefaultStore()
	if err != nil {
		return nil, err
	}
	if err := checkNewPreset(store, name, false); err != nil {
		return nil, fmt.Errorf("--save-preset: %w", err)
	}
	return store, nil
}

// savePresetFromEval saves the settings an eval ran as a user preset, noting
// where and what it measured, and says so on stderr (stdout may be --json).
func savePresetFromEval(env *Env, store *presets.Store, name, model string, s stages.Settings, r *eval.Report) error {
	if store == nil {
		return nil
	}
	p := &presets.Preset{Name: name, Settings: s,
		Description: fmt.Sprintf("saved by eval on %s: %s; measured there: ratio_total %.2f×, ΔPPL %+.2f%%",
			filepath.Base(model), eval.Describe(s), r.RatioTotal, r.DeltaPPLPct)}
	if err := store.Save(p); err != nil {
		return fmt.Errorf("--save-preset: %w", err)
	}
	printSaved(env.Stderr, store, p)
	return nil
}

// printSaved reports a saved preset and how to use it.
func printSaved(w io.Writer, store *presets.Store, p *presets.Preset) {
	fmt.Fprintf(w, "saved preset %s to %s\n  %s\n  use it with --preset %s; export it with nexusquant presets export %s --format python\n",
		p.Name, store.Path(p.Name), p.Description, p.Name, p.Name)
}
