package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"nexusquant/internal/atomicfile"
	"nexusquant/sessions"
)

func init() {
	register(&command{name: "sessions", summary: "saved evaluations (list | show NAME | diff A B | rm NAME | export NAME [--csv] [--out F])", run: runSessions})
}

// sessionArgs parses flags and positional arguments in any order.
func sessionArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func printSessionsUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: nexusquant sessions <subcommand> [--json]   (nexusquant sessions <subcommand> -h for its flags)

Subcommands:
  list                 the saved sessions: model, text, runs
  show NAME            every run of a session: ratios, ΔPPL with its interval, KLD, top-1
  diff A B             pair the runs of two sessions by settings: what differs, metric deltas
  rm NAME              remove a session
  export NAME [--csv] [--out FILE]
                       the session as JSON, or a spreadsheet (one row per run)
  help                 this list

Runs are saved by eval --save-session NAME and the explorer's s key, one file per session in
$XDG_DATA_HOME/nexusquant/sessions (~/.local/share/nexusquant/sessions; $NEXUSQUANT_SESSIONS
overrides).
`)
}

func runSessions(env *Env, args []string) error {
	if len(args) == 0 {
		args = []string{"list"}
	}
	sub, rest := args[0], args[1:]
	if sub == "help" || sub == "-h" || sub == "--help" || sub == "-help" {
		printSessionsUsage(env.Stdout)
		return nil
	}
	need := map[string]int{"list": 0, "show": 1, "rm": 1, "diff": 2, "export": 1}
	n, ok := need[sub]
	if !ok {
		return usagef("sessions: unknown subcommand %q (list, show, diff, rm, export, help)", sub)
	}
	fs := newFlags(env, "sessions "+sub, "")
	asJSON := fs.Bool("json", false, "print JSON")
	var asCSV *bool
	var outFile *string
	if sub == "export" {
		asCSV = fs.Bool("csv", false, "write a spreadsheet: one row per run (time, the settings that vary, ratios, ΔPPL with its interval, KLD, top-1)")
		outFile = fs.String("out", "", "write to `file` instead of stdout")
	}
	pos, err := sessionArgs(fs, rest)
	if err != nil {
		return err
	}
	if len(pos) != n {
		return usagef("sessions %s takes %d name(s), got %d", sub, n, len(pos))
	}
	store, err := sessions.Open()
	if err != nil {
		return err
	}
	w := env.Stdout
	switch sub {
	case "list":
		return sessionsList(env, store, *asJSON)
	case "show":
		s, err := store.Load(pos[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(w, s)
		}
		printSession(w, s)
		return nil
	case "rm":
		if err := store.Remove(pos[0]); err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(w, map[string]string{"removed": pos[0], "path": store.Path(pos[0])})
		}
		fmt.Fprintf(w, "removed session %s (%s)\n", pos[0], store.Path(pos[0]))
		return nil
	case "export":
		if *asCSV && *asJSON {
			return usagef("sessions export: give --csv or --json, not both")
		}
		s, err := store.Load(pos[0])
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if *asCSV {
			err = sessions.WriteCSV(&buf, s)
		} else {
			err = writeJSON(&buf, s)
		}
		if err != nil {
			return err
		}
		if *outFile == "" {
			_, err = w.Write(buf.Bytes())
			return err
		}
		return atomicfile.WriteFile(*outFile, buf.Bytes(), 0o644)
	case "diff":
		a, err := store.Load(pos[0])
		if err != nil {
			return err
		}
		b, err := store.Load(pos[1])
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(w, diffJSON(a, b))
		}
		printDiff(w, a, b)
		return nil
	}
	return nil
}

func sessionsList(env *Env, store *sessions.Store, asJSON bool) error {
	all, errs := store.List()
	for _, e := range errs {
		fmt.Fprintln(env.Stderr, "warning:", e)
	}
	if asJSON {
		type listed struct {
			*sessions.Session
			NameInFile string `json:"name_in_file,omitempty"`
		}
		out := []listed{}
		for _, s := range all {
			out = append(out, listed{s, s.NameInFile})
		}
		return writeJSON(env.Stdout, out)
	}
	if len(all) == 0 {
		fmt.Fprintln(env.Stdout, "no sessions in", store.Dir)
	}
	for _, s := range all {
		fmt.Fprintf(env.Stdout, "%-20s %3d runs  %s  %s  updated %s\n", s.Name, len(s.Runs), filepath.Base(s.Model.Path), textLabel(s.Text), s.Updated.Format("2006-01-02 15:04"))
		if s.NameInFile != "" {
			fmt.Fprintf(env.Stdout, "%-20s (the file calls it %q; it is shown and saved as %s)\n", "", s.NameInFile, s.Name)
		}
	}
	return nil
}

func textLabel(t sessions.Text) string {
	if t.Source == "prompt" {
		return "prompt " + t.SHA256[:min(8, len(t.SHA256))]
	}
	return filepath.Base(t.Source)
}

func printSession(w io.Writer, s *sessions.Session) {
	fmt.Fprintf(w, "session %s: model %s (%s), text %s, prefix %d, continuation %d, %d window(s)\n",
		s.Name, s.Model.Path, s.Model.Arch, s.Text.Source, s.Text.Prefix, s.Text.Continuation, s.Text.Windows)
	if s.NameInFile != "" {
		fmt.Fprintf(w, "note: the file calls this session %q; it is shown and saved as %s\n", s.NameInFile, s.Name)
	}
	keys := sessions.VaryingSettings(s)
	for i := range s.Runs {
		r := &s.Runs[i]
		fmt.Fprintf(w, "  %2d  %s  %s\n", i+1, figureLine(r), r.Label(keys))
	}
}

// figureLine is a run's headline figures in 60 columns.
func figureLine(r *sessions.Run) string {
	f := figs(r)
	if f == nil {
		return "(no figures)"
	}
	return fmt.Sprintf("%6.2f×  ΔPPL %+6.2f%% [%+.2f, %+.2f]  KLD %.4f  top-1 %5.1f%%", f.RatioTotal, f.DeltaPPLPct, f.DeltaPPLCI[0], f.DeltaPPLCI[1], f.KLD, 100*f.Top1Agree)
}

func figs(r *sessions.Run) *sessions.Figures {
	if r == nil {
		return nil
	}
	f, err := r.Figures()
	if err != nil {
		return nil
	}
	return &f
}

// diffRowJSON is one row of `sessions diff --json`.
type diffRowJSON struct {
	Paired   bool              `json:"paired"`
	Label    string            `json:"label"`
	Settings any               `json:"settings"`
	Changes  []sessions.Change `json:"changes"`
	A        *diffSideJSON     `json:"a"`
	B        *diffSideJSON     `json:"b"`
	Delta    *sessions.Delta   `json:"delta"`
}

type diffSideJSON struct {
	Time     string            `json:"time"`
	Settings any               `json:"settings"`
	Figures  *sessions.Figures `json:"figures"`
}

func diffJSON(a, b *sessions.Session) any {
	side := func(r *sessions.Run) *diffSideJSON {
		if r == nil {
			return nil
		}
		return &diffSideJSON{Time: r.Time.UTC().Format("2006-01-02T15:04:05Z"), Settings: r.SettingsMap(), Figures: figs(r)}
	}
	keys := sessions.VaryingSettings(a, b)
	rows := []diffRowJSON{}
	for _, r := range sessions.Diff(a, b) {
		first := r.A
		if first == nil {
			first = r.B
		}
		ch := r.Changes
		if ch == nil {
			ch = []sessions.Change{}
		}
		rows = append(rows, diffRowJSON{Paired: r.Paired(), Label: first.Label(keys), Settings: first.SettingsMap(),
			Changes: ch, A: side(r.A), B: side(r.B), Delta: r.Delta()})
	}
	return map[string]any{"a": a.Name, "b": b.Name, "varying_settings": keys, "rows": rows}
}

// printDiff writes the diff for an 80-column terminal: per pair the settings
// that tell it apart, what differs between its two runs, both runs' figures
// and the differences; then the unpaired runs.
func printDiff(w io.Writer, a, b *sessions.Session) {
	const width = 80
	head := func(tag string, s *sessions.Session) {
		fmt.Fprintf(w, "%s = %s: %s, %s, %d run(s)\n", tag, s.Name, filepath.Base(s.Model.Path), textLabel(s.Text), len(s.Runs))
	}
	head("A", a)
	head("B", b)
	keys := sessions.VaryingSettings(a, b)
	if len(keys) > 0 {
		writeWrapped(w, "runs are told apart by: ", keys, ", ", "  ", width)
	}
	rows := sessions.Diff(a, b)
	label := func(head string, r *sessions.Run, indent string) {
		if len(keys) == 0 {
			fmt.Fprintln(w, head+"(every run has the same settings)")
			return
		}
		writeWrapped(w, head, strings.Fields(r.Label(keys)), " ", indent, width)
	}
	side := func(tag string, r *sessions.Run) {
		fmt.Fprintf(w, "    %s  %s\n", tag, figureLine(r))
	}
	i := 0
	for _, r := range rows {
		if !r.Paired() {
			continue
		}
		i++
		fmt.Fprintln(w)
		label(fmt.Sprintf("%d. ", i), r.A, "   ")
		if len(r.Changes) == 0 {
			fmt.Fprintln(w, "   same settings")
		} else {
			parts := make([]string, len(r.Changes))
			for k, c := range r.Changes {
				parts[k] = fmt.Sprintf("%s %s → %s", c.Key, sessions.FormatValue(c.A), sessions.FormatValue(c.B))
			}
			writeWrapped(w, "   settings differ (A → B): ", parts, ", ", "     ", width)
		}
		side("A", r.A)
		side("B", r.B)
		if d := r.Delta(); d != nil {
			overlap := "intervals overlap"
			if !d.CIOverlap {
				overlap = "intervals disjoint"
			}
			fmt.Fprintf(w, "    B−A %+6.2f×  ΔPPL %+6.2f pp (%s)  KLD %+.4f  top-1 %+.1f pp\n",
				d.RatioTotal, d.DeltaPPLPct, overlap, d.KLD, 100*d.Top1Agree)
		}
	}
	if i == 0 {
		fmt.Fprintln(w, "\nno runs pair up")
	}
	for _, only := range []struct {
		tag  string
		s    *sessions.Session
		pick func(sessions.DiffRow) *sessions.Run
	}{
		{"A", a, func(r sessions.DiffRow) *sessions.Run {
			if r.B == nil {
				return r.A
			}
			return nil
		}},
		{"B", b, func(r sessions.DiffRow) *sessions.Run {
			if r.A == nil {
				return r.B
			}
			return nil
		}},
	} {
		first := true
		for _, r := range rows {
			run := only.pick(r)
			if run == nil {
				continue
			}
			if first {
				fmt.Fprintf(w, "\nonly in %s (%s):\n", only.tag, only.s.Name)
				first = false
			}
			label("  ", run, "    ")
			side(only.tag, run)
		}
	}
}

// writeWrapped writes head followed by items joined by sep (" " or ", "),
// broken between items into lines of at most width columns (an item is never
// cut), the continuation lines starting with indent.
func writeWrapped(w io.Writer, head string, items []string, sep, indent string, width int) {
	line, fresh := head, true
	for k, piece := range items {
		if k < len(items)-1 {
			piece += strings.TrimRight(sep, " ")
		}
		gap := " "
		if fresh {
			gap = ""
		}
		if !fresh && utf8.RuneCountInString(line)+len(gap)+utf8.RuneCountInString(piece) > width {
			fmt.Fprintln(w, line)
			line, gap = indent, ""
		}
		line += gap + piece
		fresh = false
	}
	fmt.Fprintln(w, line)
}
