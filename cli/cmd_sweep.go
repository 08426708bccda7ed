package cli

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/guptarohit/asciigraph"

	"nexusquant/eval"
	"nexusquant/stages"
)

func init() {
	register(&command{name: "sweep", summary: "run a grid of settings over one prefill; table sorted by ratio, Pareto front marked", run: runSweep})
}

func runSweep(env *Env, args []string) error {
	fs := newFlags(env, "sweep", "--model M (--file F | --prompt P) [--eviction-rates 0,0.35,0.6,0.8] [--bits 2/2,3/2] [--lattices e8,relaxed,scalar] [--scorers …] [--methods …] [--json|--csv]")
	tf := addTextFlags(fs, 128)
	sf := addSettingsFlags(fs)
	rates := fs.String("eviction-rates", "0,0.35,0.6,0.8", "eviction rates to cross")
	bits := fs.String("bits", "2/2,3/2", "key/value bit pairs to cross")
	lattices := fs.String("lattices", "e8,relaxed,scalar", "lattices to cross")
	scorers := fs.String("scorers", "", "scorers to cross (default: the base setting's)")
	methods := fs.String("methods", "nexusquant", "methods: nexusquant and baselines ("+strings.Join(stages.Methods(), ", ")+")")
	asJSON := fs.Bool("json", false, "print {\"rows\": [eval objects with \"pareto\"]}")
	asCSV := fs.Bool("csv", false, "print CSV")
	if err := parse(fs, args); err != nil {
		return err
	}
	base, err := sf.resolve()
	if err != nil {
		return err
	}
	var g eval.Grid
	if g.EvictionRates, err = eval.ParseFloats(*rates); err != nil {
		return usagef("--eviction-rates: %v", err)
	}
	if g.Bits, err = eval.ParseBits(*bits); err != nil {
		return usagef("--bits: %v", err)
	}
	g.Lattices, g.Scorers, g.Methods = eval.SplitList(*lattices), eval.SplitList(*scorers), eval.SplitList(*methods)
	grid, err := g.Expand(base)
	if err != nil {
		return usageError{err}
	}
	ctx := env.Ctx
	quiet := *asJSON || *asCSV
	runner, ex, _, err := tf.explorer(env, base.ObsWindow, 0, quiet)
	if err != nil {
		return err
	}
	defer runner.Close()
	for _, s := range grid {
		if err := ex.Check(s); err != nil {
			return err
		}
	}
	draw, clear := progressLine(env.Stderr, quiet)
	rows, err := ex.Sweep(ctx, grid, func(i, n int, r *eval.Report) {
		draw("run %d/%d: %.2f×, ΔPPL %+.2f%%", i+1, n, r.RatioTotal, r.DeltaPPLPct)
	})
	clear()
	if err != nil {
		return err
	}
	switch {
	case *asJSON:
		return writeJSON(env.Stdout, map[string]any{"rows": rows})
	case *asCSV:
		return writeSweepCSV(env.Stdout, rows)
	}
	printSweep(env.Stdout, rows)
	return nil
}

// label is a row's short description.
func label(r *eval.Report) string {
	s := r.Settings
	if r.Method != stages.MethodNexusQuant {
		return r.Method
	}
	return fmt.Sprintf("%v ρ%.2f K%vV%v %v", s["scorer"], s["eviction-rate"], s["key-bits"], s["value-bits"], s["lattice"])
}

// series is the plot line a row belongs to: its lattice, or its method.
func series(r *eval.Report) string {
	if r.Method != stages.MethodNexusQuant {
		return r.Method
	}
	return fmt.Sprint(r.Settings["lattice"])
}

func printSweep(w io.Writer, rows []*eval.Report) {
	fmt.Fprintf(w, "%-34s %9s %9s %10s %18s %8s %7s %s\n", "settings", "ratio", "payload", "ΔPPL %", "95% interval", "KLD", "top-1", "pareto")
	for _, r := range rows {
		mark := ""
		if r.Pareto != nil && *r.Pareto {
			mark = "◆"
		}
		fmt.Fprintf(w, "%-34s %8.2f× %8.2f× %+10.2f [%+7.2f, %+7.2f] %8.4f %6.1f%% %s\n",
			label(r), r.RatioTotal, r.RatioPayload, r.DeltaPPLPct, r.DeltaPPLCI[0], r.DeltaPPLCI[1], r.KLD, 100*r.Top1Agree, mark)
	}
	if plot := sweepPlot(rows, 64, 12); plot != "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, plot)
	}
}

// sweepPlot draws ΔPPL % against ratio_total: for each lattice (or baseline
// method) its own Pareto front — the best ΔPPL reached at each ratio — as a
// line drawn with the series' initial, so the plot reads without colour.
func sweepPlot(rows []*eval.Report, width, height int) string {
	if len(rows) < 2 {
		return ""
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range rows {
		lo, hi = math.Min(lo, r.RatioTotal), math.Max(hi, r.RatioTotal)
	}
	if hi-lo < 1e-9 {
		return ""
	}
	groups := map[string][]*eval.Report{}
	var names []string
	for _, r := range rows {
		k := series(r)
		if _, ok := groups[k]; !ok {
			names = append(names, k)
		}
		groups[k] = append(groups[k], r)
	}
	sort.Strings(names)
	col := func(x float64) int { return int(math.Round((x - lo) / (hi - lo) * float64(width-1))) }
	var data [][]float64
	var chars []asciigraph.CharSet
	var legend []string
	used := map[string]bool{}
	for _, name := range names {
		front := eval.Front(groups[name])
		line := make([]float64, width)
		for i := range line {
			line[i] = math.NaN()
		}
		for i, p := range front {
			c := col(p.RatioTotal)
			line[c] = p.DeltaPPLPct
			if i > 0 { // join to the previous front point
				c0, y0 := col(front[i-1].RatioTotal), front[i-1].DeltaPPLPct
				for x := c0 + 1; x < c; x++ {
					line[x] = y0 + (p.DeltaPPLPct-y0)*float64(x-c0)/float64(c-c0)
				}
			}
		}
		data = append(data, line)
		mark := uniqueMark(name, used)
		used[mark] = true
		chars = append(chars, asciigraph.CreateCharSet(mark))
		legend = append(legend, mark+" "+name)
	}
	plot := asciigraph.PlotMany(data, asciigraph.Height(height), asciigraph.Width(width),
		asciigraph.XAxisRange(lo, hi), asciigraph.XAxisTickCount(5), asciigraph.SeriesChars(chars...),
		asciigraph.Caption("ΔPPL % (each series' Pareto front) against ratio_total (×)"))
	return plot + "\n  " + strings.Join(legend, "   ")
}

// uniqueMark picks the first character of name that no earlier series drew
// with (kivi2 and kivi4 become k and i), falling back to digits.
func uniqueMark(name string, used map[string]bool) string {
	for _, r := range name + "0123456789" {
		if m := string(r); !used[m] {
			return m
		}
	}
	return "*"
}

func writeSweepCSV(w io.Writer, rows []*eval.Report) error {
	cw := csv.NewWriter(w)
	head := []string{"method", "scorer", "eviction_rate", "key_bits", "value_bits", "lattice", "ratio_total", "ratio_payload", "ratio_resident", "delta_ppl_pct", "ci_lo", "ci_hi", "kld", "top1_agree", "ppl_base", "ppl", "pareto"}
	if err := cw.Write(head); err != nil {
		return err
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }
	for _, r := range rows {
		s := r.Settings
		rec := []string{r.Method, fmt.Sprint(s["scorer"]), fmt.Sprint(s["eviction-rate"]), fmt.Sprint(s["key-bits"]), fmt.Sprint(s["value-bits"]), fmt.Sprint(s["lattice"]),
			f(r.RatioTotal), f(r.RatioPayload), f(r.RatioResident), f(r.DeltaPPLPct), f(r.DeltaPPLCI[0]), f(r.DeltaPPLCI[1]), f(r.KLD), f(r.Top1Agree), f(r.PPLBase), f(r.PPL),
			strconv.FormatBool(r.Pareto != nil && *r.Pareto)}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
