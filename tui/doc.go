// Package tui will hold the terminal explorer of ../shared/TUI.md (Bubble Tea
// v2): settings, the per-stage memory chart, the quality chart and the greedy
// text diff, driven by eval.Explorer off the UI goroutine.
//
// Not built yet: the commands (eval, sweep, compress, presets, sessions) are
// the way to use nexusquant today.
package tui
