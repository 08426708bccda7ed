//go:build unix

package cputime

import "testing"

func TestProcessGrows(t *testing.T) {
	before := Process()
	x := 0
	for i := 0; i < 50_000_000; i++ {
		x += i % 7
	}
	if after := Process(); after <= before || x == 0 {
		t.Errorf("CPU time %v → %v after a busy loop", before, after)
	}
}
