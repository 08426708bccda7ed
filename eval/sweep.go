package eval

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"nexusquant/stages"
)

// Grid lists the values a sweep crosses. Empty lists keep the base settings'
// value. Methods other than nexusquant (the baselines) ignore the other lists
// and add one row each.
type Grid struct {
	Methods       []string
	EvictionRates []float64
	Bits          [][2]int // key/value bits pairs
	Lattices      []string
	Scorers       []string
}

// ParseBits parses "2/2,3/2" into key/value pairs.
func ParseBits(s string) ([][2]int, error) {
	var out [][2]int
	for _, p := range SplitList(s) {
		k, v, ok := strings.Cut(p, "/")
		if !ok {
			v = k
		}
		kb, err1 := strconv.Atoi(k)
		vb, err2 := strconv.Atoi(v)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bits %q: want KEY/VALUE pairs such as 2/2,3/2", p)
		}
		out = append(out, [2]int{kb, vb})
	}
	return out, nil
}

// ParseFloats parses a comma-separated list of numbers.
func ParseFloats(s string) ([]float64, error) {
	var out []float64
	for _, p := range SplitList(s) {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", p)
		}
		out = append(out, f)
	}
	return out, nil
}

// SplitList splits a comma-separated list, trimming spaces and dropping empty
// items.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Expand returns every settings combination of the grid over base, ordered so
// consecutive runs share the most pipeline stages (scorer outermost, bits
// innermost), each validated.
func (g Grid) Expand(base stages.Settings) ([]stages.Settings, error) {
	rates := or(g.EvictionRates, base.EvictionRate)
	bits := or(g.Bits, [2]int{base.KeyBits, base.ValueBits})
	var out []stages.Settings
	for _, method := range or(g.Methods, base.Method) {
		s := base
		s.Method = method
		if method != stages.MethodNexusQuant {
			if err := s.Validate(); err != nil {
				return nil, err
			}
			out = append(out, s)
			continue
		}
		for _, sc := range or(g.Scorers, base.Scorer) {
			for _, r := range rates {
				for _, lat := range or(g.Lattices, base.Lattice) {
					for _, b := range bits {
						s.Scorer, s.EvictionRate, s.Lattice, s.KeyBits, s.ValueBits = sc, r, lat, b[0], b[1]
						if err := s.Validate(); err != nil {
							return nil, err
						}
						out = append(out, s)
					}
				}
			}
		}
	}
	return out, nil
}

// or returns xs, or just d when xs is empty.
func or[T any](xs []T, d T) []T {
	if len(xs) == 0 {
		return []T{d}
	}
	return xs
}

// Sweep runs every settings combination over the explorer's windows (one
// prefill per window, reused) and returns the reports sorted by ratio_total,
// with the Pareto front marked. onRow, when set, is called after each run.
func (e *Explorer) Sweep(ctx context.Context, grid []stages.Settings, onRow func(i, n int, r *Report)) ([]*Report, error) {
	var rows []*Report
	for i, s := range grid {
		res, err := e.Run(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("run %d (%s): %w", i+1, Describe(s), err)
		}
		r := NewReport(e, res)
		rows = append(rows, r)
		if onRow != nil {
			onRow(i, len(grid), r)
		}
	}
	MarkPareto(rows)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].RatioTotal < rows[j].RatioTotal })
	return rows, nil
}

// MarkPareto sets Pareto on every row: true when no other row has both a
// higher ratio_total and a lower delta_ppl_pct.
func MarkPareto(rows []*Report) {
	for _, r := range rows {
		front := !dominated(r, rows)
		r.Pareto = &front
	}
}

// Front returns the rows of the Pareto front of rows, in ratio order.
func Front(rows []*Report) []*Report {
	var out []*Report
	for _, r := range rows {
		if !dominated(r, rows) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RatioTotal < out[j].RatioTotal })
	return out
}

// dominated reports whether another row has both a higher ratio_total and a
// lower delta_ppl_pct than r.
func dominated(r *Report, rows []*Report) bool {
	for _, o := range rows {
		if o.RatioTotal > r.RatioTotal && o.DeltaPPLPct < r.DeltaPPLPct {
			return true
		}
	}
	return false
}

// Describe is a short label of the settings a sweep varies.
func Describe(s stages.Settings) string {
	if s.Method != stages.MethodNexusQuant {
		return s.Method
	}
	return fmt.Sprintf("%s ρ%.2f K%dV%d %s", s.Scorer, s.EvictionRate, s.KeyBits, s.ValueBits, s.Lattice)
}
