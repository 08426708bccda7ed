// Package units formats figures for people: byte counts in binary units,
// counts with K/M/B suffixes, and horizontal bars of eighth-block precision.
// The command line and the explorer share it so they print alike.
package units

import (
	"fmt"
	"math"
	"strings"
)

// Bytes formats a byte count in binary units: 512 B, 1.5 KiB, 2.25 MiB, 1.10 GiB.
func Bytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

// Count formats a count (tokens, parameters) with decimal suffixes: 950,
// 7.5K, 131K, 1.2M, 3.4B.
func Count(n int64) string {
	f := float64(n)
	switch {
	case n >= 1e10:
		return fmt.Sprintf("%.0fB", f/1e9)
	case n >= 1e9:
		return fmt.Sprintf("%.1fB", f/1e9)
	case n >= 1e7:
		return fmt.Sprintf("%.0fM", f/1e6)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", f/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.0fK", f/1e3)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", f/1e3)
	}
	return fmt.Sprintf("%d", n)
}

// Bar draws frac (clamped to 0..1; NaN as 0) of width cells with
// eighth-block precision, padded with spaces to width.
func Bar(frac float64, width int) string {
	if math.IsNaN(frac) {
		frac = 0
	}
	eighths := int(math.Round(math.Min(math.Max(frac, 0), 1) * float64(width*8)))
	out := strings.Repeat("█", eighths/8)
	if r := eighths % 8; r > 0 {
		out += string([]rune("▏▎▍▌▋▊▉")[r-1])
	}
	return out + strings.Repeat(" ", max(width-(eighths+7)/8, 0))
}
