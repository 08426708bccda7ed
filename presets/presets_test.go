package presets

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nexusquant/stages"
)

func TestBuiltinsMatchSpec(t *testing.T) {
	want := []struct {
		name   string
		rate   float64
		kb, vb int
	}{{"high", 0.35, 3, 2}, {"asym", 0.60, 3, 2}, {"balanced", 0.60, 2, 2}, {"max", 0.80, 2, 2}}
	got := Builtins()
	if len(got) != len(want) {
		t.Fatalf("%d built-ins, want %d", len(got), len(want))
	}
	for i, w := range want {
		p := got[i]
		s := p.Settings
		if p.Name != w.name || s.EvictionRate != w.rate || s.KeyBits != w.kb || s.ValueBits != w.vb {
			t.Errorf("built-in %d = %s ρ%v K%dV%d, want %s ρ%v K%dV%d", i, p.Name, s.EvictionRate, s.KeyBits, s.ValueBits, w.name, w.rate, w.kb, w.vb)
		}
		if s.Lattice != "relaxed" || s.Scorer != "keykey" || s.SlidingWindow != 32 || s.ObsWindow != 32 ||
			!s.Hadamard || !s.RoPEUndo || s.ZstdLevel != "best" || s.Granularity != "global" {
			t.Errorf("built-in %s does not carry the reference's fixed settings: %+v", p.Name, s)
		}
	}
}

func TestParseErrorsNameFileAndKey(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"unknown setting", `{"name":"x","settings":{"evict_rate":0.5}}`, `"evict_rate"`},
		{"unknown top key", `{"name":"x","colour":"red","settings":{}}`, `colour`},
		{"bad value", `{"name":"x","settings":{"key_bits":7}}`, "key_bits"},
		{"bad type", `{"name":"x","settings":{"lattice":[1]}}`, "lattice"},
		{"bad name", `{"name":"../x","settings":{}}`, "name"},
		{"truncated", `{"name":"x","settings":{`, "unexpected EOF"},
		{"trailing", `{"name":"x","settings":{}} {}`, "trailing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("my.json", []byte(c.body))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), "my.json") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name the file and %q", err, c.want)
			}
		})
	}
}

func TestSaveFindRoundTrip(t *testing.T) {
	st := &Store{Dir: t.TempDir()}
	s := stages.DefaultSettings()
	s.EvictionRate = 0.7
	s.Lattice = "scalar"
	s.KeyBits = 4
	if err := st.Save(&Preset{Name: "mine", Description: "d", Settings: s}); err != nil {
		t.Fatal(err)
	}
	p, err := st.Find("mine")
	if err != nil {
		t.Fatal(err)
	}
	if p.Settings != s {
		t.Errorf("round trip changed settings:\n got %+v\nwant %+v", p.Settings, s)
	}
	if err := st.Save(&Preset{Name: "balanced", Settings: s}); err == nil {
		t.Error("saving over a built-in name was accepted")
	}
	if _, err := st.Find("nope"); err == nil || !strings.Contains(err.Error(), "balanced") {
		t.Errorf("Find(nope) = %v, want an error listing known presets", err)
	}
	// A corrupt user file is reported by name, the rest still list.
	os.WriteFile(filepath.Join(st.Dir, "bad.json"), []byte("{"), 0o644)
	all, errs := st.List()
	if len(all) != 5 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "bad.json") {
		t.Errorf("List = %d presets, errors %v; want 5 and one naming bad.json", len(all), errs)
	}
}

func TestExportPython(t *testing.T) {
	var bal *Preset
	for _, p := range Builtins() {
		if p.Name == "balanced" {
			bal = p
		}
	}
	out, notes, err := Export(bal, "python")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"quality": nil, "eviction_rate": 0.6, "key_bits": 2.0, "value_bits": 2.0,
		"sliding_window": 32.0, "obs_window": 32.0, "scorer": "key-key"}
	if len(got) != len(want) {
		t.Errorf("keys %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if len(notes) != 0 {
		t.Errorf("reference preset exported with notes %v", notes)
	}
	s := bal.Settings
	s.Lattice = "e8"
	if _, notes, _ := ExportPython(s); len(notes) != 1 {
		t.Errorf("e8 lattice gave notes %v, want one", notes)
	}
	s.Scorer = "h2o"
	if _, _, err := ExportPython(s); err == nil {
		t.Error("h2o scorer exported to Python")
	}
	full, _, err := Export(bal, "full")
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("full.json", full)
	if err != nil || back.Settings != bal.Settings {
		t.Errorf("full export does not parse back to the same settings: %v", err)
	}
}
