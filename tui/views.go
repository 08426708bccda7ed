package tui

import "nexusquant/stages"

// windowViews derives the tokens and layers panes' data from window 0's
// pipeline report and packed cache: per prefix token the share of (layer,
// KV head) keep lists that hold it, and the layer × head grid. With
// granularity global the heads of a layer share its list, but layers need
// not (a sliding-window layer holds only its window), so every layer counts.
func windowViews(rep *stages.Report, packed *stages.Compressed) ([]float64, []stages.HeadFigures) {
	cells := rep.Heads
	if packed == nil {
		return nil, cells
	}
	L, H, _ := packed.Dims()
	T := packed.PrefixLen()
	if T <= 0 || L*H == 0 {
		return nil, cells
	}
	counts := make([]int, T)
	lists := 0
	global := packed.Settings().Granularity == "global"
	for l := range L {
		for h := range H {
			for _, p := range packed.Positions(l, h) {
				if int(p) < T {
					counts[p]++
				}
			}
			lists++
			if global {
				break
			}
		}
	}
	share := make([]float64, T)
	for t, c := range counts {
		share[t] = float64(c) / float64(lists)
	}
	return share, cells
}
