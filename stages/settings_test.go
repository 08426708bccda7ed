package stages

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestDefaultSettingsValid(t *testing.T) {
	s := DefaultSettings()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"method": "nexusquant", "eviction_rate": "0.6", "sliding_window": "32", "obs_window": "32",
		"scorer": "keykey", "granularity": "global", "seed": "0", "rope_undo": "true", "hadamard": "true",
		"hadamard_signs": "false", "lattice": "e8", "key_bits": "2", "value_bits": "2", "delta": "true",
		"zstd_level": "best", "block_tokens": "256", "protect_boundary": "0", "sliding_layers": "compress",
	}
	if len(Fields()) != len(want) {
		t.Fatalf("%d fields, want %d", len(Fields()), len(want))
	}
	for _, f := range Fields() {
		if got := f.Default(); got != want[f.Name] {
			t.Errorf("default %s = %q, want %q", f.Name, got, want[f.Name])
		}
		if !slices.Contains(StageNames, f.Stage) || f.Usage == "" {
			t.Errorf("field %s: stage %q usage %q", f.Name, f.Stage, f.Usage)
		}
	}
}

// TestSettingsJSONTags checks that the JSON keys are exactly the flag names.
func TestSettingsJSONTags(t *testing.T) {
	b, err := json.Marshal(DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, f := range Fields() {
		if _, ok := m[f.Name]; !ok {
			t.Errorf("JSON lacks %s", f.Name)
		}
		delete(m, f.Name)
	}
	if len(m) != 0 {
		t.Errorf("JSON keys without a field: %v", m)
	}
	var back Settings
	if err := json.Unmarshal(b, &back); err != nil || back != DefaultSettings() {
		t.Fatalf("JSON round trip: %+v %v", back, err)
	}
}

func TestSettingsSetGet(t *testing.T) {
	values := map[string]string{
		"method": "none", "eviction_rate": "0.35", "sliding_window": "16", "obs_window": "8",
		"scorer": "h2o", "granularity": "head", "seed": "-7", "rope_undo": "false", "hadamard": "false",
		"hadamard_signs": "true", "lattice": "relaxed", "key_bits": "3", "value_bits": "8", "delta": "false",
		"zstd_level": "fastest", "block_tokens": "64", "protect_boundary": "2", "sliding_layers": "float16",
	}
	s := DefaultSettings()
	for _, f := range Fields() {
		if err := s.Set(f.Name, values[f.Name]); err != nil {
			t.Fatalf("Set(%s): %v", f.Name, err)
		}
	}
	for _, f := range Fields() {
		if got, err := s.Get(f.Name); err != nil || got != values[f.Name] {
			t.Errorf("Get(%s) = %q, %v; want %q", f.Name, got, err, values[f.Name])
		}
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("hadamard-signs", "off"); err != nil || s.HadamardSigns {
		t.Fatalf("hyphenated name / off: %v %v", err, s.HadamardSigns)
	}
	for _, bad := range [][2]string{{"nope", "1"}, {"key_bits", "two"}, {"eviction_rate", "x"}, {"delta", "maybe"}, {"seed", "1.5"}} {
		if err := s.Set(bad[0], bad[1]); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("Set(%s, %s) = %v, want an error naming it", bad[0], bad[1], err)
		}
	}
}

func TestSettingsValidate(t *testing.T) {
	cases := []struct {
		field, value, mentions string
	}{
		{"method", "kivi", "nexusquant"},
		{"eviction_rate", "1", "[0, 1)"},
		{"eviction_rate", "-0.1", "[0, 1)"},
		{"eviction_rate", "NaN", "[0, 1)"},
		{"sliding_window", "-1", "0.."},
		{"obs_window", "0", "1.."},
		{"scorer", "keys", "keykey"},
		{"granularity", "token", "global|layer|head"},
		{"lattice", "d8", "e8|relaxed|scalar"},
		{"key_bits", "7", "[2 3 4 5 6 8]"},
		{"value_bits", "1", "[2 3 4 5 6 8]"},
		{"zstd_level", "22", "fastest"},
		{"block_tokens", "0", "1..65536"},
		{"block_tokens", "65537", "1..65536"},
		{"protect_boundary", "-1", "0..1024"},
		{"sliding_layers", "quantize", "compress|float16"},
		{"sliding_layers", "", "compress|float16"},
	}
	for _, c := range cases {
		s := DefaultSettings()
		if err := s.Set(c.field, c.value); err != nil {
			t.Fatalf("Set(%s, %s): %v", c.field, c.value, err)
		}
		err := s.Validate()
		if err == nil {
			t.Errorf("%s=%s accepted", c.field, c.value)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.field) || !strings.Contains(msg, c.value) || !strings.Contains(msg, c.mentions) {
			t.Errorf("%s=%s: error %q should name the field, the value and %q", c.field, c.value, msg, c.mentions)
		}
	}
}

func TestFirstChangedStage(t *testing.T) {
	cases := []struct {
		field, value, want string
	}{
		{"scorer", "knorm", "score"},
		{"obs_window", "16", "score"},
		{"granularity", "layer", "score"},
		{"method", "none", "score"},
		{"eviction_rate", "0.5", "evict"},
		{"sliding_window", "4", "evict"},
		{"sliding_layers", "float16", "evict"},
		{"rope_undo", "false", "rope"},
		{"hadamard", "false", "hadamard"},
		{"hadamard_signs", "true", "hadamard"},
		{"lattice", "scalar", "quantize"},
		{"key_bits", "3", "quantize"},
		{"value_bits", "3", "quantize"},
		{"protect_boundary", "1", "quantize"},
		{"delta", "false", "entropy"},
		{"zstd_level", "fastest", "entropy"},
		{"block_tokens", "128", "entropy"},
		{"seed", "3", ""}, // keykey scorer, no signs: the seed is not read
		{"eviction_rate", "0.6", ""},
	}
	for _, c := range cases {
		a := DefaultSettings()
		b := a
		if err := b.Set(c.field, c.value); err != nil {
			t.Fatal(err)
		}
		if got := FirstChangedStage(a, b); got != c.want {
			t.Errorf("%s=%s: FirstChangedStage %q, want %q", c.field, c.value, got, c.want)
		}
		// Every field's Stage is where its change takes effect, when it does.
		for _, f := range Fields() {
			if f.Name == c.field && c.want != "" && f.Stage != c.want {
				t.Errorf("field %s documents stage %s, changes %s", f.Name, f.Stage, c.want)
			}
		}
	}
	a, b := DefaultSettings(), DefaultSettings()
	a.Scorer, b.Scorer = "random", "random"
	b.Seed = 1
	if got := FirstChangedStage(a, b); got != "score" {
		t.Errorf("seed with the random scorer: %q", got)
	}
	a, b = DefaultSettings(), DefaultSettings()
	a.HadamardSigns, b.HadamardSigns = true, true
	b.Seed = 1
	if got := FirstChangedStage(a, b); got != "hadamard" {
		t.Errorf("seed with seeded signs: %q", got)
	}
}
