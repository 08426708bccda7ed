package sessions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Change is one setting whose value differs between the two runs of a pair.
type Change struct {
	Key string `json:"key"`
	A   any    `json:"a"`
	B   any    `json:"b"`
}

// DiffRow is a pair of runs of two sessions, or a run only one of them has
// (A or B nil). Settings are A's (B's for a run only B has).
type DiffRow struct {
	Settings json.RawMessage
	A, B     *Run
	// Changes lists, for a pair, the settings whose values differ between
	// A's and B's run, by key; empty when they ran the same settings.
	Changes []Change
}

// Paired reports whether the row holds a run of each session.
func (r *DiffRow) Paired() bool { return r.A != nil && r.B != nil }

// Diff pairs the runs of a and b by their settings. Runs with the same
// settings pair first; the runs left over then pair with the run of the other
// session whose settings differ from theirs in the fewest settings (ties go to
// the earlier runs), and Changes says which. When a session holds several runs
// with the same settings, the latest one counts. Rows come in a's order, then
// the runs only a has, then the runs only b has.
func Diff(a, b *Session) []DiffRow {
	ra, rb := latest(a), latest(b)
	sa, sb := decodeAll(ra), decodeAll(rb)
	pairOf := make([]int, len(ra)) // index into rb, or -1
	takenB := make([]bool, len(rb))
	for i := range ra {
		pairOf[i] = -1
		for j := range rb {
			if !takenB[j] && canonical(ra[i].Settings) == canonical(rb[j].Settings) {
				pairOf[i], takenB[j] = j, true
				break
			}
		}
	}
	type cand struct{ i, j, n int }
	var cands []cand
	for i := range ra {
		if pairOf[i] >= 0 {
			continue
		}
		for j := range rb {
			if !takenB[j] {
				cands = append(cands, cand{i, j, len(changes(sa[i], sb[j]))})
			}
		}
	}
	sort.SliceStable(cands, func(x, y int) bool { return cands[x].n < cands[y].n })
	for _, c := range cands {
		if pairOf[c.i] < 0 && !takenB[c.j] {
			pairOf[c.i], takenB[c.j] = c.j, true
		}
	}
	var rows, onlyA, onlyB []DiffRow
	for i, j := range pairOf {
		if j < 0 {
			onlyA = append(onlyA, DiffRow{Settings: ra[i].Settings, A: ra[i]})
			continue
		}
		rows = append(rows, DiffRow{Settings: ra[i].Settings, A: ra[i], B: rb[j], Changes: changes(sa[i], sb[j])})
	}
	for j := range rb {
		if !takenB[j] {
			onlyB = append(onlyB, DiffRow{Settings: rb[j].Settings, B: rb[j]})
		}
	}
	return append(append(rows, onlyA...), onlyB...)
}

// latest returns the runs of s, keeping for each distinct settings only the
// latest run, at the place of the first.
func latest(s *Session) []*Run {
	idx := map[string]int{}
	var out []*Run
	for i := range s.Runs {
		k := canonical(s.Runs[i].Settings)
		if at, seen := idx[k]; seen {
			out[at] = &s.Runs[i]
			continue
		}
		idx[k] = len(out)
		out = append(out, &s.Runs[i])
	}
	return out
}

func decodeAll(runs []*Run) []map[string]any {
	out := make([]map[string]any, len(runs))
	for i, r := range runs {
		out[i] = r.SettingsMap()
	}
	return out
}

// SettingsMap decodes the run's settings (nil when they are not a JSON
// object).
func (r *Run) SettingsMap() map[string]any {
	var m map[string]any
	if json.Unmarshal(r.Settings, &m) != nil {
		return nil
	}
	return m
}

// changes lists the keys whose values differ between a and b, sorted.
func changes(a, b map[string]any) []Change {
	var out []Change
	for _, k := range unionKeys(a, b) {
		if !reflect.DeepEqual(a[k], b[k]) {
			out = append(out, Change{Key: k, A: a[k], B: b[k]})
		}
	}
	return out
}

func unionKeys(ms ...map[string]any) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// VaryingSettings lists, sorted, the settings whose values are not the same
// in every run of the given sessions: what tells their runs apart.
func VaryingSettings(ss ...*Session) []string {
	var all []map[string]any
	for _, s := range ss {
		for i := range s.Runs {
			all = append(all, s.Runs[i].SettingsMap())
		}
	}
	var out []string
	for _, k := range unionKeys(all...) {
		for _, m := range all[1:] {
			if !reflect.DeepEqual(all[0][k], m[k]) {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// FormatValue writes a setting's value as the command line takes it ("—"
// for a setting the run does not have).
func FormatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "—"
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// Label writes the run's values of keys as "key=value key=value".
func (r *Run) Label(keys []string) string {
	m := r.SettingsMap()
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + FormatValue(m[k])
	}
	return strings.Join(parts, " ")
}

// Delta is how a pair's B run compares with its A run.
type Delta struct {
	DeltaPPLPct float64 `json:"delta_ppl_pct"` // B's ΔPPL minus A's, percentage points
	RatioTotal  float64 `json:"ratio_total"`   // B's ratio_total minus A's
	KLD         float64 `json:"kld"`           // B's KLD minus A's
	Top1Agree   float64 `json:"top1_agree"`    // B's top-1 agreement minus A's (fraction)
	// CIOverlap says whether the two ΔPPL intervals overlap (a difference
	// whose intervals overlap may be noise).
	CIOverlap bool `json:"ci_overlap"`
}

// Delta compares the pair's figures; nil for an unpaired row or a run whose
// result has no figures.
func (r *DiffRow) Delta() *Delta {
	if !r.Paired() {
		return nil
	}
	fa, ea := r.A.Figures()
	fb, eb := r.B.Figures()
	if ea != nil || eb != nil {
		return nil
	}
	return &Delta{
		DeltaPPLPct: fb.DeltaPPLPct - fa.DeltaPPLPct,
		RatioTotal:  fb.RatioTotal - fa.RatioTotal,
		KLD:         fb.KLD - fa.KLD,
		Top1Agree:   fb.Top1Agree - fa.Top1Agree,
		CIOverlap:   fa.DeltaPPLCI[0] <= fb.DeltaPPLCI[1] && fb.DeltaPPLCI[0] <= fa.DeltaPPLCI[1],
	}
}

// canonical re-encodes JSON with sorted keys and no spaces.
func canonical(raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(bytes.TrimSpace(raw))
	}
	out, _ := json.Marshal(v) // maps encode with sorted keys
	return string(out)
}
