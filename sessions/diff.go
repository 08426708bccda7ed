package sessions

import (
	"bytes"
	"encoding/json"
)

// DiffRow pairs the runs of two sessions that used the same settings; A or B
// is nil when only one session has a run with those settings.
type DiffRow struct {
	Settings json.RawMessage
	A, B     *Run
}

// Diff matches the runs of a and b by their settings (compared as canonical
// JSON), in a's order followed by the runs only b has. When a session holds
// several runs with the same settings, the latest one counts.
func Diff(a, b *Session) []DiffRow {
	key := func(r *Run) string { return canonical(r.Settings) }
	latest := func(s *Session) (map[string]*Run, []string) {
		m := map[string]*Run{}
		var order []string
		for i := range s.Runs {
			k := key(&s.Runs[i])
			if _, seen := m[k]; !seen {
				order = append(order, k)
			}
			m[k] = &s.Runs[i]
		}
		return m, order
	}
	ma, oa := latest(a)
	mb, ob := latest(b)
	var rows []DiffRow
	for _, k := range oa {
		rows = append(rows, DiffRow{Settings: ma[k].Settings, A: ma[k], B: mb[k]})
	}
	for _, k := range ob {
		if _, ok := ma[k]; !ok {
			rows = append(rows, DiffRow{Settings: mb[k].Settings, B: mb[k]})
		}
	}
	return rows
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
