package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// presetSettings runs presets show and returns the settings object.
func presetSettings(t *testing.T, name string) map[string]any {
	t.Helper()
	out, errs, code := run(t, "presets", "show", name)
	if code != 0 {
		t.Fatalf("presets show %s: %d %s", name, code, errs)
	}
	var f struct {
		Name     string
		Settings map[string]any
	}
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("presets show %s: %v in %q", name, err, out)
	}
	return f.Settings
}

func TestPresetsSaveExportRm(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	full, py := filepath.Join(dir, "mine-full.json"), filepath.Join(dir, "mine.python.json")
	steps := []struct {
		args           []string
		code           int
		stdout, stderr string // substrings
	}{
		{[]string{"presets", "save", "mine", "--preset", "balanced", "--key-bits", "3", "--lattice", "e8", "--delta=false"}, 0, "saved preset mine to", ""},
		{[]string{"presets", "save", "mine", "--key-bits", "4"}, 2, "", "preset mine exists"},
		{[]string{"presets", "save", "--force", "--key-bits", "3", "--preset", "balanced", "--lattice", "e8", "--delta=false", "mine"}, 0, "saved preset mine", ""},
		{[]string{"presets", "save", "max"}, 2, "", `"max" is built in`},
		{[]string{"presets", "save", "../up"}, 2, "", "preset name"},
		{[]string{"presets", "save", "x", "--run", "2"}, 2, "", "--run needs --from-session"},
		{[]string{"presets", "list"}, 0, "mine         user", ""},
		{[]string{"presets", "export", "mine", "--out", full}, 0, "", "wrote preset mine"},
		{[]string{"presets", "export", "mine", "--format", "python", "--out", py}, 0, "",
			"cannot express these settings of mine (exported without them):\n  lattice e8: the Python library always searches its relaxed lattice\n  delta false:"},
		{[]string{"presets", "export", "balanced", "--format", "python"}, 0, `"scorer": "key-key"`, ""},
		{[]string{"presets", "export", "mine", "--format", "yaml"}, 2, "", "nexusquant, python"},
		{[]string{"presets", "show", "mine", "--format", "python"}, 2, "", "takes no --format"},
		{[]string{"presets", "rm", "mine"}, 0, "removed preset mine", ""},
		{[]string{"presets", "rm", "mine"}, 1, "", "no user preset"},
		{[]string{"presets", "rm", "balanced"}, 1, "", "built in"},
		{[]string{"presets", "show", "mine"}, 1, "", `no preset "mine"`},
		{[]string{"presets", "frobnicate"}, 2, "", "unknown subcommand"},
		{[]string{"presets", "help"}, 0, "export NAME [--format nexusquant|python] [--out FILE]", ""},
		{[]string{"presets", "-h"}, 0, "rm NAME", ""},
	}
	for _, s := range steps {
		out, errs, code := run(t, s.args...)
		if code != s.code || !strings.Contains(out, s.stdout) || !strings.Contains(errs, s.stderr) {
			t.Errorf("%v: status %d, stdout %q, stderr %q; want %d, %q, %q", s.args, code, out, errs, s.code, s.stdout, s.stderr)
		}
	}
	// The exported file is a preset again (by path), with the saved settings.
	got := presetSettings(t, full)
	if got["key-bits"] != 3.0 || got["lattice"] != "e8" || got["delta"] != false || got["eviction-rate"] != 0.6 {
		t.Errorf("exported settings %v", got)
	}
	var kw map[string]any
	data, _ := os.ReadFile(py)
	if err := json.Unmarshal(data, &kw); err != nil || kw["key_bits"] != 3.0 || kw["scorer"] != "key-key" || len(kw) != 7 {
		t.Errorf("python export %s: %v", data, err)
	}
}

// Files in the user folder that cannot be used are reported by file name,
// never silently shadowed by a built-in or skipped.
func TestPresetFolderErrors(t *testing.T) {
	isolate(t)
	dir := os.Getenv("NEXUSQUANT_PRESETS")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"balanced.json": `{"name":"balanced","settings":{"key-bits":4}}`,
		"fast.json":     `{"name":"quick","settings":{}}`,
		"wide.json":     `{"name":"wide","settings":{"key_bits":9}}`,
		"snake.json":    `{"name":"snake","settings":{"eviction_rate":0.7,"key_bits":3}}`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, errs, code := run(t, "presets", "list")
	for _, w := range []string{"balanced.json", "built-in name", "fast.json", `"quick"`, "wide.json", `"key_bits" = 9`, "[2 3 4 5 6 8]"} {
		if !strings.Contains(errs, w) {
			t.Errorf("presets list stderr lacks %q: %s", w, errs)
		}
	}
	if code != 0 || !strings.Contains(out, "snake        user     ρ 0.70  K3V2") {
		t.Errorf("presets list: %d %q", code, out)
	}
	cases := []struct{ args []string }{
		{[]string{"eval", "--preset", "balanced", "--model", "m.gguf", "--prompt", "x"}},
		{[]string{"presets", "show", "balanced"}},
	}
	for _, c := range cases {
		if _, errs, code := run(t, c.args...); code == 0 || !strings.Contains(errs, "balanced.json") {
			t.Errorf("%v: %d %q; want an error naming balanced.json", c.args, code, errs)
		}
	}
}

// eval --save-preset saves what it ran, checked before the run; a session's
// run saves as the same preset.
func TestEvalSavePreset(t *testing.T) {
	isolate(t)
	if _, errs, code := run(t, "eval", "--save-preset", "max", "--model", "/nonexistent/m.gguf", "--prompt", "x"); code != 2 || !strings.Contains(errs, "built in") {
		t.Errorf("--save-preset max: %d %q; want it refused before loading the model", code, errs)
	}
	model, _ := demoFiles(t, "stories")
	out, errs, code := run(t, "eval", "--model", model, "--prompt", "Once upon a time, there was a little girl named Lily. She loved to play",
		"--continuation", "8", "--eviction-rate", "0.5", "--key-bits", "3", "--lattice", "scalar",
		"--save-preset", "mine", "--save-session", "s1", "--json")
	if code != 0 || !json.Valid([]byte(out)) || !strings.Contains(errs, "saved preset mine") {
		t.Fatalf("eval --save-preset: %d, stdout valid JSON %v, stderr %q", code, json.Valid([]byte(out)), errs)
	}
	got := presetSettings(t, "mine")
	if got["eviction-rate"] != 0.5 || got["key-bits"] != 3.0 || got["lattice"] != "scalar" {
		t.Errorf("saved settings %v", got)
	}
	if _, errs, code := run(t, "presets", "save", "fromrun", "--from-session", "s1", "--run", "1"); code != 0 {
		t.Fatalf("save --from-session: %d %s", code, errs)
	}
	from := presetSettings(t, "fromrun")
	for k, v := range got {
		if from[k] != v {
			t.Errorf("%s: from the session %v, from eval %v", k, from[k], v)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"presets", "save", "x", "--from-session", "s1", "--run", "2"}, "runs 1..1"},
		{[]string{"presets", "save", "x", "--from-session", "s1", "--key-bits", "4"}, "drop --key-bits"},
		{[]string{"presets", "save", "x", "--from-session", "nope"}, "nope"},
	} {
		if _, errs, code := run(t, c.args...); code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: %d %q; want an error saying %q", c.args, code, errs, c.want)
		}
	}
}
