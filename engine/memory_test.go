package engine

import (
	"bufio"
	"strings"
	"testing"
)

func TestCheckFits(t *testing.T) {
	sh := &Shape{Path: "/m/big.gguf", WeightBytes: 40e9}
	cases := []struct {
		avail int64
		ok    bool
	}{{0, true}, {-1, true}, {41e9, true}, {40e9, true}, {22e9, false}}
	for _, c := range cases {
		err := CheckFits(sh, c.avail)
		if (err == nil) != c.ok {
			t.Errorf("available %d: err %v, want ok=%v", c.avail, err, c.ok)
		}
		if err != nil && (!strings.Contains(err.Error(), "/m/big.gguf") || !strings.Contains(err.Error(), "40.0 GB") || !strings.Contains(err.Error(), "22.0 GB")) {
			t.Errorf("error lacks the file or the figures: %v", err)
		}
	}
}

func TestParseMemAvailable(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"MemTotal: 24000000 kB\nMemFree: 1000 kB\nMemAvailable: 22000000 kB\n", 22000000 << 10, true},
		{"MemTotal: 24000000 kB\n", 0, false},
		{"MemAvailable: lots kB\n", 0, false},
		{"MemAvailable: 12 MB\n", 0, false},
	}
	for _, c := range cases {
		got, ok := parseMemAvailable(bufio.NewScanner(strings.NewReader(c.in)))
		if got != c.want || ok != c.ok {
			t.Errorf("%q: %d %v, want %d %v", c.in, got, ok, c.want, c.ok)
		}
	}
	if n, ok := AvailableMemory(); ok && n <= 0 {
		t.Errorf("AvailableMemory = %d on this machine", n)
	}
}
