package cli

import (
	"fmt"
	"strings"

	"nexusquant/presets"
)

func init() {
	register(&command{name: "presets", summary: "list, show or export presets (list|show NAME|export NAME [--format full|python])", run: runPresets})
}

func runPresets(env *Env, args []string) error {
	if len(args) == 0 {
		args = []string{"list"}
	}
	store, err := presets.DefaultStore()
	if err != nil {
		return err
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "list":
		fs := newFlags(env, "presets list", "[--json]")
		asJSON := fs.Bool("json", false, "print a JSON array")
		if err := parse(fs, rest); err != nil {
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
		return nil
	case "show", "export":
		fs := newFlags(env, "presets "+sub, "NAME [--format full|python]")
		format := fs.String("format", "full", "export format: "+strings.Join(presets.Formats, "|"))
		name, flagArgs := splitName(rest)
		if err := parse(fs, flagArgs); err != nil {
			return err
		}
		if name == "" {
			return usagef("presets %s needs a preset name", sub)
		}
		p, err := store.Find(name)
		if err != nil {
			return err
		}
		if sub == "show" {
			*format = "full"
		}
		out, notes, err := presets.Export(p, *format)
		if err != nil {
			return err
		}
		for _, n := range notes {
			fmt.Fprintln(env.Stderr, "note:", n)
		}
		_, err = env.Stdout.Write(out)
		return err
	}
	return usagef("presets: unknown subcommand %q (list, show, export)", sub)
}

// splitName takes the positional argument off args: "NAME --flags" or
// "--flags NAME".
func splitName(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	if n := len(args); n > 0 && !strings.HasPrefix(args[n-1], "-") && (n == 1 || !strings.HasPrefix(args[n-2], "--format") || strings.Contains(args[n-2], "=")) {
		return args[n-1], args[:n-1]
	}
	return "", args
}
