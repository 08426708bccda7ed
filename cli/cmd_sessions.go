package cli

import (
	"fmt"

	"nexusquant/sessions"
)

func init() {
	register(&command{name: "sessions", summary: "saved evaluations (list|show NAME|diff A B|rm NAME)", run: runSessions})
}

func runSessions(env *Env, args []string) error {
	if len(args) == 0 {
		args = []string{"list"}
	}
	store, err := sessions.Open()
	if err != nil {
		return err
	}
	sub, rest := args[0], args[1:]
	var pos []string
	var flags []string
	for _, a := range rest {
		if len(a) > 0 && a[0] == '-' {
			flags = append(flags, a)
		} else {
			pos = append(pos, a)
		}
	}
	fs := newFlags(env, "sessions "+sub, "")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, flags); err != nil {
		return err
	}
	need := map[string]int{"list": 0, "show": 1, "rm": 1, "diff": 2}
	n, ok := need[sub]
	if !ok {
		return usagef("sessions: unknown subcommand %q (list, show, diff, rm)", sub)
	}
	if len(pos) != n {
		return usagef("sessions %s takes %d name(s), got %d", sub, n, len(pos))
	}
	switch sub {
	case "list":
		all, errs := store.List()
		for _, e := range errs {
			fmt.Fprintln(env.Stderr, "warning:", e)
		}
		if *asJSON {
			if all == nil {
				all = []*sessions.Session{}
			}
			return writeJSON(env.Stdout, all)
		}
		if len(all) == 0 {
			fmt.Fprintln(env.Stdout, "no sessions in", store.Dir)
		}
		for _, s := range all {
			fmt.Fprintf(env.Stdout, "%-20s %3d runs  %s  %s  updated %s\n", s.Name, len(s.Runs), s.Model.Path, s.Text.Source, s.Updated.Format("2006-01-02 15:04"))
		}
		return nil
	case "show":
		s, err := store.Load(pos[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(env.Stdout, s)
		}
		fmt.Fprintf(env.Stdout, "session %s: model %s (%s), text %s, prefix %d, continuation %d, %d window(s)\n",
			s.Name, s.Model.Path, s.Model.Arch, s.Text.Source, s.Text.Prefix, s.Text.Continuation, s.Text.Windows)
		for i := range s.Runs {
			r := &s.Runs[i]
			f, _ := r.Figures()
			fmt.Fprintf(env.Stdout, "  %2d  ratio %6.2f×  ΔPPL %+7.2f%% [%+.2f, %+.2f]  KLD %.4f  top-1 %5.1f%%  %s\n",
				i+1, f.RatioTotal, f.DeltaPPLPct, f.DeltaPPLCI[0], f.DeltaPPLCI[1], f.KLD, 100*f.Top1Agree, string(r.Settings))
		}
		return nil
	case "rm":
		return store.Remove(pos[0])
	case "diff":
		a, err := store.Load(pos[0])
		if err != nil {
			return err
		}
		b, err := store.Load(pos[1])
		if err != nil {
			return err
		}
		rows := sessions.Diff(a, b)
		if *asJSON {
			type side struct {
				Figures *sessions.Figures `json:"figures"`
			}
			type row struct {
				Settings any  `json:"settings"`
				A        side `json:"a"`
				B        side `json:"b"`
			}
			out := []row{}
			for _, r := range rows {
				out = append(out, row{Settings: r.Settings, A: side{figs(r.A)}, B: side{figs(r.B)}})
			}
			return writeJSON(env.Stdout, out)
		}
		fmt.Fprintf(env.Stdout, "%-44s  %-30s  %-30s\n", "settings", a.Name, b.Name)
		for _, r := range rows {
			fmt.Fprintf(env.Stdout, "%-44.44s  %-30s  %-30s\n", string(r.Settings), cell(r.A), cell(r.B))
		}
		return nil
	}
	return nil
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

func cell(r *sessions.Run) string {
	f := figs(r)
	if f == nil {
		return "—"
	}
	return fmt.Sprintf("%6.2f×  ΔPPL %+6.2f%%  KLD %.3f", f.RatioTotal, f.DeltaPPLPct, f.KLD)
}
