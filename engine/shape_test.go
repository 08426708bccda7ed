package engine

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"nexusquant/engine/gguf"
)

// checkShape compares a Shape with the model it describes: geometry from
// the Config, weight totals from the tensor infos.
func checkShape(t *testing.T, sh Shape, m *Model, path string) {
	t.Helper()
	c := m.Config
	if sh.Path != path || sh.Arch != c.Arch || sh.Layers != c.Layers || sh.KVHeads != c.KVHeads || sh.HeadDim != c.HeadDim || sh.Ctx != c.Ctx {
		t.Errorf("shape %+v does not match config %+v of %s", sh, c, path)
	}
	var params, bytes int64
	for _, ti := range m.File.Tensors {
		params += int64(ti.Elements())
		bytes += int64(len(ti.Data))
	}
	if sh.Params != params || sh.WeightBytes != bytes {
		t.Errorf("shape counts %d params in %d bytes, the tensors %d in %d", sh.Params, sh.WeightBytes, params, bytes)
	}
	if sh.WeightBytes <= 0 || sh.WeightBytes > m.File.Size() {
		t.Errorf("weight bytes %d outside (0, file size %d]", sh.WeightBytes, m.File.Size())
	}
	if ms := m.Shape(); !reflect.DeepEqual(ms, sh) {
		t.Errorf("Model.Shape %+v differs from ReadShape %+v", ms, sh)
	}
}

// ReadShape on a written model: the geometry and counts of the loaded model,
// the file name for a model without general.name; the weight type is the one
// with the most bytes. A truncated file is an error naming it.
func TestReadShape(t *testing.T) {
	mem := randomModel("llama", 8)
	path := writeModel(t, mem, gguf.F16, nil)
	sh, err := ReadShape(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	checkShape(t, *sh, m, path)
	if sh.Name != "model.gguf" || sh.WeightType != "F16" {
		t.Errorf("name %q, weight type %q; want model.gguf (no general.name) and F16 (norms are F32, matrices F16)", sh.Name, sh.WeightType)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.gguf")
	for _, n := range []int{0, 10, 200, len(data) / 2, len(data) - 1} {
		if err := os.WriteFile(cut, data[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadShape(cut); err == nil || !strings.Contains(err.Error(), cut) {
			t.Errorf("truncated to %d of %d bytes: err = %v, want an error naming %s", n, len(data), err, cut)
		}
	}
	if _, err := ReadShape(filepath.Join(t.TempDir(), "missing.gguf")); err == nil || !strings.Contains(err.Error(), "missing.gguf") {
		t.Errorf("missing file: err = %v", err)
	}
}

// ReadShape on the shared models agrees with the loaded models.
func TestReadShapeShared(t *testing.T) {
	for _, c := range []struct{ file, typ string }{
		{"syn-llama.Q8_0.gguf", "Q8_0"},
		{"syn-qwen2.Q4_K_M.gguf", "Q6_K"}, // its large token embedding is Q6_K
		{"stories260K.gguf", "F32"},
		{"tiny-llama-hd64.Q8_0.gguf", "Q8_0"},
	} {
		t.Run(c.file, func(t *testing.T) {
			m := loadModel(t, c.file)
			sh, err := ReadShape(m.Path)
			if err != nil {
				t.Fatal(err)
			}
			checkShape(t, *sh, m, m.Path)
			if c.typ != "" && sh.WeightType != c.typ {
				t.Errorf("weight type %s, want %s", sh.WeightType, c.typ)
			}
			t.Logf("%+v", *sh)
		})
	}
}

// LoadBytes computes what Load computes, names the model by the name given,
// and refuses a truncated image with an error naming it.
func TestLoadBytes(t *testing.T) {
	path := writeModel(t, randomModel("qwen2", 5), gguf.F32, nil)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	// An odd start, so that the image is copied to an aligned one and the
	// F32 weights are still viewed in place.
	odd := make([]byte, len(data)+1)[1:]
	copy(odd, data)
	m, err := LoadBytes("embedded.gguf", odd)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Path != "embedded.gguf" || !reflect.DeepEqual(m.Config, want.Config) {
		t.Errorf("path %q, config %+v; want embedded.gguf, %+v", m.Path, m.Config, want.Config)
	}
	ids := tinyIDs(9)
	a, _, err := want.Forward(context.Background(), want.NewCache(), ids, 0, ForwardOptions{Logits: LogitsAll})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := m.Forward(context.Background(), m.NewCache(), ids, 0, ForwardOptions{Logits: LogitsAll})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("logit %d: from bytes %g, from the file %g", i, b[i], a[i])
		}
	}
	if _, err := LoadBytes("embedded.gguf", data[:len(data)-7]); err == nil || !strings.Contains(err.Error(), "embedded.gguf") {
		t.Errorf("truncated image: err = %v, want an error naming embedded.gguf", err)
	}
}
