package tui

import "nexusquant/stages"

// windowViews derives the tokens and layers panes' data from window 0's
// pipeline report and packed cache.
func windowViews(rep *stages.Report, packed *stages.Compressed) ([]float64, []headCell) {
	return nil, nil // TEMPORARY until the pipeline exposes positions and per-head errors
}
