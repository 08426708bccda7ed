package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"nexusquant/engine"
)

// writeJSON writes v as indented JSON followed by a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// loadModel opens a GGUF model, with a usage error when the flag is missing.
func loadModel(path string) (*engine.Model, error) {
	if path == "" {
		return nil, usagef("--model is required (a GGUF file; `nexusquant models` lists the ones on this machine)")
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	if err := checkMemory(path); err != nil {
		return nil, err
	}
	return engine.Load(path)
}

// loadTokenizedModel is loadModel for commands that turn text into tokens:
// a file without a tokenizer in its metadata is refused with its name.
func loadTokenizedModel(path string) (*engine.Model, error) {
	m, err := loadModel(path)
	if err != nil {
		return nil, err
	}
	if m.Tok == nil {
		m.Close()
		return nil, fmt.Errorf("model %s has no tokenizer in its metadata (tokenizer.ggml.*): it cannot read text", path)
	}
	return m, nil
}

// isTerminal reports whether w is a character device (progress lines are
// drawn only there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressLine returns a function that redraws one status line on a terminal
// and does nothing elsewhere, and a function that ends the line.
func progressLine(w io.Writer, quiet bool) (func(format string, args ...any), func()) {
	if quiet || !isTerminal(w) {
		return func(string, ...any) {}, func() {}
	}
	drawn := false
	return func(format string, args ...any) {
			fmt.Fprintf(w, "\r\x1b[K"+format, args...)
			drawn = true
		}, func() {
			if drawn {
				fmt.Fprint(w, "\r\x1b[K")
			}
		}
}

// checkMemory refuses a model whose weights exceed the available memory,
// before it is loaded, unless NEXUSQUANT_IGNORE_MEMORY is set.
func checkMemory(path string) error {
	if os.Getenv("NEXUSQUANT_IGNORE_MEMORY") != "" {
		return nil
	}
	avail, ok := engine.AvailableMemory()
	if !ok {
		return nil
	}
	sh, err := engine.ReadShape(path)
	if err != nil {
		return nil // not readable: loading it says why (on screen, in the explorer)
	}
	return engine.CheckFits(sh, avail)
}
