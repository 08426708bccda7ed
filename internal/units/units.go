// Package units formats figures for people: byte counts in binary units,
// counts with K/M/B suffixes, memory budgets in decimal units, and horizontal bars of eighth-block precision.
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

// Count formats a count (tokens, parameters) in thousands (K), millions
// (M), billions (B) or trillions (T): one decimal below 10 of a unit
// ("7.5K"), none above ("128K"), a bare number below 1000.
func Count(n int64) string {
	return si(float64(n), "", []string{"", "K", "M", "B", "T"})
}

// DecimalBytes formats a byte count in decimal units, as memory budgets are
// quoted: "512 B", "3.6 MB", "24 GB".
func DecimalBytes(b int64) string {
	return si(float64(b), " ", []string{"B", "KB", "MB", "GB", "TB"})
}

// si writes v in the largest of units (each 1000 times the one before,
// units[0] for v itself) that keeps it at least 1 after rounding, with sep
// between number and unit (none for an empty unit); below 10 of a unit other
// than the first it keeps one decimal.
func si(v float64, sep string, units []string) string {
	k := 0
	for k+1 < len(units) && math.Abs(v) >= 999.5 {
		v /= 1000
		k++
	}
	s := fmt.Sprintf("%.0f", v)
	if k > 0 && math.Abs(v) < 9.95 {
		s = strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0")
	}
	if units[k] == "" {
		return s
	}
	return s + sep + units[k]
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
