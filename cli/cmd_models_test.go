package cli

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"nexusquant/engine/gguf"
	"nexusquant/internal/modelfind"
	"nexusquant/internal/modelfind/modelfindtest"
	"nexusquant/internal/synth"
)

// fakeHome points the finder at a fake home laid out like an ollama,
// Hugging Face and LM Studio user's.
func fakeHome(t *testing.T) modelfind.Env {
	env := modelfindtest.Home(t)
	old := findEnv
	findEnv = func() modelfind.Env { return env }
	t.Cleanup(func() { findEnv = old })
	return env
}

func TestModelsTable(t *testing.T) {
	isolate(t)
	env := fakeHome(t)
	out, errOut, code := run(t, "models")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	want := `NAME                             ARCH   PARAMS  TYPE  CTX      SIZE  FROM
broken.gguf                      not a GGUF file (starts with "not…  here
ggml-org/m…mas/stories260K.gguf  llama    293K  F32   512  1.13 MiB  huggingface
nexusquant…llama-hd64.Q8_0.gguf  llama    3.4M  Q8_0  512  3.48 MiB  huggingface
stories:260k                     llama    293K  F32   512  1.13 MiB  ollama
tiny-llama:latest                llama    3.4M  Q8_0  512  3.48 MiB  ollama
lmstudio-c…ies/stories260K.gguf  llama    293K  F32   512  1.13 MiB  lmstudio
(--paths shows where each file is, --json everything)
`
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	for _, l := range strings.Split(out, "\n") {
		if n := len([]rune(l)); n > 80 {
			t.Errorf("line of %d columns: %q", n, l)
		}
	}
	out, _, code = run(t, "models", "--paths")
	if code != 0 {
		t.Fatalf("--paths: exit %d", code)
	}
	for _, p := range []string{"./broken.gguf", "  gguf: " + env.Cwd + "/broken.gguf: magic",
		"~/.cache/huggingface/hub/models--ggml-org--models/snapshots/1111111111111111111111111111111111111111/tinyllamas/stories260K.gguf",
		"~/.ollama/models/blobs/sha256-5a9d168bd9d9e29302e0d604e9a4c97184057ad87661cd7e7cc4318fdeba6d9c",
		"~/.lmstudio/models/lmstudio-community/stories/stories260K.gguf"} {
		if !strings.Contains(out, "\n  "+strings.TrimPrefix(p, "  ")) {
			t.Errorf("--paths output lacks %q:\n%s", p, out)
		}
	}
}

func TestModelsJSON(t *testing.T) {
	isolate(t)
	fakeHome(t)
	out, _, code := run(t, "models", "--json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 {
		t.Fatalf("%d models, want 6", len(got))
	}
	keys := "arch bytes ctx error head_dim kv_heads layers name params path runnable sliding_window source weight_type"
	for _, m := range got {
		var k []string
		for key := range m {
			k = append(k, key)
		}
		if s := strings.Join(slices.Sorted(slices.Values(k)), " "); s != keys {
			t.Errorf("keys %s, want %s", s, keys)
		}
	}
	if got[3]["name"] != "stories:260k" || got[3]["source"] != "ollama" || got[3]["params"] != 292800.0 || got[3]["weight_type"] != "F32" {
		t.Errorf("ollama entry = %v", got[3])
	}
}

// TestModelsHeaderOnly: a file of an architecture the engine does not run
// (here a bert-style header without the RMS epsilon the engine needs) is
// listed with its geometry and marked, and a sliding-window model shows its
// window in JSON.
func TestModelsHeaderOnly(t *testing.T) {
	isolate(t)
	env := fakeHome(t)
	kv := []gguf.KV{
		{Key: "general.architecture", Value: gguf.ValueOf("bert")},
		{Key: "bert.context_length", Value: gguf.ValueOf(uint32(512))},
		{Key: "bert.embedding_length", Value: gguf.ValueOf(uint32(384))},
		{Key: "bert.block_count", Value: gguf.ValueOf(uint32(12))},
		{Key: "bert.attention.head_count", Value: gguf.ValueOf(uint32(12))},
		{Key: "bert.attention.layer_norm_epsilon", Value: gguf.ValueOf(float32(1e-12))},
	}
	if err := gguf.WriteFile(filepath.Join(env.Cwd, "minilm.gguf"), 3, kv, nil); err != nil {
		t.Fatal(err)
	}
	spec, err := synth.Lookup("syn-gemma2")
	if err != nil {
		t.Fatal(err)
	}
	if err := synth.Write(filepath.Join(env.Cwd, "gemma2.gguf"), spec, gguf.Q8_0); err != nil {
		t.Fatal(err)
	}
	out, _, code := run(t, "models")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out, "minilm.gguf") || !strings.Contains(out, "bert*") || !strings.Contains(out, "* header only: the engine runs gemma2, gemma3, llama, phi3, qwen2, qwen3, smollm3") {
		t.Errorf("the bert file is not listed as header only:\n%s", out)
	}
	out, _, code = run(t, "models", "--json")
	if code != 0 {
		t.Fatalf("--json: exit %d", code)
	}
	var got []modelJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	byName := map[string]modelJSON{}
	for _, m := range got {
		byName[m.Name] = m
	}
	if b := byName["minilm.gguf"]; b.Arch != "bert" || b.Runnable || b.Layers != 12 || b.KVHeads != 12 || b.HeadDim != 32 || b.Error != "" {
		t.Errorf("bert entry = %+v", b)
	}
	if g := byName["gemma2.gguf"]; g.Arch != "gemma2" || !g.Runnable || g.SlidingWindow != 48 || g.HeadDim != 128 {
		t.Errorf("gemma2 entry = %+v", g)
	}
}
