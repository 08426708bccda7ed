package engine_test

import (
	"fmt"
	"math"

	"nexusquant/engine"
)

// Two positions over a two-token vocabulary: the compressed run puts less
// probability on the targets, so perplexity rises.
func ExampleCompareLogits() {
	base := []float32{0, 0, 0, 0} // p = (½, ½) at both positions
	comp := []float32{0, float32(math.Log(3)), 0, 0}
	m := engine.CompareLogits(base, comp, 2, []int32{0, 1}, 0, 1)
	fmt.Printf("ppl %.3f → %.3f (%+.1f%%), kld %.4f, top1 %.2f, n %d\n",
		m.PPLBase, m.PPL, m.DeltaPPLPct, m.KLD, m.Top1Agree, m.N)
	// Output: ppl 2.000 → 2.828 (+41.4%), kld 0.0719, top1 0.50, n 2
}
