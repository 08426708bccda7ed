package tui

import (
	"fmt"
	"time"

	"nexusquant/eval"
	"nexusquant/stages"
)

// fmtDur formats a duration for the status line.
func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.0f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

// describeRun names a run's settings: the preset, or the main figures.
func describeRun(s stages.Settings) string {
	if p := presetName(s); p != "custom" {
		return p
	}
	return eval.Describe(s)
}
