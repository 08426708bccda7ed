package gguf

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nexusquant/internal/testfiles"
)

// Tests on the llama.cpp-produced model files in $NEXUSQUANT_TESTDATA/models.

// openModel opens models/name and closes it when the test ends.
func openModel(t *testing.T, name string) *File {
	t.Helper()
	f, err := Open(testfiles.Path(t, "models/"+name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("close %s: %v", name, err)
		}
	})
	return f
}

// relRMS is ‖a−b‖/‖b‖.
func relRMS(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(num / den)
}

// rmsBound is the largest relative RMS error, against the f16 file, accepted
// for a tensor of each type. Measured on the synthetic models (seeded
// Gaussian weights; the test logs the worst tensor per type), the worst
// tensors are: Q8_0 0.54%, Q6_K 1.78%, Q4_K 7.16%, Q4_0 8.63%. Uniform
// rounding error (step/√12 relative to the weights' spread, step ≈ block
// max/127 for Q8_0, /8 for Q4_0) predicts the same figures. The bounds leave
// about 25% headroom; a layout error (swapped nibbles, a wrong scale index)
// gives errors near 100%. F32 tensors (norms) must be copied exactly.
var rmsBound = map[Type]float64{
	F32:  0,
	Q8_0: 0.007,
	Q6_K: 0.022,
	Q4_K: 0.09,
	Q4_0: 0.11,
}

// TestRealFilesDequantize dequantizes every tensor of each quantized model
// and compares it with the same tensor of the f16 model.
func TestRealFilesDequantize(t *testing.T) {
	cases := []struct{ file, ref string }{
		{"syn-llama.Q8_0.gguf", "syn-llama.f16.gguf"},
		{"syn-llama.Q4_0.gguf", "syn-llama.f16.gguf"},
		{"syn-llama.Q4_K_M.gguf", "syn-llama.f16.gguf"},
		{"syn-llama.Q6_K.gguf", "syn-llama.f16.gguf"},
		{"syn-qwen2.Q4_K_M.gguf", "syn-qwen2.f16.gguf"},
		{"syn-qwen2.Q8_0.gguf", "syn-qwen2.f16.gguf"},
	}
	refs := map[string]map[string][]float32{}
	refOf := func(t *testing.T, name string) map[string][]float32 {
		if m, ok := refs[name]; ok {
			return m
		}
		f := openModel(t, name)
		m := map[string][]float32{}
		for i := range f.Tensors {
			ti := &f.Tensors[i]
			v, err := ti.Float32s()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			m[ti.Name] = v
		}
		refs[name] = m
		return m
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			ref := refOf(t, c.ref)
			f := openModel(t, c.file)
			worst := map[Type]float64{}
			for i := range f.Tensors {
				ti := &f.Tensors[i]
				got, err := ti.Float32s()
				if err != nil {
					t.Fatalf("%s: %v", ti.Name, err)
				}
				want, ok := ref[ti.Name]
				if !ok || len(want) != len(got) {
					t.Fatalf("%s: no tensor of the same size in %s", ti.Name, c.ref)
				}
				for _, v := range got {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("%s: non-finite value %v", ti.Name, v)
					}
				}
				e := relRMS(got, want)
				worst[ti.Type] = max(worst[ti.Type], e)
				bound, ok := rmsBound[ti.Type]
				if !ok {
					t.Fatalf("%s: no error bound for type %s", ti.Name, ti.Type)
				}
				if e > bound {
					t.Errorf("%s (%s): relative RMS error %.4f vs f16 exceeds %.4f", ti.Name, ti.Type, e, bound)
				}
				// Row-wise dequantization agrees with the whole tensor.
				n := int(ti.Dims[0])
				row := make([]float32, n)
				for _, r := range []int{0, ti.Rows() / 2, ti.Rows() - 1} {
					if err := DequantizeRow(ti.Type, ti.Row(r), row); err != nil {
						t.Fatalf("%s row %d: %v", ti.Name, r, err)
					}
					for j := range row {
						if row[j] != got[r*n+j] {
							t.Fatalf("%s row %d elem %d: %v vs %v", ti.Name, r, j, row[j], got[r*n+j])
						}
					}
				}
			}
			for typ, e := range worst {
				t.Logf("%s: worst relative RMS error vs f16 = %.5f", typ, e)
			}
		})
	}
}

// TestRealFilesOpen checks the parsed structure and metadata accessors of the
// real files against the documented shapes.
func TestRealFilesOpen(t *testing.T) {
	f := openModel(t, "syn-llama.Q4_K_M.gguf")
	if f.Version != 3 || f.Alignment != 32 || f.Arch() != "llama" {
		t.Fatalf("version %d alignment %d arch %q", f.Version, f.Alignment, f.Arch())
	}
	if len(f.Tensors) != 39 || len(f.Keys) != len(f.Metadata) {
		t.Fatalf("%d tensors, %d keys, %d metadata", len(f.Tensors), len(f.Keys), len(f.Metadata))
	}
	if n, ok := f.Uint("llama.embedding_length"); !ok || n != 512 {
		t.Errorf("embedding_length = %d, %v", n, ok)
	}
	if n, ok := f.Uint("llama.attention.head_count_kv"); !ok || n != 2 {
		t.Errorf("head_count_kv = %d, %v", n, ok)
	}
	if eps, ok := f.Float("llama.attention.layer_norm_rms_epsilon"); !ok || math.Abs(eps-1e-5) > 1e-9 {
		t.Errorf("rms eps = %v, %v", eps, ok)
	}
	toks, ok := f.Strings("tokenizer.ggml.tokens")
	if !ok || len(toks) != 512 {
		t.Errorf("tokens: %d, %v", len(toks), ok)
	}
	if _, ok := f.Float32s("tokenizer.ggml.scores"); !ok {
		t.Error("scores missing")
	}
	if _, ok := f.Int32s("tokenizer.ggml.token_type"); !ok {
		t.Error("token_type missing")
	}
	if _, ok := f.String("llama.embedding_length"); ok {
		t.Error("String accepted an integer")
	}
	if _, ok := f.Uint("no.such.key"); ok {
		t.Error("Uint found a missing key")
	}
	for _, c := range []struct {
		name string
		dims []uint64
		typ  Type
	}{
		{"output.weight", []uint64{512, 512}, Q6_K},
		{"token_embd.weight", []uint64{512, 512}, Q4_K},
		{"blk.0.attn_k.weight", []uint64{512, 128}, Q4_K},
		{"blk.3.ffn_down.weight", []uint64{1536, 512}, Q6_K},
		{"output_norm.weight", []uint64{512}, F32},
	} {
		ti, ok := f.Tensor(c.name)
		if !ok {
			t.Fatalf("tensor %s missing", c.name)
		}
		if ti.Type != c.typ || len(ti.Dims) != len(c.dims) || ti.Dims[0] != c.dims[0] || ti.Dims[len(ti.Dims)-1] != c.dims[len(c.dims)-1] {
			t.Errorf("%s: %v %s, want %v %s", c.name, ti.Dims, ti.Type, c.dims, c.typ)
		}
		if ti.Offset%uint64(f.Alignment) != 0 {
			t.Errorf("%s: offset %d unaligned", c.name, ti.Offset)
		}
	}
	if _, ok := f.Tensor("output"); ok {
		t.Error("found a tensor that does not exist")
	}
	if int64(len(f.Header())) != f.DataOffset || !strings.HasPrefix(string(f.Header()), Magic) {
		t.Error("Header wrong")
	}
	// Every model file parses; stories260K and tiny-llama are all-F32/F16/Q8_0.
	for _, name := range []string{"stories260K.gguf", "tiny-llama-hd64.f32.gguf", "tiny-llama-hd64.f16.gguf", "tiny-llama-hd64.Q8_0.gguf", "syn-qwen2.f16.gguf"} {
		g := openModel(t, name)
		for i := range g.Tensors {
			if _, err := g.Tensors[i].Float32s(); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}

// TestOpenErrors checks that Open names the file for missing files,
// directories and non-GGUF files, and that Close is idempotent and cuts off
// tensor data.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notGGUF := filepath.Join(dir, "x.bin")
	if err := os.WriteFile(notGGUF, []byte("hello world, not gguf"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.gguf")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "missing.gguf"), dir, notGGUF, empty} {
		if _, err := Open(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("Open(%s) err = %v", p, err)
		}
	}
	p := filepath.Join(dir, "m.gguf")
	if err := WriteFile(p, 3, nil, sampleTensors(t)); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	ti := &f.Tensors[0]
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if ti.Data != nil || ti.Row(0) != nil || f.Header() != nil {
		t.Fatal("tensor data or header still reachable after Close")
	}
	if _, err := ti.Float32s(); err == nil {
		t.Fatal("Float32s after Close: no error")
	}
	if err := f.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

// TestRealFilesQuantizeMatchesLlamaCpp re-quantizes the f16 models' weights
// with QuantizeRow and requires the bytes llama-quantize wrote in the Q8_0
// and Q4_0 files (which it made from the f16 files with ggml's reference
// quantizers): this pins QuantizeRowQ8_0/QuantizeRowQ4_0 and F32ToF16 to
// ggml bit for bit.
func TestRealFilesQuantizeMatchesLlamaCpp(t *testing.T) {
	for _, c := range []struct{ file, ref string }{
		{"syn-llama.Q8_0.gguf", "syn-llama.f16.gguf"},
		{"syn-llama.Q4_0.gguf", "syn-llama.f16.gguf"},
		{"syn-qwen2.Q8_0.gguf", "syn-qwen2.f16.gguf"},
	} {
		t.Run(c.file, func(t *testing.T) {
			q, ref := openModel(t, c.file), openModel(t, c.ref)
			checked := 0
			for i := range q.Tensors {
				tq := &q.Tensors[i]
				if tq.Type != Q8_0 && tq.Type != Q4_0 {
					continue
				}
				tr, ok := ref.Tensor(tq.Name)
				if !ok {
					t.Fatalf("%s missing from %s", tq.Name, c.ref)
				}
				v, err := tr.Float32s()
				if err != nil {
					t.Fatal(err)
				}
				got, err := Quantize(tq.Type, v)
				if err != nil {
					t.Fatal(err)
				}
				for j := range got {
					if got[j] != tq.Data[j] {
						blk := j / tq.Type.BlockBytes()
						t.Fatalf("%s: byte %d (block %d) = %#02x, llama.cpp wrote %#02x", tq.Name, j, blk, got[j], tq.Data[j])
					}
				}
				checked++
			}
			if checked == 0 {
				t.Fatal("no Q8_0/Q4_0 tensors")
			}
		})
	}
}
