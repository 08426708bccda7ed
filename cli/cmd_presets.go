package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"nexusquant/eval"
	"nexusquant/internal/atomicfile"
	"nexusquant/presets"
	"nexusquant/sessions"
)

func init() {
	register(&command{name: "presets", summary: "built-in and saved presets (list|show NAME|save NAME|rm NAME|export NAME; presets help)", run: runPresets})
}

func printPresetsUsage(w io.Writer, store *presets.Store) {
	fmt.Fprint(w, `Usage: nexusquant presets <subcommand> [flags]   (nexusquant presets <subcommand> -h for its flags)

Subcommands:
  list [--json]        the built-in presets (high, asym, balanced, max) and your saved ones
  show NAME            a preset in our format (every setting; NAME may be a .json file)
  save NAME [--description D] [--force] (settings flags | --from-session S [--run N])
                       save settings as a user preset: from the same flags as eval
                       (--preset P --key-bits 3 …), or from a run saved in a session
  rm NAME              remove a user preset
  export NAME [--format nexusquant|python] [--out FILE]
                       our format, or the keyword arguments of the Python library's
                       nexusquant_evict (settings it cannot express are listed on stderr)
  help                 this list

Use a preset with --preset NAME (eval, sweep, compress, the explorer); eval --save-preset NAME
saves what it ran. User presets are NAME.json files in
`)
	dir := "$NEXUSQUANT_PRESETS, else $XDG_CONFIG_HOME/nexusquant/presets"
	if store != nil {
		dir = store.Dir
	}
	fmt.Fprintf(w, "  %s\n($NEXUSQUANT_PRESETS overrides; otherwise nexusquant/presets in the user config folder,\n$XDG_CONFIG_HOME or ~/.config on Linux). A user preset may not use a built-in name.\n", dir)
}

func runPresets(env *Env, args []string) error {
	// Without a config folder the store is nil: built-ins still list and export.
	store, storeErr := presets.DefaultStore()
	if len(args) == 0 {
		args = []string{"list"}
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "help", "-h", "--help", "-help":
		printPresetsUsage(env.Stdout, store)
		return nil
	case "list":
		return presetsList(env, store, rest)
	case "show", "export":
		return presetsExport(env, store, sub, rest)
	case "save", "rm":
		if storeErr != nil {
			return storeErr
		}
		if sub == "rm" {
			fs := newFlags(env, "presets rm", "NAME")
			name, err := parseWithName(fs, rest, "presets rm")
			if err != nil {
				return err
			}
			if err := store.Remove(name); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "removed preset %s (%s)\n", name, store.Path(name))
			return nil
		}
		return presetsSave(env, store, rest)
	}
	printPresetsUsage(env.Stderr, store)
	return usagef("presets: unknown subcommand %q (list, show, save, rm, export, help)", sub)
}

func presetsList(env *Env, store *presets.Store, args []string) error {
	fs := newFlags(env, "presets list", "[--json]")
	asJSON := fs.Bool("json", false, "print a JSON array")
	if err := parse(fs, args); err != nil {
		return err
	}
	all, errs := store.List()
	for _, e := range errs {
		fmt.Fprintln(env.Stderr, "warning:", e)
	}
	if *asJSON {
		type row struct {
			Name        string `json:"name"`
			Description string `json:"description"`
			Builtin     bool   `json:"builtin"`
			Path        string `json:"path"`
		}
		rows := []row{}
		for _, p := range all {
			rows = append(rows, row{p.Name, p.Description, p.Builtin, p.Path})
		}
		return writeJSON(env.Stdout, rows)
	}
	for _, p := range all {
		s := p.Settings
		kind := "user"
		if p.Builtin {
			kind = "built-in"
		}
		fmt.Fprintf(env.Stdout, "%-12s %-8s ρ %.2f  K%dV%d  %-7s %s\n", p.Name, kind, s.EvictionRate, s.KeyBits, s.ValueBits, s.Lattice, p.Description)
	}
	if store != nil {
		fmt.Fprintf(env.Stdout, "\nuser presets: %s\n", store.Dir)
	}
	return nil
}

// presetsExport runs show (our format on stdout, no --format) and export.
func presetsExport(env *Env, store *presets.Store, sub string, args []string) error {
	if sub == "show" {
		for _, a := range args {
			if a == "-format" || a == "--format" || strings.HasPrefix(a, "-format=") || strings.HasPrefix(a, "--format=") {
				return usagef("presets show prints our format and takes no --format; use presets export NAME --format python")
			}
		}
		fs := newFlags(env, "presets show", "NAME")
		name, err := parseWithName(fs, args, "presets show")
		if err != nil {
			return err
		}
		return writePresetExport(env, store, name, presets.FormatNexusQuant, "")
	}
	fs := newFlags(env, "presets export", "NAME [--format nexusquant|python] [--out FILE]")
	format := fs.String("format", presets.FormatNexusQuant, "export format: "+strings.Join(presets.Formats, "|")+
		" (python: nexusquant_evict keyword arguments; settings it cannot express are listed on stderr)")
	out := fs.String("out", "", "write to `file` (atomically) instead of stdout")
	name, err := parseWithName(fs, args, "presets export")
	if err != nil {
		return err
	}
	if *format == "full" {
		*format = presets.FormatNexusQuant
	}
	if !slices.Contains(presets.Formats, *format) {
		return usagef("--format %q: want one of %s", *format, strings.Join(presets.Formats, ", "))
	}
	return writePresetExport(env, store, name, *format, *out)
}

func writePresetExport(env *Env, store *presets.Store, name, format, out string) error {
	p, err := store.Find(name)
	if err != nil {
		return err
	}
	data, notes, err := presets.Export(p, format)
	if err != nil {
		return err
	}
	if len(notes) > 0 {
		fmt.Fprintf(env.Stderr, "the Python library cannot express these settings of %s (exported without them):\n", p.Name)
		for _, n := range notes {
			fmt.Fprintln(env.Stderr, "  "+n)
		}
	}
	if out == "" {
		_, err = env.Stdout.Write(data)
		return err
	}
	if err := atomicfile.WriteFile(out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "wrote preset %s (%s format) to %s\n", p.Name, format, out)
	return nil
}

func presetsSave(env *Env, store *presets.Store, args []string) error {
	fs := newFlags(env, "presets save", "NAME [--description D] [--force] (settings flags | --from-session S [--run N])")
	sf := addSettingsFlags(fs)
	desc := fs.String("description", "", "one line saying what the preset is for (default: where its settings came from)")
	force := fs.Bool("force", false, "replace a user preset of the same name")
	fromSession := fs.String("from-session", "", "take the settings of a run saved in this `session` (see nexusquant sessions)")
	runN := fs.Int("run", 0, "with --from-session: the run's number as sessions show lists it (default: the last run)")
	name, err := parseWithName(fs, args, "presets save")
	if err != nil {
		return err
	}
	if err := checkNewPreset(store, name, *force); err != nil {
		return err
	}
	var p *presets.Preset
	if *fromSession == "" {
		if isSet(fs, "run") {
			return usagef("--run needs --from-session")
		}
		s, err := sf.resolve()
		if err != nil {
			return err
		}
		from := "command-line settings"
		if *sf.preset != "" {
			from = "preset " + *sf.preset + " and command-line settings"
		}
		p = &presets.Preset{Name: name, Description: "saved from " + from + ": " + eval.Describe(s), Settings: s}
	} else {
		var given []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "preset" || strings.HasPrefix(f.Name, "no-") || sf.values[strings.ReplaceAll(f.Name, "-", "_")] != nil {
				given = append(given, "--"+f.Name)
			}
		})
		if len(given) > 0 {
			return usagef("--from-session takes the run's settings as they are; drop %s (or save them without --from-session)", strings.Join(given, ", "))
		}
		if p, err = presetFromSession(name, *fromSession, *runN); err != nil {
			return err
		}
	}
	if *desc != "" {
		p.Description = *desc
	}
	if err := store.Save(p); err != nil {
		return err
	}
	printSaved(env.Stdout, store, p)
	return nil
}

// presetFromSession reads run n (1-based; 0 for the last) of a saved session.
func presetFromSession(name, session string, n int) (*presets.Preset, error) {
	st, err := sessions.Open()
	if err != nil {
		return nil, err
	}
	sess, err := st.Load(session)
	if err != nil {
		return nil, err
	}
	if len(sess.Runs) == 0 {
		return nil, fmt.Errorf("session %s has no runs", session)
	}
	if n == 0 {
		n = len(sess.Runs)
	}
	if n < 1 || n > len(sess.Runs) {
		return nil, usagef("--run %d: session %s has runs 1..%d", n, session, len(sess.Runs))
	}
	run := &sess.Runs[n-1]
	s, err := presets.DecodeSettings(run.Settings)
	if err != nil {
		return nil, fmt.Errorf("session %s, run %d: %v", session, n, err)
	}
	desc := fmt.Sprintf("saved from session %s, run %d (%s): %s", session, n, sess.Model.Path, eval.Describe(s))
	if f, err := run.Figures(); err == nil {
		desc += fmt.Sprintf("; measured there: ratio_total %.2f×, ΔPPL %+.2f%%", f.RatioTotal, f.DeltaPPLPct)
	}
	return &presets.Preset{Name: name, Description: desc, Settings: s}, nil
}

// parseWithName parses "NAME [flags]" or "[flags] NAME" and returns NAME.
func parseWithName(fs *flag.FlagSet, args []string, cmd string) (string, error) {
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", err
		}
		return "", usageError{err}
	}
	rest := fs.Args()
	if name == "" && len(rest) > 0 {
		name, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		return "", usagef("unexpected argument %q", strings.Join(rest, " "))
	}
	if name == "" {
		return "", usagef("%s needs a preset name", cmd)
	}
	return name, nil
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
