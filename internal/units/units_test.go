package units

import (
	"math"
	"testing"
)

func TestBytes(t *testing.T) {
	for _, c := range []struct {
		in   int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1536, "1.5 KiB"}, {3 << 20, "3.00 MiB"}, {5 << 30, "5.00 GiB"}} {
		if got := Bytes(c.in); got != c.want {
			t.Errorf("Bytes(%d) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestCount(t *testing.T) {
	for _, c := range []struct {
		in   int64
		want string
	}{{950, "950"}, {7500, "7.5K"}, {131072, "131K"}, {1_200_000, "1.2M"}, {197_000_000, "197M"}, {3_400_000_000, "3.4B"}, {12_000_000_000, "12B"}} {
		if got := Count(c.in); got != c.want {
			t.Errorf("Count(%d) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestBar(t *testing.T) {
	for _, c := range []struct {
		frac  float64
		width int
		want  string
	}{{0, 4, "    "}, {1, 4, "████"}, {0.5, 4, "██  "}, {1.0 / 32, 4, "▏   "}, {2, 2, "██"}, {-1, 2, "  "}, {math.NaN(), 2, "  "}} {
		if got := Bar(c.frac, c.width); got != c.want {
			t.Errorf("Bar(%v, %d) = %q, want %q", c.frac, c.width, got, c.want)
		}
	}
}
