package eval

import (
	"fmt"

	"nexusquant/engine"
	"nexusquant/stages"
)

// LayerAttn describes each layer of a model as the stages treat it: its
// sliding window, whether it has RoPE, whether keys are QK-normalised.
func LayerAttn(c engine.Config) []stages.LayerAttn {
	out := make([]stages.LayerAttn, c.Layers)
	for l := range out {
		li := c.Layer(l)
		out[l] = stages.LayerAttn{Window: li.Window, NoRoPE: !li.RoPE, QKNorm: li.QKNorm}
	}
	return out
}

// checkLayers verifies that a packed cache records the model's layer types
// (a cache is decoded with the model's per-layer RoPE and masks).
func checkLayers(c *stages.Compressed, m *engine.Model) error {
	for l, want := range LayerAttn(m.Config) {
		if got := c.Layer(l); got != want {
			return fmt.Errorf("cache layer %d is %s, the model's is %s", l, got.Label(), want.Label())
		}
	}
	return nil
}

// layered reports whether any layer of a report is not a plain full-attention
// layer with RoPE (then the per-layer figures are worth printing).
func layered(r *stages.Report) bool {
	for _, l := range r.Layers {
		if l.LayerAttn != (stages.LayerAttn{}) {
			return true
		}
	}
	return false
}
