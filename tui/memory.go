package tui

import (
	"fmt"
	"math"
	"strings"

	"nexusquant/internal/units"
	"nexusquant/stages"
)

// memoryPane answers "how many bytes, after which stage": one bar per stage
// against the float16 baseline, bytes in human units, the cumulative ratio,
// and the three ratios of SPEC §7 side by side; for a model with more than
// one layer type (sliding window, no RoPE), the bytes of each type.
type memoryPane struct{}

func (memoryPane) Title() string { return "Memory after each stage" }

func (memoryPane) Render(st *state, sty *Styles, w, h int) string {
	rows, stale := memoryRows(st)
	if len(rows) == 0 {
		return sty.Dim.Render("waiting for the first run…")
	}
	base := rows[0].Bytes
	showMs := w >= 66
	fixed := 10 + 1 + 1 + 10 + 1 + 7 // name, bar gaps, bytes, ratio
	if showMs {
		fixed += 9
	}
	barW := max(w-fixed, 4)
	var lines []string
	line := func(name string, bytes int64, st stages.StageReport, isStage, dim bool) {
		frac := float64(bytes) / float64(max(base, 1))
		bar := units.Bar(frac, barW)
		bs := sty.Bar
		if !isStage {
			bs = sty.BarBaseline
		}
		r := fmt.Sprintf("%6.1f×", 1/math.Max(frac, 1e-12))
		l := fmt.Sprintf("%-10s %s %10s %s", name, bs.Render(bar), units.Bytes(bytes), r)
		if showMs && isStage {
			ms := fmt.Sprintf("%5.0f ms", st.Ms)
			if st.Cached {
				ms = "  memo "
			}
			l += " " + sty.Dim.Render(ms)
		}
		if dim {
			l = sty.Dim.Render(stripStyle(l))
		}
		lines = append(lines, l)
	}
	line("fp16", base, stages.StageReport{}, false, false)
	for i, r := range rows {
		line(stageLabel(r.Name), r.Bytes, r, true, i >= len(st.cur.stages) && stale)
	}
	if rep := ratiosReport(st); rep != nil {
		lines = append(lines, fmt.Sprintf("payload %s   total %s   resident %s",
			sty.Value.Render(timesNum(rep.RatioPayload)), sty.Title.Render(timesNum(rep.RatioTotal)), sty.Value.Render(timesNum(rep.RatioResident))))
		lines = append(lines, kindLines(rep, sty, w)...)
		if h > len(lines) {
			lines = append(lines, sty.Dim.Render(fmt.Sprintf("positions %s · scales %s · blocking %+.1f%% · %s stored",
				rep.PositionEncoding, rep.ScalesEncoding, rep.Blocking.CostPct, units.Bytes(rep.Stored.Total()))))
		}
	}
	return strings.Join(lines[:min(len(lines), max(h, 0))], "\n")
}

// kindLines are the bytes of each layer type at width w, for a report with
// more than one type (nil otherwise): "sliding ×5 240.0 KiB → 33.8 KiB
// 7.1×", and a note on the baseline when sliding windows cap it. The
// explorer gives the memory pane these lines on top of its usual height.
func kindLines(rep *stages.Report, sty *Styles, w int) []string {
	if rep == nil || len(rep.Kinds) < 2 {
		return nil
	}
	var parts []string
	for _, k := range rep.Kinds {
		parts = append(parts, fmt.Sprintf("%s ×%d %s → %s %s", sty.Label.Render(k.Kind), k.Layers,
			units.Bytes(k.BaselineBytes), units.Bytes(k.StoredBytes), sty.Value.Render(timesNum(k.Ratio))))
	}
	if rep.SlidingLayers > 0 {
		parts = append(parts, sty.Dim.Render(fmt.Sprintf("fp16 counts %d-token windows", rep.SlidingWindow)))
	}
	return flowParts(w, "  ·  ", parts)
}

// memoryRows are the stage rows to draw: the current run's as they arrive,
// completed by the previous run's (stale, drawn dim) until they do.
func memoryRows(st *state) ([]stages.StageReport, bool) {
	rows := append([]stages.StageReport(nil), st.cur.stages...)
	if st.cur.report != nil {
		rows = st.cur.report.Stages
	}
	stale := false
	if len(rows) < len(stages.StageNames) && st.prev != nil && st.prev.report != nil {
		rows = append(rows, st.prev.report.Stages[len(rows):]...)
		stale = true
	}
	return rows, stale
}

// ratiosReport is the report whose ratios the pane shows: the current run's,
// else the previous one's.
func ratiosReport(st *state) *stages.Report {
	if st.cur.report != nil {
		return st.cur.report
	}
	if st.prev != nil {
		return st.prev.report
	}
	return nil
}

// stageLabel is the stage's name as the chart shows it.
func stageLabel(name string) string {
	if name == stages.StageRoPE {
		return "rope undo"
	}
	return name
}
