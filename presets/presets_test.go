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
	cases := []struct {
		name, body string
		want       []string // each must appear in the error, besides the file
	}{
		{"unknown setting", `{"name":"x","settings":{"evict_rate":0.5}}`, []string{`"evict_rate"`, "eviction-rate"}},
		{"unknown kebab setting", `{"name":"x","settings":{"evict-rate":0.5}}`, []string{`"evict-rate"`, "eviction-rate"}},
		{"unknown top key", `{"name":"x","colour":"red","settings":{}}`, []string{`"colour"`, "name, description, settings"}},
		{"key bits out of range", `{"name":"x","settings":{"key_bits":7}}`, []string{`"key_bits"`, "7", "[2 3 4 5 6 8]"}},
		{"kebab out of range", `{"name":"x","settings":{"eviction-rate":1.5}}`, []string{`"eviction-rate"`, "1.5", "[0, 1)"}},
		{"window out of range", `{"name":"x","settings":{"obs-window":0}}`, []string{`"obs-window"`, "1..16777216"}},
		{"bad enum", `{"name":"x","settings":{"lattice":"d4"}}`, []string{`"lattice"`, "e8|relaxed|scalar"}},
		{"not an integer", `{"name":"x","settings":{"key-bits":2.5}}`, []string{`"key-bits"`, "not an integer"}},
		{"both styles", `{"name":"x","settings":{"key-bits":2,"key_bits":3}}`, []string{"key-bits", "twice"}},
		{"bad type", `{"name":"x","settings":{"lattice":[1]}}`, []string{"lattice"}},
		{"bad name", `{"name":"../x","settings":{}}`, []string{"name"}},
		{"truncated", `{"name":"x","settings":{`, []string{"unexpected EOF"}},
		{"trailing", `{"name":"x","settings":{}} {}`, []string{"trailing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("my.json", []byte(c.body))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range append(c.want, "my.json") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestBothKeyStylesLoad(t *testing.T) {
	want := stages.DefaultSettings()
	want.EvictionRate, want.KeyBits, want.SlidingWindow, want.RoPEUndo, want.ZstdLevel = 0.7, 4, 16, false, "better"
	cases := []struct{ name, settings string }{
		{"kebab", `{"eviction-rate":0.7,"key-bits":4,"sliding-window":16,"rope-undo":false,"zstd-level":"better"}`},
		{"snake", `{"eviction_rate":0.7,"key_bits":4,"sliding_window":16,"rope_undo":false,"zstd_level":"better"}`},
		{"mixed, strings", `{"eviction-rate":"0.7","key_bits":"4","sliding-window":16,"rope_undo":"off","zstd-level":"better"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse("x.json", []byte(`{"name":"x","settings":`+c.settings+`}`))
			if err != nil {
				t.Fatal(err)
			}
			if p.Settings != want {
				t.Errorf("got %+v\nwant %+v", p.Settings, want)
			}
		})
	}
}

// Saved files use one key style, the flags' (kebab-case), as eval's JSON does.
func TestMarshalKebabKeys(t *testing.T) {
	out, err := Marshal(&Preset{Name: "x", Settings: stages.DefaultSettings()})
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Settings map[string]any }
	if err := json.Unmarshal(out, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Settings) != len(stages.Fields()) {
		t.Errorf("%d settings written, want all %d", len(f.Settings), len(stages.Fields()))
	}
	for k := range f.Settings {
		if strings.Contains(k, "_") {
			t.Errorf("key %q is not kebab-case", k)
		}
	}
	if f.Settings["eviction-rate"] != 0.6 || f.Settings["rope-undo"] != true || f.Settings["zstd-level"] != "best" {
		t.Errorf("settings %v", f.Settings)
	}
}

// A user file that uses a built-in name or whose name differs from its file
// is an error naming the file (both names for a mismatch), in List and Find.
func TestStoreRefusesShadowingAndMismatch(t *testing.T) {
	cases := []struct {
		file, body, find string
		want             []string
	}{
		{"balanced.json", `{"name":"balanced","settings":{"key-bits":4}}`, "balanced", []string{"balanced.json", "built-in"}},
		{"fast.json", `{"name":"quick","settings":{}}`, "fast", []string{"fast.json", `"quick"`, "differs"}},
		{"fast.json", `{"name":"quick","settings":{}}`, "quick", []string{"fast.json", `"quick"`, "no preset"}},
	}
	for _, c := range cases {
		t.Run(c.file+"/"+c.find, func(t *testing.T) {
			st := &Store{Dir: t.TempDir()}
			if err := os.WriteFile(filepath.Join(st.Dir, c.file), []byte(c.body), 0o644); err != nil {
				t.Fatal(err)
			}
			all, errs := st.List()
			if len(all) != 4 || len(errs) != 1 {
				t.Fatalf("List = %d presets, errors %v; want the 4 built-ins and one error", len(all), errs)
			}
			_, err := st.Find(c.find)
			for _, e := range []error{errs[0], err} {
				if e == nil {
					t.Fatalf("Find(%s) accepted", c.find)
				}
				for _, w := range c.want[:1] {
					if !strings.Contains(e.Error(), w) {
						t.Errorf("error %q does not name %q", e, w)
					}
				}
			}
			for _, w := range c.want[1:] {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Find error %q does not say %q", err, w)
				}
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
	if err := st.Save(&Preset{Name: "balanced", Settings: s}); err == nil || !strings.Contains(err.Error(), "built in") {
		t.Errorf("saving over a built-in name: %v", err)
	}
	if !st.Exists("mine") || st.Exists("balanced") {
		t.Error("Exists is wrong")
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
	if err := st.Remove("mine"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Find("mine"); err == nil {
		t.Error("removed preset still found")
	}
	for _, name := range []string{"mine", "balanced", "../x"} {
		if err := st.Remove(name); err == nil {
			t.Errorf("Remove(%s) accepted", name)
		}
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
	notesCases := []struct {
		change func(*stages.Settings)
		want   []string // keys the notes name, in order
	}{
		{func(s *stages.Settings) { s.Lattice = "e8" }, []string{"lattice e8"}},
		{func(s *stages.Settings) { s.Granularity = "head" }, []string{"granularity head"}},
		{func(s *stages.Settings) { s.Delta, s.ZstdLevel = false, "fastest" }, []string{"delta false", "zstd-level fastest"}},
		{func(s *stages.Settings) { s.Hadamard, s.HadamardSigns, s.RoPEUndo = false, true, false },
			[]string{"hadamard false", "hadamard-signs true", "rope-undo false"}},
		{func(s *stages.Settings) { s.ProtectBoundary, s.BlockTokens = 2, 64 }, []string{"protect-boundary 2", "block-tokens 64"}},
		{func(s *stages.Settings) { s.EvictionRate, s.KeyBits, s.ObsWindow = 0.9, 4, 8 }, nil},
	}
	for _, c := range notesCases {
		s := bal.Settings
		c.change(&s)
		_, notes, err := ExportPython(s)
		if err != nil || len(notes) != len(c.want) {
			t.Errorf("notes %q (%v), want %d naming %v", notes, err, len(c.want), c.want)
			continue
		}
		for i, w := range c.want {
			if !strings.HasPrefix(notes[i], w+":") {
				t.Errorf("note %q, want it to start with %q", notes[i], w)
			}
		}
	}
	for _, change := range []func(*stages.Settings){
		func(s *stages.Settings) { s.Scorer = "h2o" },
		func(s *stages.Settings) { s.Method = "none" },
	} {
		s := bal.Settings
		change(&s)
		if _, _, err := ExportPython(s); err == nil {
			t.Errorf("%s/%s exported to Python", s.Method, s.Scorer)
		}
	}
	if _, _, err := Export(bal, "yaml"); err == nil || !strings.Contains(err.Error(), "nexusquant, python") {
		t.Errorf("unknown format: %v", err)
	}
	full, _, err := Export(bal, FormatNexusQuant)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("full.json", full)
	if err != nil || back.Settings != bal.Settings {
		t.Errorf("full export does not parse back to the same settings: %v", err)
	}
}
