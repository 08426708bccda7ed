package presets

import (
	"encoding/json"
	"fmt"

	"nexusquant/stages"
)

// Formats lists the export formats.
var Formats = []string{"full", "python"}

// PythonKwargs is the keyword-argument object of the Python library's
// nexusquant_evict (SPEC §9).
type PythonKwargs struct {
	Quality       *string `json:"quality"`
	EvictionRate  float64 `json:"eviction_rate"`
	KeyBits       int     `json:"key_bits"`
	ValueBits     int     `json:"value_bits"`
	SlidingWindow int     `json:"sliding_window"`
	ObsWindow     int     `json:"obs_window"`
	Scorer        string  `json:"scorer"`
}

// ExportPython converts settings to nexusquant_evict keyword arguments. It
// fails for settings the Python library cannot express, and returns as notes
// the settings it silently does differently (the library always uses its own
// relaxed lattice, global keep set, Hadamard, RoPE undo and zstd level).
func ExportPython(s stages.Settings) ([]byte, []string, error) {
	if s.Method != stages.MethodNexusQuant {
		return nil, nil, fmt.Errorf("method %q has no Python nexusquant_evict equivalent", s.Method)
	}
	if s.Scorer != "keykey" {
		return nil, nil, fmt.Errorf("scorer %q has no Python nexusquant_evict equivalent (only keykey → \"key-key\" is mapped)", s.Scorer)
	}
	var notes []string
	def := stages.DefaultSettings()
	if s.Lattice != "relaxed" {
		notes = append(notes, fmt.Sprintf("lattice %s: the Python library always searches its relaxed lattice", s.Lattice))
	}
	if s.Granularity != def.Granularity {
		notes = append(notes, fmt.Sprintf("granularity %s: the Python library keeps one global set", s.Granularity))
	}
	if !s.Hadamard || !s.RoPEUndo || s.HadamardSigns {
		notes = append(notes, "hadamard/rope_undo/hadamard_signs: the Python library always rotates and undoes RoPE, without signs")
	}
	if s.ProtectBoundary != 0 {
		notes = append(notes, "protect_boundary: not a nexusquant_evict argument")
	}
	k := PythonKwargs{EvictionRate: s.EvictionRate, KeyBits: s.KeyBits, ValueBits: s.ValueBits,
		SlidingWindow: s.SlidingWindow, ObsWindow: s.ObsWindow, Scorer: "key-key"}
	out, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	return append(out, '\n'), notes, nil
}

// Export renders a preset in the named format.
func Export(p *Preset, format string) ([]byte, []string, error) {
	switch format {
	case "full", "":
		b, err := Marshal(p)
		return b, nil, err
	case "python":
		return ExportPython(p.Settings)
	}
	return nil, nil, fmt.Errorf("export format %q: want one of %v", format, Formats)
}
