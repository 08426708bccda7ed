package tui

import "nexusquant/engine"

// modelShape is the loaded model's shape for the header and capacity pane.
func modelShape(m *engine.Model) engine.Shape { return m.Shape() }
