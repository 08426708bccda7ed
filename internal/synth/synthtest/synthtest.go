// Package synthtest writes the synthetic models of internal/synth for tests.
package synthtest

import (
	"path/filepath"
	"testing"

	"nexusquant/engine/gguf"
	"nexusquant/internal/synth"
)

// File writes the synthetic model called name (e.g. "syn-gemma3") with
// matrices of type typ (F16 or Q8_0) into a temporary folder of t and
// returns its path; it fails t on any error. A file takes a second or so.
func File(t testing.TB, name string, typ gguf.Type) string {
	t.Helper()
	spec, err := synth.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), synth.FileName(spec, typ))
	if err := synth.Write(path, spec, typ); err != nil {
		t.Fatal(err)
	}
	return path
}
