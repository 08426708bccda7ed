package eval

import (
	"testing"

	"nexusquant/stages"
)

func TestMarkPareto(t *testing.T) {
	rows := []*Report{
		{RatioTotal: 2, DeltaPPLPct: 1},  // front
		{RatioTotal: 4, DeltaPPLPct: 3},  // front
		{RatioTotal: 3, DeltaPPLPct: 5},  // dominated by (4, 3)
		{RatioTotal: 8, DeltaPPLPct: 10}, // front
		{RatioTotal: 1, DeltaPPLPct: 1},  // dominated by (2, 1)? no: not lower ΔPPL → front
	}
	MarkPareto(rows)
	want := []bool{true, true, false, true, true}
	for i, r := range rows {
		if *r.Pareto != want[i] {
			t.Errorf("row %d (%.0f×, %.0f%%) pareto = %v, want %v", i, r.RatioTotal, r.DeltaPPLPct, *r.Pareto, want[i])
		}
	}
}

func TestGridExpand(t *testing.T) {
	g := Grid{EvictionRates: []float64{0, 0.6}, Bits: [][2]int{{2, 2}, {3, 2}}, Lattices: []string{"e8", "scalar"},
		Methods: []string{"nexusquant", "q8_0"}}
	grid, err := g.Expand(stages.DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	if len(grid) != 2*2*2+1 {
		t.Fatalf("%d combinations, want 9", len(grid))
	}
	// Bits vary fastest, so consecutive runs share eviction and rotation.
	if grid[0].KeyBits != 2 || grid[1].KeyBits != 3 || grid[0].Lattice != grid[1].Lattice {
		t.Errorf("bits do not vary innermost: %+v, %+v", grid[0], grid[1])
	}
	if grid[8].Method != "q8_0" {
		t.Errorf("baseline row missing: %+v", grid[8])
	}
	if _, err := (Grid{Lattices: []string{"d4"}}).Expand(stages.DefaultSettings()); err == nil {
		t.Error("unknown lattice accepted")
	}
	if b, err := ParseBits("2/2, 3/2,4"); err != nil || len(b) != 3 || b[2] != [2]int{4, 4} {
		t.Errorf("ParseBits = %v, %v", b, err)
	}
	if _, err := ParseBits("2/x"); err == nil {
		t.Error("bad bits accepted")
	}
}
