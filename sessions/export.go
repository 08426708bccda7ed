package sessions

import (
	"encoding/csv"
	"io"
	"strconv"
	"time"
)

// WriteCSV writes one row per run of s: the time, the settings that vary
// between its runs (every setting when none varies, so a single run still
// says what it ran), then ratio_total, ratio_payload, ratio_resident,
// delta_ppl_pct with its interval (delta_ppl_ci_lo, delta_ppl_ci_hi), kld and
// top1_agree. A run whose result lacks figures leaves them empty.
func WriteCSV(w io.Writer, s *Session) error {
	keys := VaryingSettings(s)
	if len(keys) == 0 && len(s.Runs) > 0 {
		keys = unionKeys(s.Runs[0].SettingsMap())
	}
	cw := csv.NewWriter(w)
	head := append([]string{"time"}, keys...)
	head = append(head, "ratio_total", "ratio_payload", "ratio_resident", "delta_ppl_pct", "delta_ppl_ci_lo", "delta_ppl_ci_hi", "kld", "top1_agree")
	if err := cw.Write(head); err != nil {
		return err
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for i := range s.Runs {
		r := &s.Runs[i]
		m := r.SettingsMap()
		row := []string{r.Time.UTC().Format(time.RFC3339)}
		for _, k := range keys {
			v := ""
			if x, ok := m[k]; ok {
				v = FormatValue(x)
			}
			row = append(row, v)
		}
		if f, err := r.Figures(); err == nil {
			row = append(row, num(f.RatioTotal), num(f.RatioPayload), num(f.RatioResident), num(f.DeltaPPLPct),
				num(f.DeltaPPLCI[0]), num(f.DeltaPPLCI[1]), num(f.KLD), num(f.Top1Agree))
		} else {
			row = append(row, make([]string, 8)...)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
