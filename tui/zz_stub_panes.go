package tui

// TEMPORARY: replaced by wt-panes.
type qualityPane struct{}
type tokensPane struct{}
type layersPane struct{}
type continuationPane struct{}
type capacityPane struct{}

func (qualityPane) Title() string                                { return "Quality" }
func (qualityPane) Render(*state, *Styles, int, int) string      { return "" }
func (tokensPane) Title() string                                 { return "Tokens" }
func (tokensPane) Render(*state, *Styles, int, int) string       { return "" }
func (layersPane) Title() string                                 { return "Layers" }
func (layersPane) Render(*state, *Styles, int, int) string       { return "" }
func (continuationPane) Title() string                           { return "Continuation (greedy)" }
func (continuationPane) Render(*state, *Styles, int, int) string { return "" }
func (capacityPane) Title() string                               { return "Capacity" }
func (capacityPane) Render(*state, *Styles, int, int) string     { return "" }
