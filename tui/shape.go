package tui

import "nexusquant/engine"

// modelShape is the loaded model's shape for the header and capacity pane.
// TEMPORARY until engine.Model.Shape lands.
func modelShape(m *engine.Model) engine.Shape {
	c := m.Config
	return engine.Shape{Path: m.Path, Arch: c.Arch, Layers: c.Layers, KVHeads: c.KVHeads, HeadDim: c.HeadDim, Ctx: c.Ctx}
}
