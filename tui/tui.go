// Package tui is nexusquant's explorer: a Bubble Tea v2 terminal UI in which
// the user changes the compression settings live and sees, per stage, the
// bytes of the packed KV cache, the quality of the continuation from it
// (ΔPPL with its interval, KLD, top-1, a chart over the session's runs), the
// evicted tokens, a layer × head error map, the greedy continuations side by
// side and the context that fits a memory budget (../shared/TUI.md).
//
// The root Model (app.go) owns a state (state.go) that stateless panes
// (settings.go, memory.go, quality.go, tokens.go, layers.go,
// continuation.go, capacity.go, sessionsview.go) draw; view.go lays them out
// per terminal size and tab. picker.go is the start-up model picker and
// prompt.go the preset-name prompt of the p key. All model work runs in an eval.Runner, whose typed events arrive
// as EventMsg through a re-armed command; Update does no I/O (saving and
// exporting are commands). Styles and keys live in one struct each
// (styles.go, keymap.go).
package tui

import (
	"context"
	"io"

	tea "charm.land/bubbletea/v2"

	"nexusquant/eval"
)

// Options are the terminal plumbing of a program; the zero value uses the
// process's terminal.
type Options struct {
	Input  io.Reader
	Output io.Writer
	// Width and Height, when set, fix the size (tests).
	Width, Height int
}

// NewProgram returns the explorer program on cfg and the Runner it drives;
// the caller runs the program and then closes the Runner.
func NewProgram(ctx context.Context, cfg Config, o Options) (*tea.Program, *eval.Runner) {
	r := eval.NewRunner()
	opts := []tea.ProgramOption{tea.WithContext(ctx)}
	if o.Input != nil {
		opts = append(opts, tea.WithInput(o.Input))
	}
	if o.Output != nil {
		opts = append(opts, tea.WithOutput(o.Output))
	}
	if o.Width > 0 && o.Height > 0 {
		opts = append(opts, tea.WithWindowSize(o.Width, o.Height))
	}
	return tea.NewProgram(New(cfg, r), opts...), r
}

// Run opens the explorer on the terminal and returns when the user quits.
func Run(ctx context.Context, cfg Config, o Options) error {
	p, r := NewProgram(ctx, cfg, o)
	defer r.Close()
	_, err := p.Run()
	return err
}
