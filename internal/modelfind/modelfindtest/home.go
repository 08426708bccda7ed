// Package modelfindtest lays out a fake home folder like an ollama, Hugging
// Face and LM Studio user's, with the embedded demo models as the files, for
// the tests of modelfind and of the commands that use it.
package modelfindtest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"nexusquant/internal/demo"
	"nexusquant/internal/modelfind"
)

// Home lays out, under a fresh t.TempDir():
//
//   - work/ (the current folder): broken.gguf (not a GGUF file), notes.txt
//     and sub/nested.gguf (below the top level, so not found);
//   - home/.cache/huggingface/hub: models--ggml-org--models with the
//     stories demo as tinyllamas/stories260K.gguf in two snapshots (one
//     blob), and models--nexusquant--tiny-llama-GGUF with the tiny-llama
//     demo, each snapshot file a relative symlink into blobs/;
//   - home/.ollama/models: manifests for library/stories:260k (the stories
//     blob) and library/tiny-llama:latest and :q8_0 (one tiny-llama blob),
//     with template and license layers besides the model layer;
//   - home/.lmstudio/models/lmstudio-community/stories/stories260K.gguf, a
//     copy, and a hidden .partial.gguf beside it;
//   - llamacpp/ ($LLAMA_CACHE): a symlink to the hub's stories file.
//
// It returns the Env of that home (no system-wide ollama store).
func Home(t testing.TB) modelfind.Env {
	t.Helper()
	root := t.TempDir()
	home := filepath.Join(root, "home")
	work := filepath.Join(root, "work")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(path string, data []byte) {
		t.Helper()
		must(os.MkdirAll(filepath.Dir(path), 0o755))
		must(os.WriteFile(path, data, 0o644))
	}
	link := func(target, path string) {
		t.Helper()
		must(os.MkdirAll(filepath.Dir(path), 0o755))
		must(os.Symlink(target, path))
	}
	model := func(name string) ([]byte, string) {
		d, err := demo.Get(name)
		must(err)
		sum := sha256.Sum256(d.ModelBytes())
		return d.ModelBytes(), hex.EncodeToString(sum[:])
	}
	stories, storiesSum := model("stories")
	tiny, tinySum := model("")

	write(filepath.Join(work, "broken.gguf"), []byte("not a model"))
	write(filepath.Join(work, "notes.txt"), []byte("hello"))
	write(filepath.Join(work, "sub", "nested.gguf"), stories)

	hub := filepath.Join(home, ".cache", "huggingface", "hub")
	repo := filepath.Join(hub, "models--ggml-org--models")
	write(filepath.Join(repo, "blobs", storiesSum), stories)
	write(filepath.Join(repo, "refs", "main"), []byte("1111111111111111111111111111111111111111"))
	for _, rev := range []string{"1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"} {
		link(filepath.Join("..", "..", "..", "blobs", storiesSum), filepath.Join(repo, "snapshots", rev, "tinyllamas", "stories260K.gguf"))
	}
	repo = filepath.Join(hub, "models--nexusquant--tiny-llama-GGUF")
	write(filepath.Join(repo, "blobs", tinySum), tiny)
	link(filepath.Join("..", "..", "blobs", tinySum), filepath.Join(repo, "snapshots", "3333333333333333333333333333333333333333", "tiny-llama-hd64.Q8_0.gguf"))

	om := filepath.Join(home, ".ollama", "models")
	write(filepath.Join(om, "blobs", "sha256-"+storiesSum), stories)
	write(filepath.Join(om, "blobs", "sha256-"+tinySum), tiny)
	tmplSum := sha256.Sum256([]byte("{{ .Prompt }}"))
	write(filepath.Join(om, "blobs", "sha256-"+hex.EncodeToString(tmplSum[:])), []byte("{{ .Prompt }}"))
	manifest := func(sum string, size int) []byte {
		return []byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",` +
			`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:` + sum + `","size":100},` +
			`"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:` + sum + `","size":` + strconv.Itoa(size) + `},` +
			`{"mediaType":"application/vnd.ollama.image.template","digest":"sha256:` + hex.EncodeToString(tmplSum[:]) + `","size":13},` +
			`{"mediaType":"application/vnd.ollama.image.license","digest":"sha256:` + sum + `","size":1}]}`)
	}
	lib := filepath.Join(om, "manifests", "registry.ollama.ai", "library")
	write(filepath.Join(lib, "stories", "260k"), manifest(storiesSum, len(stories)))
	write(filepath.Join(lib, "tiny-llama", "latest"), manifest(tinySum, len(tiny)))
	write(filepath.Join(lib, "tiny-llama", "q8_0"), manifest(tinySum, len(tiny)))

	lm := filepath.Join(home, ".lmstudio", "models", "lmstudio-community", "stories")
	write(filepath.Join(lm, "stories260K.gguf"), stories)
	write(filepath.Join(lm, ".partial.gguf"), stories[:100])

	llama := filepath.Join(root, "llamacpp")
	link(filepath.Join(hub, "models--ggml-org--models", "snapshots", "1111111111111111111111111111111111111111", "tinyllamas", "stories260K.gguf"),
		filepath.Join(llama, "ggml-org_models_tinyllamas_stories260K.gguf"))

	vars := map[string]string{"HOME": home, "LLAMA_CACHE": llama}
	return modelfind.Env{Getenv: func(k string) string { return vars[k] }, Home: home, Cwd: work}
}
