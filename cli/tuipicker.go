package cli

import (
	"fmt"
	"os"

	"nexusquant/engine"
	"nexusquant/eval"
	"nexusquant/internal/demo"
	"nexusquant/internal/modelfind"
	"nexusquant/internal/units"
	"nexusquant/tui"
)

// pickerChoices are the explorer's start-up choices when no model is named:
// the embedded demos, then the GGUF files `nexusquant models` finds. With
// no file found it returns nil, and the explorer opens the default demo
// directly. A model on disk opens on the default demo's text.
func pickerChoices(found []modelfind.Found, base eval.Input) ([]tui.Choice, error) {
	if len(found) == 0 {
		return nil, nil
	}
	text, err := demo.Get("")
	if err != nil {
		return nil, err
	}
	var out []tui.Choice
	for _, name := range demo.Names() {
		d, err := demo.Get(name)
		if err != nil {
			return nil, err
		}
		in := base
		in.Kind, in.Path, in.Text = "file", d.TextName, d.Text
		out = append(out, tui.Choice{Label: "demo: " + d.Name, Detail: "embedded · " + d.File, Open: d.Load, Input: in, SourceName: "demo: " + d.TextName})
	}
	for _, f := range found {
		in := base
		in.Kind, in.Path, in.Text = "file", text.TextName, text.Text
		path := f.Path
		c := tui.Choice{Label: fmt.Sprintf("%s (%s)", f.Name, f.Source), Open: func() (*engine.Model, error) { return engine.Load(path) },
			Input: in, SourceName: "demo text: " + text.TextName, Err: f.Err}
		if sh := f.Shape; sh != nil {
			c.Detail = fmt.Sprintf("%s · %s · %s · ctx %d · %s", sh.Arch, units.Count(sh.Params), sh.WeightType, sh.Ctx, units.Bytes(f.Bytes))
			if !sh.Runnable && c.Err == "" {
				c.Err = fmt.Sprintf("architecture %s is not run by the engine (header only: nexusquant --shape-of FILE)", sh.Arch)
			}
			if avail, ok := engine.AvailableMemory(); ok && c.Err == "" && os.Getenv("NEXUSQUANT_IGNORE_MEMORY") == "" {
				if err := engine.CheckFits(sh, avail); err != nil {
					c.Err = fmt.Sprintf("%.1f GB of weights, %.1f GB of memory available", float64(sh.WeightBytes)/1e9, float64(avail)/1e9)
				}
			}
		}
		out = append(out, c)
	}
	return out, nil
}
