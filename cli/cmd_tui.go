package cli

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"nexusquant/engine"
	"nexusquant/eval"
	"nexusquant/internal/demo"
	"nexusquant/internal/modelfind"
	"nexusquant/presets"
	"nexusquant/sessions"
	"nexusquant/stages"
	"nexusquant/tui"
)

func init() {
	register(&command{name: "tui", summary: "the explorer (the default command): tune compression live in the terminal", run: runTUI})
}

// runTUI opens the explorer: on --model with --file or --prompt, or on the
// embedded demo.
func runTUI(env *Env, args []string) error {
	fs := newFlags(env, "tui", "[--model M.gguf (--file F | --prompt P)] [--demo tiny-llama|stories] [settings] [--shape-of big.gguf] [--budget GB]")
	tf := addTextFlags(fs, 128)
	sf := addSettingsFlags(fs)
	demoName := fs.String("demo", "", "embedded demo when --model is not given: "+strings.Join(demo.Names(), ", "))
	shapeOf := fs.String("shape-of", "", "GGUF `file` whose capacity to show (only its header is read)")
	budget := fs.Float64("budget", float64(eval.DefaultBudget)/1e9, "memory budget of the capacity view, in GB")
	session := fs.String("session", "", "session name the s key saves runs to (default: explorer-DATE-TIME)")
	seed := fs.Int64("bootstrap-seed", 1, "seed of the paired bootstrap")
	if err := parse(fs, args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	s, err := explorerSettings(sf, given)
	if err != nil {
		return err
	}
	if *budget <= 0 || *budget > 1e6 {
		return usagef("--budget %v: want a positive number of GB", *budget)
	}
	cfg := tui.Config{Settings: s, Budget: int64(*budget * 1e9), Seed: *seed,
		Device: fmt.Sprintf("cpu · %d threads", runtime.GOMAXPROCS(0))}
	if err := explorerInput(tf, *demoName, given["prompt"], &cfg); err != nil {
		return err
	}
	if *tf.model == "" && *demoName == "" { // nothing named: offer what is on disk, if anything
		found, _ := modelfind.Find(modelfind.DefaultDirs())
		if cfg.Choices, err = pickerChoices(found, cfg.Input); err != nil {
			return err
		}
	}
	if *shapeOf != "" {
		sh, err := engine.ReadShape(*shapeOf)
		if err != nil {
			return err
		}
		cfg.Shape = sh
	}
	cfg.Session = *session
	if cfg.Session == "" {
		cfg.Session = "explorer-" + time.Now().Format("20060102-150405")
	} else if err := sessions.CheckName(cfg.Session); err != nil {
		return usageError{err}
	}
	if store, err := sessions.Open(); err == nil {
		cfg.Sessions = store
	}
	if store, err := presets.DefaultStore(); err == nil {
		cfg.Presets = store
	}
	env.Log.Info("explorer", "source", cfg.SourceName, "settings", eval.Describe(s))
	return tui.Run(env.Ctx, cfg, tui.Options{})
}

// explorerSettings are the first run's settings: the flags over the
// balanced preset, with the explorer's zstd level unless --zstd-level is
// given.
func explorerSettings(sf *settingsFlags, given map[string]bool) (stages.Settings, error) {
	if !given["preset"] && onlyTextFlags(given) {
		*sf.preset = "balanced"
	}
	s, err := sf.resolve()
	if err != nil {
		return s, err
	}
	if !given["zstd-level"] {
		s.ZstdLevel = tui.ExplorerZstdLevel
	}
	return s, nil
}

// onlyTextFlags reports whether no settings flag was given.
func onlyTextFlags(given map[string]bool) bool {
	for name := range given {
		switch name {
		case "model", "file", "prompt", "prefix", "continuation", "windows", "demo", "shape-of", "budget", "session", "bootstrap-seed":
		default:
			return false
		}
	}
	return true
}

// explorerInput fills cfg's model and text from the flags, or the demo.
// promptGiven tells an empty --prompt from a missing one.
func explorerInput(tf *textFlags, demoName string, promptGiven bool, cfg *tui.Config) error {
	if err := tf.checkRanges(); err != nil {
		return err
	}
	in := eval.Input{Source: eval.Source{Prefix: *tf.prefix, Continuation: *tf.cont, Windows: *tf.wins}, ObsWindow: cfg.Settings.ObsWindow}
	switch {
	case *tf.model == "":
		if promptGiven || *tf.file != "" {
			return usagef("--file and --prompt need --model (without --model the explorer runs the embedded demo)")
		}
		d, err := demo.Get(demoName)
		if err != nil {
			return usageError{err}
		}
		cfg.Open = d.Load
		in.Kind, in.Path, in.Text = "file", d.TextName, d.Text
		cfg.SourceName = "demo: " + d.TextName
	case demoName != "":
		return usagef("give --demo or --model, not both")
	case *tf.file != "" && *tf.prompt != "":
		return usagef("give one of --file or --prompt")
	case *tf.file != "":
		text, err := os.ReadFile(*tf.file)
		if err != nil {
			return err
		}
		in.Kind, in.Path, in.Text = "file", *tf.file, string(text)
		cfg.SourceName = filepath.Base(*tf.file)
	default:
		if *tf.prompt == "" {
			if promptGiven {
				return usagef("--prompt is empty: give the text whose KV cache to compress")
			}
			return usagef("--model needs --file F or --prompt P (the text to compress)")
		}
		in.Kind, in.Text = "prompt", *tf.prompt
		cfg.SourceName = "prompt"
	}
	if *tf.model != "" {
		path := *tf.model
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("model %s: %w", path, err)
		}
		if err := checkMemory(path); err != nil {
			return err
		}
		cfg.Open = func() (*engine.Model, error) { return engine.Load(path) }
	}
	cfg.Input = in
	return nil
}
