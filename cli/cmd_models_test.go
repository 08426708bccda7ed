package cli

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"nexusquant/internal/modelfind"
	"nexusquant/internal/modelfind/modelfindtest"
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
	keys := "arch bytes ctx error head_dim kv_heads layers name params path source weight_type"
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
