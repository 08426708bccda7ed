package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"nexusquant/engine/gguf"
	"nexusquant/internal/synth/synthtest"
)

// TestEvalLayerTypes: eval's text and JSON say what sliding-window and
// no-RoPE layers change (baseline, notes, bytes per type), the
// sliding-layers flag reaches the pipeline, and a packed cache of a
// sliding model written by compress continues under eval --cache.
func TestEvalLayerTypes(t *testing.T) {
	isolate(t)
	_, text := demoFiles(t, "stories")
	cases := []struct {
		model string
		args  []string
		text  []string // in the text output
		kinds []string // layer_kinds in the JSON
	}{
		{"syn-gemma3", nil, []string{"5 sliding-window layers keep their last 48 positions",
			"evict: 5 sliding layers hold positions 48…95", "evicted within the window", "sliding         5"}, []string{"full", "sliding"}},
		{"syn-gemma3", []string{"--sliding-layers", "float16"}, []string{"the window kept as float16"}, []string{"full", "sliding"}},
		{"syn-smollm3", nil, []string{"rope: skipped on layer 3 (no RoPE", "no-rope         1"}, []string{"full", "no-rope"}},
	}
	for _, c := range cases {
		model := synthtest.File(t, c.model, gguf.Q8_0)
		base := append([]string{"eval", "--model", model, "--file", text, "--preset", "balanced", "--prefix", "96", "--continuation", "16"}, c.args...)
		out, errs, code := run(t, base...)
		if code != 0 {
			t.Fatalf("%s %v: exit %d: %s", c.model, c.args, code, errs)
		}
		for _, want := range c.text {
			if !strings.Contains(out, want) {
				t.Errorf("%s %v: the text lacks %q:\n%s", c.model, c.args, want, out)
			}
		}
		out, errs, code = run(t, append(base, "--json")...)
		if code != 0 {
			t.Fatalf("%s --json: exit %d: %s", c.model, code, errs)
		}
		var rep struct {
			RatioTotal float64 `json:"ratio_total"`
			LayerKinds []struct {
				Kind string `json:"kind"`
			} `json:"layer_kinds"`
			Layers   []json.RawMessage `json:"layers"`
			Settings map[string]any    `json:"settings"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, k := range rep.LayerKinds {
			kinds = append(kinds, k.Kind)
		}
		if strings.Join(kinds, ",") != strings.Join(c.kinds, ",") || len(rep.Layers) == 0 || !(rep.RatioTotal > 1) {
			t.Errorf("%s %v: JSON layer_kinds %v, %d layers, ratio_total %g", c.model, c.args, kinds, len(rep.Layers), rep.RatioTotal)
		}
		if (rep.Settings["sliding-layers"] == "float16") != (len(c.args) > 0) {
			t.Errorf("%s %v: settings sliding-layers %v", c.model, c.args, rep.Settings["sliding-layers"])
		}
	}
	// compress → eval --cache on the sliding model.
	model := synthtest.File(t, "syn-gemma3", gguf.Q8_0)
	prompt := "Once upon a time, there was a little girl named Lily. She loved to play outside in the sunshine. One day, she saw a big red ball in the park and ran to get it."
	cache := filepath.Join(t.TempDir(), "c.nqkv")
	if _, errs, code := run(t, "compress", "--model", model, "--prompt", prompt, "--preset", "balanced", "--out", cache); code != 0 {
		t.Fatalf("compress: %s", errs)
	}
	out, errs, code := run(t, "eval", "--model", model, "--prompt", prompt, "--cache", cache, "--continuation", "8", "--json")
	if code != 0 {
		t.Fatalf("eval --cache: %s", errs)
	}
	var rep struct {
		KLD        float64 `json:"kld"`
		LayerKinds []any   `json:"layer_kinds"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.LayerKinds) != 2 || rep.KLD < 0 {
		t.Errorf("eval --cache: %v, %d layer kinds, KLD %g", err, len(rep.LayerKinds), rep.KLD)
	}
}
