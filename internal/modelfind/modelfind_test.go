package modelfind_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"nexusquant/internal/modelfind"
	"nexusquant/internal/modelfind/modelfindtest"
)

func TestFindFakeHome(t *testing.T) {
	env := modelfindtest.Home(t)
	found, errs := modelfind.Find(modelfind.DirsFor(env))
	if len(errs) > 0 {
		t.Errorf("errors: %v", errs)
	}
	var got []string
	for _, f := range found {
		line := fmt.Sprintf("%s | %s | %d", f.Source, f.Name, f.Bytes)
		if f.Shape != nil {
			s := f.Shape
			line += fmt.Sprintf(" | %s %d params %s ctx %d layers %d kv %d×%d", s.Arch, s.Params, s.WeightType, s.Ctx, s.Layers, s.KVHeads, s.HeadDim)
		}
		if f.Err != "" {
			line += " | error"
			if !strings.Contains(f.Err, "broken.gguf") {
				t.Errorf("%s: error %q does not name the file", f.Path, f.Err)
			}
		}
		if (f.Shape == nil) == (f.Err == "") {
			t.Errorf("%s: exactly one of Shape and Err must be set", f.Path)
		}
		got = append(got, line)
	}
	want := []string{
		"here | broken.gguf | 11 | error",
		"huggingface | ggml-org/models · tinyllamas/stories260K.gguf | 1185376 | llama 292800 params F32 ctx 512 layers 5 kv 4×8",
		"huggingface | nexusquant/tiny-llama-GGUF · tiny-llama-hd64.Q8_0.gguf | 3643872 | llama 3410176 params Q8_0 ctx 512 layers 4 kv 2×64",
		"ollama | stories:260k | 1185376 | llama 292800 params F32 ctx 512 layers 5 kv 4×8",
		"ollama | tiny-llama:latest | 3643872 | llama 3410176 params Q8_0 ctx 512 layers 4 kv 2×64",
		"lmstudio | lmstudio-community/stories/stories260K.gguf | 1185376 | llama 292800 params F32 ctx 512 layers 5 kv 4×8",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The hub's file is named by its snapshot path, not its blob.
	if !strings.Contains(filepath.ToSlash(found[1].Path), "/snapshots/") {
		t.Errorf("hub path %s is not the snapshot's", found[1].Path)
	}
	if !strings.Contains(filepath.ToSlash(found[3].Path), "/blobs/sha256-") {
		t.Errorf("ollama path %s is not the blob", found[3].Path)
	}
}

func TestDirsFor(t *testing.T) {
	vars := map[string]string{}
	env := modelfind.Env{Getenv: func(k string) string { return vars[k] }, Home: "/h", Cwd: "/w", SystemOllama: "/usr/share/ollama/.ollama/models"}
	list := func() string {
		var s []string
		for _, d := range modelfind.DirsFor(env) {
			s = append(s, d.Source+"="+d.Path)
		}
		return strings.Join(s, " ")
	}
	want := "here=/w nexusquant=/h/.cache/nexusquant/models huggingface=/h/.cache/huggingface/hub " +
		"ollama=/h/.ollama/models ollama=/usr/share/ollama/.ollama/models " +
		"lmstudio=/h/.lmstudio/models lmstudio=/h/.cache/lm-studio/models llama.cpp=/h/.cache/llama.cpp"
	if got := list(); got != want {
		t.Errorf("plain home:\n got %s\nwant %s", got, want)
	}
	vars["XDG_CACHE_HOME"] = "/x"
	vars["OLLAMA_MODELS"] = "/o"
	want = "here=/w nexusquant=/x/nexusquant/models huggingface=/x/huggingface/hub " +
		"ollama=/o ollama=/h/.ollama/models ollama=/usr/share/ollama/.ollama/models " +
		"lmstudio=/h/.lmstudio/models lmstudio=/x/lm-studio/models llama.cpp=/x/llama.cpp"
	if got := list(); got != want {
		t.Errorf("XDG:\n got %s\nwant %s", got, want)
	}
	vars["HF_HOME"] = "/hf"
	vars["LLAMA_CACHE"] = "/lc"
	vars["XDG_CACHE_HOME"] = "relative" // ignored, as the XDG spec says
	want = "here=/w nexusquant=/h/.cache/nexusquant/models huggingface=/hf/hub " +
		"ollama=/o ollama=/h/.ollama/models ollama=/usr/share/ollama/.ollama/models " +
		"lmstudio=/h/.lmstudio/models lmstudio=/h/.cache/lm-studio/models llama.cpp=/lc"
	if got := list(); got != want {
		t.Errorf("HF_HOME, LLAMA_CACHE:\n got %s\nwant %s", got, want)
	}
	if got := modelfind.CacheDir(env); got != "/h/.cache/nexusquant/models" {
		t.Errorf("CacheDir = %s", got)
	}
}

// The repository root holds no GGUF file at its top level: the demo's
// models under internal/demo are not found from there.
func TestFindRepoRootTopLevelOnly(t *testing.T) {
	root, _ := filepath.Abs("../..")
	found, _ := modelfind.Find(modelfind.Dirs{{Path: root, Kind: modelfind.TopLevel, Source: "here"}})
	if len(found) != 0 {
		t.Errorf("found %v at the repository root", found)
	}
	// A Folder search does descend.
	found, _ = modelfind.Find(modelfind.Dirs{{Path: filepath.Join(root, "internal", "demo"), Kind: modelfind.Folder, Source: "dir"}})
	if len(found) != 2 {
		t.Errorf("found %d files in internal/demo, want 2", len(found))
	}
}

func TestOllamaBadManifest(t *testing.T) {
	env := modelfindtest.Home(t)
	dir := filepath.Join(env.Home, ".ollama", "models")
	writeFile(t, filepath.Join(dir, "manifests", "registry.ollama.ai", "library", "bad", "latest"), "{not json")
	writeFile(t, filepath.Join(dir, "manifests", "registry.ollama.ai", "library", "evil", "latest"),
		`{"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:../../../etc/passwd"}]}`)
	writeFile(t, filepath.Join(dir, "manifests", "hf.co", "ggml-org", "stories", "latest"),
		`{"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:`+strings.Repeat("0", 64)+`"}]}`)
	found, errs := modelfind.Find(modelfind.Dirs{{Path: dir, Kind: modelfind.Ollama, Source: "ollama"}})
	if len(found) != 2 {
		t.Errorf("found %d models, want 2 (the missing blob is skipped)", len(found))
	}
	joined := fmt.Sprint(errs)
	if len(errs) != 2 || !strings.Contains(joined, "bad") || !strings.Contains(joined, "not sha256:HEX") {
		t.Errorf("errors = %v, want the bad and evil manifests", errs)
	}
}
