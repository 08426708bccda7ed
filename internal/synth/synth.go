// Package synth writes the synthetic parity models: seeded random weights in
// the realistic shapes of each architecture the engine runs (head dims 64,
// 128 and 256, grouped-query attention, sliding windows, fused tensors), as
// F16 or Q8_0 GGUF files that llama.cpp and the engine both load. Quality
// means nothing here; the only question is whether the engine computes what
// llama.cpp computes (see engine/testdata/archref).
//
// Every file is a pure function of its Spec and type: the same bytes on
// every machine, so the committed llama.cpp figures stay valid (their
// sha256 is recorded beside them). The tokenizer is stories260K's
// (SentencePiece, 512 tokens), taken from the embedded demo.
package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"nexusquant/engine/gguf"
	"nexusquant/internal/demo"
)

// Spec is one synthetic model.
type Spec struct {
	Name string // file stem, e.g. "syn-qwen3"
	Arch string // general.architecture
	// Embd … Ctx: the model's shape.
	Embd, Heads, KVHeads, HeadDim, Layers, FF, Ctx int
	RopeBase                                       float64
	Seed                                           uint64
	// KV adds architecture keys (without the "ARCH." prefix) after the
	// common ones.
	KV []gguf.KV
	// Tensors lists the extra tensors of the architecture, see the tensor
	// kinds below.
	QKNorm, PostNorms, FusedQKV, FusedUp, RopeFreqs, PhiFactors, NoOutput bool
}

// Specs are the fixtures, one per architecture (llama with Llama 3's
// rope_freqs). Context lengths are 16384, so that an 8192-token prefix and
// its continuation fit; phi3's LongRoPE original length is 4096, so runs of
// up to 4096 positions use its short factors and longer ones the long.
func Specs() []Spec {
	u := func(v uint32) gguf.Value { return gguf.ValueOf(v) }
	f := func(v float32) gguf.Value { return gguf.ValueOf(v) }
	return []Spec{
		{Name: "syn-qwen3", Arch: "qwen3", Embd: 512, Heads: 8, KVHeads: 2, HeadDim: 64, Layers: 4, FF: 1536, Ctx: 16384,
			RopeBase: 1e6, Seed: 31, QKNorm: true, NoOutput: true},
		{Name: "syn-gemma3", Arch: "gemma3", Embd: 512, Heads: 4, KVHeads: 1, HeadDim: 256, Layers: 6, FF: 1536, Ctx: 16384,
			RopeBase: 1e6, Seed: 32, QKNorm: true, PostNorms: true, NoOutput: true,
			KV: []gguf.KV{{Key: "attention.sliding_window", Value: u(48)}, {Key: "rope.freq_base_swa", Value: f(10000)}}},
		{Name: "syn-gemma2", Arch: "gemma2", Embd: 256, Heads: 4, KVHeads: 2, HeadDim: 128, Layers: 4, FF: 768, Ctx: 16384,
			RopeBase: 10000, Seed: 33, PostNorms: true, NoOutput: true,
			KV: []gguf.KV{{Key: "attention.sliding_window", Value: u(48)}, {Key: "attn_logit_softcapping", Value: f(50)},
				{Key: "final_logit_softcapping", Value: f(30)}}},
		{Name: "syn-phi3", Arch: "phi3", Embd: 384, Heads: 6, KVHeads: 2, HeadDim: 64, Layers: 4, FF: 1024, Ctx: 16384,
			RopeBase: 10000, Seed: 34, FusedQKV: true, FusedUp: true, PhiFactors: true,
			KV: []gguf.KV{{Key: "rope.scaling.original_context_length", Value: u(4096)}, {Key: "rope.scaling.attn_factor", Value: f(1.1902380714238083)}}},
		{Name: "syn-smollm3", Arch: "smollm3", Embd: 512, Heads: 8, KVHeads: 2, HeadDim: 64, Layers: 4, FF: 1536, Ctx: 16384,
			RopeBase: 5e6, Seed: 35},
		{Name: "syn-llama3", Arch: "llama", Embd: 512, Heads: 4, KVHeads: 1, HeadDim: 128, Layers: 4, FF: 1536, Ctx: 16384,
			RopeBase: 500000, Seed: 36, RopeFreqs: true},
	}
}

// Lookup returns the spec called name.
func Lookup(name string) (Spec, error) {
	var names []string
	for _, s := range Specs() {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Spec{}, fmt.Errorf("synth: no model %q (have %s)", name, strings.Join(names, ", "))
}

// Types are the weight types Write makes.
var Types = []gguf.Type{gguf.F16, gguf.Q8_0}

// FileName is the file name of spec s in type t, e.g. "syn-qwen3.Q8_0.gguf".
func FileName(s Spec, t gguf.Type) string { return s.Name + "." + t.String() + ".gguf" }

// Write writes s with matrices of type t (F16 or Q8_0; norms stay F32) to path.
func Write(path string, s Spec, t gguf.Type) error {
	kv, tensors, err := Build(s, t)
	if err != nil {
		return err
	}
	return gguf.WriteFile(path, 3, kv, tensors)
}

// Build returns the metadata and tensors of s in type t.
func Build(s Spec, t gguf.Type) ([]gguf.KV, []gguf.WTensor, error) {
	if t != gguf.F16 && t != gguf.Q8_0 {
		return nil, nil, fmt.Errorf("synth: type %s: only F16 and Q8_0", t)
	}
	tok, err := tokenizerKV()
	if err != nil {
		return nil, nil, err
	}
	vocab := 0
	for _, e := range tok {
		if e.Key == "tokenizer.ggml.tokens" {
			vocab = len(e.Value.V.([]string))
		}
	}
	a := s.Arch
	u := func(v int) gguf.Value { return gguf.ValueOf(uint32(v)) }
	kv := []gguf.KV{
		{Key: "general.architecture", Value: gguf.ValueOf(a)},
		// llama.cpp gives Phi-3 vocabularies special token attributes when
		// general.name contains "phi3", tokens stories260K's vocab lacks.
		{Key: "general.name", Value: gguf.ValueOf(strings.ReplaceAll(s.Name, "phi3", "phi"))},
		{Key: "general.file_type", Value: u(map[gguf.Type]int{gguf.F16: 1, gguf.Q8_0: 7}[t])},
		{Key: a + ".context_length", Value: u(s.Ctx)},
		{Key: a + ".embedding_length", Value: u(s.Embd)},
		{Key: a + ".block_count", Value: u(s.Layers)},
		{Key: a + ".feed_forward_length", Value: u(s.FF)},
		{Key: a + ".attention.head_count", Value: u(s.Heads)},
		{Key: a + ".attention.head_count_kv", Value: u(s.KVHeads)},
		{Key: a + ".attention.key_length", Value: u(s.HeadDim)},
		{Key: a + ".attention.value_length", Value: u(s.HeadDim)},
		{Key: a + ".rope.dimension_count", Value: u(s.HeadDim)},
		{Key: a + ".rope.freq_base", Value: gguf.ValueOf(float32(s.RopeBase))},
		{Key: a + ".attention.layer_norm_rms_epsilon", Value: gguf.ValueOf(float32(1e-6))},
	}
	for _, e := range s.KV {
		kv = append(kv, gguf.KV{Key: a + "." + e.Key, Value: e.Value})
	}
	kv = append(kv, tok...)

	g := newGen(s.Seed)
	var ts []gguf.WTensor
	add := func(name string, typ gguf.Type, dims []uint64, v []float32) {
		if err != nil {
			return
		}
		var w gguf.WTensor
		w, err = gguf.NewTensor(name, typ, dims, v)
		ts = append(ts, w)
	}
	// mat adds a rows×cols matrix (GGUF dims [cols, rows]).
	mat := func(name string, rows, cols int) {
		add(name, t, []uint64{uint64(cols), uint64(rows)}, g.normal(rows*cols, 1/math.Sqrt(float64(cols))))
	}
	// norm adds a norm weight 1 + N(0, 0.1), so a forgotten multiply shows.
	norm := func(name string, n int) {
		v := g.normal(n, 0.1)
		for i := range v {
			v[i]++
		}
		add(name, gguf.F32, []uint64{uint64(n)}, v)
	}
	qd, kvd := s.Heads*s.HeadDim, s.KVHeads*s.HeadDim
	mat("token_embd.weight", vocab, s.Embd)
	norm("output_norm.weight", s.Embd)
	if !s.NoOutput {
		mat("output.weight", vocab, s.Embd)
	}
	if s.RopeFreqs {
		add("rope_freqs.weight", gguf.F32, []uint64{uint64(s.HeadDim / 2)}, llama3Factors(s.HeadDim, s.RopeBase))
	}
	if s.PhiFactors {
		short, long := phiFactors(s.HeadDim/2, g)
		add("rope_factors_long.weight", gguf.F32, []uint64{uint64(s.HeadDim / 2)}, long)
		add("rope_factors_short.weight", gguf.F32, []uint64{uint64(s.HeadDim / 2)}, short)
	}
	for i := 0; i < s.Layers; i++ {
		p := fmt.Sprintf("blk.%d.", i)
		norm(p+"attn_norm.weight", s.Embd)
		if s.FusedQKV {
			mat(p+"attn_qkv.weight", qd+2*kvd, s.Embd)
		} else {
			mat(p+"attn_q.weight", qd, s.Embd)
			mat(p+"attn_k.weight", kvd, s.Embd)
			mat(p+"attn_v.weight", kvd, s.Embd)
		}
		if s.QKNorm {
			norm(p+"attn_q_norm.weight", s.HeadDim)
			norm(p+"attn_k_norm.weight", s.HeadDim)
		}
		mat(p+"attn_output.weight", s.Embd, qd)
		if s.PostNorms {
			norm(p+"post_attention_norm.weight", s.Embd)
		}
		norm(p+"ffn_norm.weight", s.Embd)
		if s.FusedUp {
			mat(p+"ffn_up.weight", 2*s.FF, s.Embd)
		} else {
			mat(p+"ffn_gate.weight", s.FF, s.Embd)
			mat(p+"ffn_up.weight", s.FF, s.Embd)
		}
		mat(p+"ffn_down.weight", s.Embd, s.FF)
		if s.PostNorms {
			norm(p+"post_ffw_norm.weight", s.Embd)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("synth: %s: %w", s.Name, err)
	}
	return kv, ts, nil
}

// tokenizerKV returns the tokenizer.* metadata of the embedded stories260K
// model, in file order.
func tokenizerKV() ([]gguf.KV, error) {
	d, err := demo.Get("stories")
	if err != nil {
		return nil, err
	}
	f, err := gguf.OpenBytes(d.File, d.ModelBytes())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var kv []gguf.KV
	for _, k := range f.Keys {
		if strings.HasPrefix(k, "tokenizer.") {
			kv = append(kv, gguf.KV{Key: k, Value: f.Metadata[k]})
		}
	}
	if !slices.ContainsFunc(kv, func(e gguf.KV) bool { return e.Key == "tokenizer.ggml.tokens" }) {
		return nil, fmt.Errorf("synth: %s has no tokenizer.ggml.tokens", d.File)
	}
	return kv, nil
}

// llama3Factors are Llama 3.1's RoPE frequency factors (factor 8, low and
// high frequency factors 1 and 4, original context 8192), as
// convert_hf_to_gguf.py writes rope_freqs.
func llama3Factors(headDim int, base float64) []float32 {
	const factor, low, high, orig = 8.0, 1.0, 4.0, 8192.0
	lowWave, highWave := orig/low, orig/high
	out := make([]float32, headDim/2)
	for i := range out {
		freq := 1 / math.Pow(base, float64(2*i)/float64(headDim))
		wave := 2 * math.Pi / freq
		switch {
		case wave < highWave:
			out[i] = 1
		case wave > lowWave:
			out[i] = factor
		default:
			smooth := (orig/wave - low) / (high - low)
			out[i] = float32(1 / ((1-smooth)/factor + smooth))
		}
	}
	return out
}

// phiFactors are LongRoPE-like short and long factors: short near 1, long
// growing from 1 to about 40 across the pairs.
func phiFactors(n int, g *gen) (short, long []float32) {
	short, long = make([]float32, n), make([]float32, n)
	jit := g.normal(2*n, 0.02)
	for i := range short {
		x := float64(i) / float64(n-1)
		short[i] = float32(1 + 0.1*x + float64(jit[i]))
		long[i] = float32(math.Pow(40, x) * (1 + float64(jit[n+i])))
	}
	return short, long
}

// gen is a seeded normal generator (PCG), the same on every machine.
type gen struct{ r *rand.Rand }

func newGen(seed uint64) *gen { return &gen{rand.New(rand.NewPCG(seed, 0x5eed))} }

// normal returns n values from N(0, sd²).
func (g *gen) normal(n int, sd float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(g.r.NormFloat64() * sd)
	}
	return v
}
