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
		n    int64
		want string
	}{
		{0, "0"}, {7, "7"}, {950, "950"}, {999, "999"}, {1000, "1K"}, {1049, "1K"}, {1050, "1.1K"}, {7500, "7.5K"}, {9949, "9.9K"},
		{9950, "10K"}, {128_000, "128K"}, {131_072, "131K"}, {999_499, "999K"}, {999_500, "1M"}, {1_200_000, "1.2M"},
		{197_000_000, "197M"}, {3_400_000_000, "3.4B"}, {12_000_000_000, "12B"}, {3e12, "3T"}, {math.MaxInt64, "9223372T"}, {-1500, "-1.5K"},
	} {
		if got := Count(c.n); got != c.want {
			t.Errorf("Count(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

func TestDecimalBytes(t *testing.T) {
	for _, c := range []struct {
		b    int64
		want string
	}{{512, "512 B"}, {3_643_872, "3.6 MB"}, {24e9, "24 GB"}, {141e9, "141 GB"}} {
		if got := DecimalBytes(c.b); got != c.want {
			t.Errorf("DecimalBytes(%d) = %q, want %q", c.b, got, c.want)
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
