package tui

import (
	"fmt"
	"time"

	"nexusquant/eval"
	"nexusquant/stages"
)

// humanCount formats a count with K/M/B suffixes (parameters, tokens).
func humanCount(n int64) string {
	f := float64(n)
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fB", f/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", f/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.0fK", f/1e3)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", f/1e3)
	}
	return fmt.Sprintf("%d", n)
}

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
