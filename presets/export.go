package presets

import (
	"encoding/json"
	"fmt"
	"strings"

	"nexusquant/stages"
)

// Export formats: FormatNexusQuant is our full format (what preset files hold,
// every setting); FormatPython is the keyword arguments of the Python
// library's nexusquant_evict (SPEC §9). "full" is accepted for
// FormatNexusQuant.
const (
	FormatNexusQuant = "nexusquant"
	FormatPython     = "python"
)

// Formats lists the export formats.
var Formats = []string{FormatNexusQuant, FormatPython}

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
// fails for a method or scorer the Python library does not have, and returns
// as notes the settings it cannot express: each one whose value differs from
// what the library always does (relaxed lattice, one global keep set,
// Hadamard without signs, RoPE undo, delta coding, zstd at its highest level,
// no protected layers, no blocks of kept tokens). Notes name settings by
// their kebab-case keys.
func ExportPython(s stages.Settings) ([]byte, []string, error) {
	if s.Method != stages.MethodNexusQuant {
		return nil, nil, fmt.Errorf("method %q has no Python nexusquant_evict equivalent", s.Method)
	}
	if s.Scorer != "keykey" {
		return nil, nil, fmt.Errorf("scorer %q has no Python nexusquant_evict equivalent (only keykey → \"key-key\" is mapped)", s.Scorer)
	}
	def := stages.DefaultSettings()
	var notes []string
	note := func(differs bool, key, value, what string) {
		if differs {
			notes = append(notes, fmt.Sprintf("%s %s: %s", key, value, what))
		}
	}
	note(s.Lattice != "relaxed", "lattice", s.Lattice, "the Python library always searches its relaxed lattice")
	note(s.Granularity != "global", "granularity", s.Granularity, "the Python library keeps one global set")
	note(!s.Hadamard, "hadamard", "false", "the Python library always rotates")
	note(s.HadamardSigns, "hadamard-signs", "true", "the Python library rotates without signs")
	note(!s.RoPEUndo, "rope-undo", "false", "the Python library always undoes RoPE on keys")
	note(!s.Delta, "delta", "false", "the Python library always delta-codes")
	note(s.ZstdLevel != "best", "zstd-level", s.ZstdLevel, "the Python library always uses zstd level 22")
	note(s.ProtectBoundary != 0, "protect-boundary", fmt.Sprint(s.ProtectBoundary), "not a nexusquant_evict argument")
	note(s.BlockTokens != def.BlockTokens, "block-tokens", fmt.Sprint(s.BlockTokens), "the Python library does not cut its streams into blocks")
	k := PythonKwargs{EvictionRate: s.EvictionRate, KeyBits: s.KeyBits, ValueBits: s.ValueBits,
		SlidingWindow: s.SlidingWindow, ObsWindow: s.ObsWindow, Scorer: "key-key"}
	out, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	return append(out, '\n'), notes, nil
}

// Export renders a preset in the named format (FormatNexusQuant,
// FormatPython; "" and "full" mean FormatNexusQuant). The notes list the
// settings the format cannot express; the caller shows them (the CLI on
// stderr).
func Export(p *Preset, format string) ([]byte, []string, error) {
	switch format {
	case FormatNexusQuant, "full", "":
		b, err := Marshal(p)
		return b, nil, err
	case FormatPython:
		return ExportPython(p.Settings)
	}
	return nil, nil, fmt.Errorf("export format %q: want one of %s", format, strings.Join(Formats, ", "))
}
