package engine

import (
	"fmt"
	"math"
	"slices"

	"nexusquant/engine/gguf"
)

// archSpec is how one GGUF architecture differs from llama; buildArch reads
// any of them. Each field names the reference graph's difference (llama.cpp
// src/models/<arch>.cpp).
type archSpec struct {
	// neox selects split-half RoPE pairs (LLAMA_ROPE_TYPE_NEOX).
	neox bool
	// qkNorm: attn_q_norm and attn_k_norm (HeadDim) are required.
	qkNorm bool
	// postNorms: attn_post_norm and ffn_post_norm are required.
	postNorms bool
	// gelu selects the GELU(tanh)-gated feed-forward block.
	gelu bool
	// embedScale multiplies embeddings by √Embd.
	embedScale bool
	// fused allows attn_qkv and an ffn_up of 2·FF rows without ffn_gate.
	fused bool
	// swa reads the sliding-window layout (nil: no sliding windows).
	swa func(c *Config, f *gguf.File, r *meta)
	// noRopeStep > 0 leaves every noRopeStep-th layer (1-based) unrotated.
	noRopeStep int
	// softcaps reads attention and final logit soft-capping (gemma2).
	softcaps bool
	// queryScale reads gemma's query scale (1/√(Embd/Heads) for the 27B
	// shapes, else 1/√HeadDim).
	queryScale func(c *Config)
}

// archs are the architectures the engine runs.
var archs = map[string]archSpec{
	// Llama 2/3, Mistral, TinyLlama, SmolLM, the stories models: adjacent
	// RoPE pairs, optional rope_freqs (Llama 3.1+).
	"llama": {},
	// qwen2: q/k/v biases added before RoPE, NEOX RoPE.
	"qwen2": {neox: true},
	// qwen3: qwen2 without biases, per-head RMSNorm of q and k before RoPE.
	"qwen3": {neox: true, qkNorm: true},
	// smollm3: llama with no RoPE on every fourth layer.
	"smollm3": {noRopeStep: 4},
	// phi3: fused attn_qkv and gate/up, NEOX RoPE, LongRoPE factor tensors.
	"phi3": {neox: true, fused: true},
	// gemma2: √Embd embeddings, post norms, GELU, alternating sliding
	// windows, attention and final logit soft-capping.
	"gemma2": {neox: true, postNorms: true, gelu: true, embedScale: true, swa: gemma2SWA, softcaps: true, queryScale: gemmaQueryScale},
	// gemma3 (text): gemma2 without soft-capping (unless the file sets a
	// final cap), with q/k norms and a 5:1 sliding-window pattern whose
	// layers have their own RoPE base.
	"gemma3": {neox: true, qkNorm: true, postNorms: true, gelu: true, embedScale: true, swa: gemma3SWA, softcaps: true, queryScale: gemmaQueryScale},
}

func init() {
	for name, spec := range archs {
		Register(name, func(f *gguf.File) (*Model, error) { return buildArch(f, name, spec) })
	}
}

// gemmaQueryScale is llama.cpp's f_attention_scale for gemma2/3.
func gemmaQueryScale(c *Config) {
	d := float64(c.HeadDim)
	if (c.Arch == "gemma2" && c.Layers == 46) || (c.Arch == "gemma3" && c.Layers == 62) { // the 27B models
		d = float64(c.Embd / c.Heads)
	}
	c.AttnScale = 1 / math.Sqrt(float64(float32(d)))
}

// gemma2SWA: every other layer slides (pattern 2 unless the file says
// otherwise), with a window of 4096 unless given.
func gemma2SWA(c *Config, f *gguf.File, r *meta) {
	c.SlidingWindow = r.uint("attention.sliding_window", 4096, false)
	c.RopeBaseSWA = r.float("rope.freq_base_swa", c.RopeBase, false)
	setSWAPattern(c, f, r, 2)
}

// gemma3SWA: sliding windows only when the file gives one; pattern 6.
func gemma3SWA(c *Config, f *gguf.File, r *meta) {
	c.SlidingWindow = r.uint("attention.sliding_window", 0, false)
	if c.SlidingWindow == 0 {
		return
	}
	c.RopeBaseSWA = r.float("rope.freq_base_swa", 10000, false)
	setSWAPattern(c, f, r, 6)
}

// setSWAPattern marks the sliding-window layers from
// attention.sliding_window_pattern: a period n (layer l slides unless
// l%n == n−1) or a per-layer array of booleans.
func setSWAPattern(c *Config, f *gguf.File, r *meta, def int) {
	key := c.Arch + ".attention.sliding_window_pattern"
	c.SWA = make([]bool, c.Layers)
	if bs, ok := f.Metadata[key].V.([]bool); ok {
		if len(bs) != c.Layers {
			r.fail(fmt.Errorf("metadata %s has %d entries for %d layers", key, len(bs), c.Layers))
			return
		}
		copy(c.SWA, bs)
		return
	}
	n := r.uint("attention.sliding_window_pattern", def, false)
	for l := range c.SWA {
		c.SWA[l] = n == 0 || l%n < n-1
	}
}

// buildArch reads the config and binds every tensor of an architecture,
// checking its shape.
func buildArch(f *gguf.File, arch string, spec archSpec) (*Model, error) {
	c, err := archConfig(f, arch, spec)
	if err != nil {
		return nil, err
	}
	m := &Model{Config: c}
	b := binder{f: f}

	if m.tokEmbd, err = b.mat("token_embd.weight", c.Vocab, c.Embd); err != nil {
		return nil, err
	}
	if m.outputNorm, err = b.vec("output_norm.weight", c.Embd, false); err != nil {
		return nil, err
	}
	m.output = m.tokEmbd
	if _, ok := f.Tensor("output.weight"); ok && arch != "gemma2" { // gemma2 always ties
		if m.output, err = b.mat("output.weight", c.Vocab, c.Embd); err != nil {
			return nil, err
		}
	}
	factors, long, err := ropeFactors(f, c)
	if err != nil {
		return nil, err
	}
	m.rope = newRope(c.RopeDims, c.RopeBase, c.RopeScale, spec.neox, factors, c.RopeAttnFactor)
	swaRope := newRope(c.RopeDims, c.RopeBaseSWA, 1, spec.neox, factors, c.RopeAttnFactor)
	if long != nil {
		m.longRope = &longRope{factors: long, orig: c.RopeOrigCtx}
	}

	for i := 0; i < c.Layers; i++ {
		l, err := b.layer(i, c, spec)
		if err != nil {
			return nil, err
		}
		info := c.Layer(i)
		l.window = info.Window
		switch {
		case !info.RoPE:
		case info.Window > 0:
			l.rope = &swaRope
		default:
			l.rope = &m.rope
		}
		m.layers = append(m.layers, l)
	}
	return m, nil
}

// archConfig reads the config of a registered architecture: the common
// keys (readConfig) and what spec adds (sliding windows, soft-capping,
// no-RoPE layers, scales). ReadShape uses it too, so a header read and a
// load agree.
func archConfig(f *gguf.File, arch string, spec archSpec) (Config, error) {
	c, err := readConfig(f, arch)
	if err != nil {
		return c, err
	}
	c.RopeNeox = spec.neox
	c.QKNorm = spec.qkNorm
	c.GELU = spec.gelu
	r := &meta{f: f, arch: arch}
	if spec.embedScale {
		c.EmbedScale = float64(float32(math.Sqrt(float64(c.Embd))))
	}
	if spec.queryScale != nil {
		spec.queryScale(&c)
	}
	if spec.softcaps {
		if arch == "gemma2" {
			c.AttnSoftcap = r.float("attn_logit_softcapping", 0, false)
		}
		c.FinalSoftcap = r.float("final_logit_softcapping", 0, false)
	}
	if spec.swa != nil {
		spec.swa(&c, f, r)
	}
	if spec.noRopeStep > 0 {
		c.NoRoPE = make([]bool, c.Layers)
		for l := range c.NoRoPE {
			c.NoRoPE[l] = (l+1)%spec.noRopeStep == 0
		}
	}
	if r.err != nil {
		return c, r.err
	}
	for _, v := range []struct {
		key string
		val float64
	}{{"attn_logit_softcapping", c.AttnSoftcap}, {"final_logit_softcapping", c.FinalSoftcap}, {"rope.freq_base_swa", c.RopeBaseSWA}} {
		if v.val < 0 || math.IsNaN(v.val) {
			return c, fmt.Errorf("metadata %s.%s = %g is negative", arch, v.key, v.val)
		}
	}
	return c, nil
}

// ropeFactors returns the per-pair frequency factors: rope_freqs (Llama
// 3.1+) or phi3's rope_factors_short, with rope_factors_long as long (nil
// when absent; see Model.ForContext). nil when the file has none.
func ropeFactors(f *gguf.File, c Config) (factors, long []float32, err error) {
	b := binder{f: f}
	if _, ok := f.Tensor("rope_freqs.weight"); ok {
		factors, err = b.vec("rope_freqs.weight", c.RopeDims/2, false)
		return factors, nil, err
	}
	if factors, err = b.vec("rope_factors_short.weight", c.RopeDims/2, true); err != nil {
		return nil, nil, err
	}
	if long, err = b.vec("rope_factors_long.weight", c.RopeDims/2, true); err != nil {
		return nil, nil, err
	}
	return factors, long, nil
}

// longRope is LongRoPE's second set of factors (phi3), for contexts longer
// than the original training context orig.
type longRope struct {
	factors []float32
	orig    int
}

// ForContext returns the model to use for a run of n positions: m itself,
// or, for a LongRoPE model (phi3 with rope_factors_long) and n beyond
// rope.scaling.original_context_length, a copy that rotates with the long
// factors, as llama.cpp chooses for a context of n. The copy shares m's
// weights and file; close only m.
func (m *Model) ForContext(n int) *Model {
	if m.longRope == nil || n <= m.longRope.orig {
		return m
	}
	c := m.Config
	mm := *m
	mm.rope = newRope(c.RopeDims, c.RopeBase, c.RopeScale, c.RopeNeox, m.longRope.factors, c.RopeAttnFactor)
	mm.longRope = nil
	mm.layers = slices.Clone(m.layers)
	for i := range mm.layers {
		if mm.layers[i].rope != nil { // phi3 has no sliding layers
			mm.layers[i].rope = &mm.rope
		}
	}
	return &mm
}

// binder reads tensors of a file, checking their shapes.
type binder struct{ f *gguf.File }

func (b binder) mat(name string, rows, cols int) (*matrix, error) {
	t, ok := b.f.Tensor(name)
	if !ok {
		return nil, errMissing(name)
	}
	return newMatrix(t, rows, cols)
}

func (b binder) vec(name string, n int, optional bool) ([]float32, error) {
	t, ok := b.f.Tensor(name)
	if !ok {
		if optional {
			return nil, nil
		}
		return nil, errMissing(name)
	}
	return vector(t, n)
}

// layer binds block i's tensors.
func (b binder) layer(i int, c Config, spec archSpec) (layer, error) {
	p := fmt.Sprintf("blk.%d.", i)
	qd, kvd := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	var l layer
	var err error
	has := func(name string) bool { _, ok := b.f.Tensor(p + name); return ok }

	type step struct {
		dst        **matrix
		name       string
		rows, cols int
	}
	steps := []step{{&l.wo, "attn_output.weight", c.Embd, qd}, {&l.down, "ffn_down.weight", c.Embd, c.FF}}
	if spec.fused && has("attn_qkv.weight") {
		qkv, err := b.mat(p+"attn_qkv.weight", qd+2*kvd, c.Embd)
		if err != nil {
			return l, err
		}
		l.wq, l.wk, l.wv = qkv.rowView(0, qd), qkv.rowView(qd, qd+kvd), qkv.rowView(qd+kvd, qd+2*kvd)
	} else {
		steps = append(steps, step{&l.wq, "attn_q.weight", qd, c.Embd}, step{&l.wk, "attn_k.weight", kvd, c.Embd}, step{&l.wv, "attn_v.weight", kvd, c.Embd})
	}
	if spec.fused && !has("ffn_gate.weight") {
		// The fused block: the first FF rows are the gate, the next FF the
		// up projection (ggml_swiglu splits its input in halves).
		up, err := b.mat(p+"ffn_up.weight", 2*c.FF, c.Embd)
		if err != nil {
			return l, err
		}
		l.gate, l.up = up.rowView(0, c.FF), up.rowView(c.FF, 2*c.FF)
	} else {
		steps = append(steps, step{&l.gate, "ffn_gate.weight", c.FF, c.Embd}, step{&l.up, "ffn_up.weight", c.FF, c.Embd})
	}
	for _, s := range steps {
		if *s.dst, err = b.mat(p+s.name, s.rows, s.cols); err != nil {
			return l, err
		}
	}
	vecs := []struct {
		dst      *[]float32
		name     string
		n        int
		optional bool
	}{
		{&l.attnNorm, "attn_norm.weight", c.Embd, false},
		{&l.ffnNorm, "ffn_norm.weight", c.Embd, false},
		{&l.bq, "attn_q.bias", qd, true},
		{&l.bk, "attn_k.bias", kvd, true},
		{&l.bv, "attn_v.bias", kvd, true},
		{&l.qNorm, "attn_q_norm.weight", c.HeadDim, !spec.qkNorm},
		{&l.kNorm, "attn_k_norm.weight", c.HeadDim, !spec.qkNorm},
		{&l.postAttn, "post_attention_norm.weight", c.Embd, !spec.postNorms},
		{&l.postFFN, "post_ffw_norm.weight", c.Embd, !spec.postNorms},
	}
	for _, v := range vecs {
		if *v.dst, err = b.vec(p+v.name, v.n, v.optional); err != nil {
			return l, err
		}
	}
	return l, nil
}
