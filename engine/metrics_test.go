package engine

import (
	"math"
	"testing"
)

func TestCompareLogits(t *testing.T) {
	const V = 3
	near := func(a, b, tol float64) bool { return math.Abs(a-b) <= tol }
	t.Run("identical", func(t *testing.T) {
		base := []float32{1, 2, 3, 0, 0, 0, 5, 1, 1}
		m := CompareLogits(base, base, V, []int32{2, 1, 0}, 0, 1)
		// NLLs: row 0: log(e+e²+e³)−3; row 1: log 3; row 2: log(e⁵+2e)−5.
		wantNLL := (math.Log(math.E+math.Exp(2)+math.Exp(3)) - 3 + math.Log(3) + math.Log(math.Exp(5)+2*math.E) - 5) / 3
		if m.N != 3 || m.KLD != 0 || m.Top1Agree != 1 || m.DeltaPPLPct != 0 || m.DeltaPPLCI != [2]float64{0, 0} {
			t.Errorf("identical logits: %+v", m)
		}
		if !near(m.PPLBase, math.Exp(wantNLL), 1e-12) || m.PPL != m.PPLBase {
			t.Errorf("PPL %g / %g, want %g", m.PPLBase, m.PPL, math.Exp(wantNLL))
		}
	})
	t.Run("shifted", func(t *testing.T) {
		// Adding a constant to a row changes nothing.
		base := []float32{0, 1, 2, 2, 1, 0}
		comp := []float32{10, 11, 12, -5, -6, -7}
		m := CompareLogits(base, comp, V, []int32{0, 1}, 100, 2)
		if !near(m.KLD, 0, 1e-12) || m.Top1Agree != 1 || !near(m.DeltaPPLPct, 0, 1e-9) {
			t.Errorf("shifted logits: %+v", m)
		}
	})
	t.Run("two-token", func(t *testing.T) {
		// Base p = (½, ½) (logits 0, 0); comp p = (¼, ¾) (logits 0, ln 3);
		// target 0: NLL ln 2 → ln 4, so PPL 2 → 4, ΔPPL +100%;
		// KL = ½ln(½/¼) + ½ln(½/¾) = ½ln(4/3); argmax 0 vs 1.
		base := []float32{0, 0}
		comp := []float32{0, float32(math.Log(3))}
		m := CompareLogits(base, comp, 2, []int32{0}, 50, 3)
		if !near(m.PPLBase, 2, 1e-6) || !near(m.PPL, 4, 1e-5) || !near(m.DeltaPPLPct, 100, 1e-3) {
			t.Errorf("PPL %g → %g, Δ %g%%", m.PPLBase, m.PPL, m.DeltaPPLPct)
		}
		if !near(m.KLD, 0.5*math.Log(4.0/3), 1e-6) || m.Top1Agree != 0 {
			t.Errorf("KLD %g (want %g), top1 %g", m.KLD, 0.5*math.Log(4.0/3), m.Top1Agree)
		}
		// One position: every resample is that position.
		if !near(m.DeltaPPLCI[0], 100, 1e-3) || !near(m.DeltaPPLCI[1], 100, 1e-3) {
			t.Errorf("CI %v, want [100, 100]", m.DeltaPPLCI)
		}
	})
	t.Run("interval", func(t *testing.T) {
		// Half the positions get worse, half unchanged: the interval must
		// contain the point estimate, be seeded (reproducible) and not empty.
		var base, comp []float32
		var tg []int32
		for i := 0; i < 200; i++ {
			base = append(base, 0, 0)
			if i%2 == 0 {
				comp = append(comp, 0, 1)
			} else {
				comp = append(comp, 0, 0)
			}
			tg = append(tg, 0)
		}
		a := CompareLogits(base, comp, 2, tg, 1000, 9)
		b := CompareLogits(base, comp, 2, tg, 1000, 9)
		if a != b {
			t.Errorf("same seed, different results: %+v vs %+v", a, b)
		}
		if !(a.DeltaPPLCI[0] < a.DeltaPPLPct && a.DeltaPPLPct < a.DeltaPPLCI[1]) {
			t.Errorf("interval %v does not contain %g", a.DeltaPPLCI, a.DeltaPPLPct)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		m := CompareLogits([]float32{0, 1, 2}, []float32{0, 1}, 2, []int32{5, 0}, 0, 1)
		if m.N != 0 {
			t.Errorf("out-of-vocabulary target and short rows: N = %d, want 0", m.N)
		}
		if m := CompareLogits(nil, nil, 0, nil, 0, 1); m.N != 0 {
			t.Errorf("empty: %+v", m)
		}
	})
}
