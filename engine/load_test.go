package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"nexusquant/engine/gguf"
)

// writeModel writes m (an in-memory F32 model from randomModel) as a GGUF
// file with matrices of type typ, applying edit to the tensor list first.
func writeModel(t *testing.T, m *Model, typ gguf.Type, edit func([]gguf.WTensor) []gguf.WTensor) string {
	t.Helper()
	c := m.Config
	a := c.Arch
	kv := []gguf.KV{
		{Key: "general.architecture", Value: gguf.ValueOf(a)},
		{Key: a + ".context_length", Value: gguf.ValueOf(uint32(c.Ctx))},
		{Key: a + ".embedding_length", Value: gguf.ValueOf(uint32(c.Embd))},
		{Key: a + ".block_count", Value: gguf.ValueOf(uint32(c.Layers))},
		{Key: a + ".feed_forward_length", Value: gguf.ValueOf(uint32(c.FF))},
		{Key: a + ".attention.head_count", Value: gguf.ValueOf(uint32(c.Heads))},
		{Key: a + ".attention.head_count_kv", Value: gguf.ValueOf(uint32(c.KVHeads))},
		{Key: a + ".attention.layer_norm_rms_epsilon", Value: gguf.ValueOf(c.NormEps)},
		{Key: a + ".rope.freq_base", Value: gguf.ValueOf(float32(c.RopeBase))},
		{Key: a + ".vocab_size", Value: gguf.ValueOf(uint32(c.Vocab))},
	}
	var ts []gguf.WTensor
	add := func(name string, typ gguf.Type, v []float32, dims ...uint64) {
		w, err := gguf.NewTensor(name, typ, dims, v)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, w)
	}
	mat := func(name string, w *matrix) { add(name, typ, w.f32, uint64(w.cols), uint64(w.rows)) }
	mat("token_embd.weight", m.tokEmbd)
	mat("output.weight", m.output)
	add("output_norm.weight", gguf.F32, m.outputNorm, uint64(c.Embd))
	for i, l := range m.layers {
		p := fmt.Sprintf("blk.%d.", i)
		mat(p+"attn_q.weight", l.wq)
		mat(p+"attn_k.weight", l.wk)
		mat(p+"attn_v.weight", l.wv)
		mat(p+"attn_output.weight", l.wo)
		mat(p+"ffn_gate.weight", l.gate)
		mat(p+"ffn_up.weight", l.up)
		mat(p+"ffn_down.weight", l.down)
		add(p+"attn_norm.weight", gguf.F32, l.attnNorm, uint64(c.Embd))
		add(p+"ffn_norm.weight", gguf.F32, l.ffnNorm, uint64(c.Embd))
		if l.bq != nil {
			add(p+"attn_q.bias", gguf.F32, l.bq, uint64(len(l.bq)))
			add(p+"attn_k.bias", gguf.F32, l.bk, uint64(len(l.bk)))
			add(p+"attn_v.bias", gguf.F32, l.bv, uint64(len(l.bv)))
		}
	}
	if edit != nil {
		ts = edit(ts)
	}
	path := filepath.Join(t.TempDir(), "model.gguf")
	if err := gguf.WriteFile(path, 3, kv, ts); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLoad: a model written to GGUF and loaded back computes what the
// in-memory model computes (exactly for F32, closely for F16).
func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		arch string
		typ  gguf.Type
		tol  float64
	}{{"llama", gguf.F32, 0}, {"qwen2", gguf.F32, 0}, {"llama", gguf.F16, 2e-2}} {
		t.Run(tc.arch+"-"+tc.typ.String(), func(t *testing.T) {
			mem := randomModel(tc.arch, 8)
			m, err := Load(writeModel(t, mem, tc.typ, nil))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if !reflect.DeepEqual(m.Config, mem.Config) {
				t.Errorf("config\n got %+v\nwant %+v", m.Config, mem.Config)
			}
			if m.Tok != nil {
				t.Errorf("a file without tokenizer metadata got a tokenizer")
			}
			ids := tinyIDs(12)
			want, _, err := mem.Forward(context.Background(), mem.NewCache(), ids, 0, ForwardOptions{Logits: LogitsAll})
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := m.Forward(context.Background(), m.NewCache(), ids, 0, ForwardOptions{Logits: LogitsAll})
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if !close32(got[i], want[i], tc.tol) {
					t.Fatalf("logit %d: loaded %g, in memory %g", i, got[i], want[i])
				}
			}
		})
	}
}

// TestLoadErrors: bad files give errors naming the file and what is wrong.
func TestLoadErrors(t *testing.T) {
	mem := randomModel("llama", 9)
	drop := func(name string) func([]gguf.WTensor) []gguf.WTensor {
		return func(ts []gguf.WTensor) []gguf.WTensor {
			return slices.DeleteFunc(ts, func(w gguf.WTensor) bool { return w.Name == name })
		}
	}
	reshape := func(name string) func([]gguf.WTensor) []gguf.WTensor {
		return func(ts []gguf.WTensor) []gguf.WTensor {
			for i, w := range ts {
				if w.Name == name {
					nw, err := gguf.NewTensor(name, gguf.F32, []uint64{w.Dims[0], w.Dims[1] - 1}, make([]float32, w.Dims[0]*(w.Dims[1]-1)))
					if err != nil {
						t.Fatal(err)
					}
					ts[i] = nw
				}
			}
			return ts
		}
	}
	notGGUF := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notGGUF, []byte("hello, this is not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := randomModel("llama", 9)
	other.Config.Arch = "mamba"
	for _, tc := range []struct {
		name, path string
		want       []string
	}{
		{"missing tensor", writeModel(t, mem, gguf.F32, drop("blk.1.ffn_up.weight")), []string{"model.gguf", "tensor blk.1.ffn_up.weight is missing"}},
		{"wrong shape", writeModel(t, mem, gguf.F32, reshape("blk.0.attn_k.weight")), []string{"model.gguf", "blk.0.attn_k.weight has shape [32 15]", "[32 16]"}},
		{"unsupported architecture", writeModel(t, other, gguf.F32, nil), []string{"model.gguf", `"mamba"`, "gemma2, gemma3, llama, phi3, qwen2, qwen3, smollm3"}},
		{"not a GGUF file", notGGUF, []string{"notes.txt"}},
		{"no such file", filepath.Join(t.TempDir(), "absent.gguf"), []string{"absent.gguf"}},
	} {
		_, err := Load(tc.path)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tc.name, err, w)
			}
		}
	}
	if got := Architectures(); !slices.Contains(got, "llama") || !slices.Contains(got, "qwen2") {
		t.Errorf("Architectures() = %v", got)
	}
}

func TestBench(t *testing.T) {
	m := randomModel("llama", 10)
	r, err := m.Bench(context.Background(), 16, 8)
	if err != nil {
		t.Fatal(err)
	}
	if r.PrefillTokPerSec <= 0 || r.DecodeTokPerSec <= 0 || r.Threads != Threads() || r.Kernels != Kernels() {
		t.Errorf("bench result %+v", r)
	}
	if _, err := m.Bench(context.Background(), 60, 8); err == nil || !strings.Contains(err.Error(), "context of 64") {
		t.Errorf("bench past the context: %v", err)
	}
}
