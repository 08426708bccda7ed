package engine

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"nexusquant/engine/gguf"
	"nexusquant/engine/tokenizer"
)

// Config is a model's shape and numeric settings, read from GGUF metadata.
type Config struct {
	Arch string
	// Layers … Ctx: blocks, embedding width, query heads, KV heads, head
	// dimension, feed-forward width, vocabulary size, context length.
	Layers, Embd, Heads, KVHeads, HeadDim, FF, Vocab, Ctx int

	RopeBase float64
	// RopeScale is the linear RoPE scaling factor (positions are divided
	// by it); 1 when unscaled.
	RopeScale float64
	// RopeNeox selects split-half pairs (i, i+RopeDims/2) instead of
	// adjacent pairs (2i, 2i+1).
	RopeNeox bool
	NormEps  float32
	// RopeDims is the number of rotated dimensions per head
	// (rope.dimension_count), at most HeadDim.
	RopeDims int
	// RopeAttnFactor multiplies RoPE's cosines and sines
	// (rope.scaling.attn_factor, phi3's LongRoPE); 1 when absent.
	RopeAttnFactor float64
	// RopeOrigCtx is rope.scaling.original_context_length (the context
	// LongRoPE's short factors are for); Ctx when absent.
	RopeOrigCtx int

	// SlidingWindow is the window of sliding-window layers: a query at
	// position p sees keys at positions > p−SlidingWindow. 0 when the model
	// has none.
	SlidingWindow int
	// SWA marks the sliding-window layers (nil when there are none).
	SWA []bool
	// RopeBaseSWA is the RoPE base of sliding-window layers (gemma:
	// rope.freq_base_swa, default 10000); they are never scaled.
	RopeBaseSWA float64
	// NoRoPE marks layers that apply no rotary embedding (smollm3's every
	// fourth layer); nil when every layer rotates.
	NoRoPE []bool
	// QKNorm: queries and keys are RMS-normalised per head before RoPE
	// (qwen3, gemma3).
	QKNorm bool
	// AttnScale multiplies query·key scores before the softmax; 1/√HeadDim
	// unless the architecture says otherwise (gemma).
	AttnScale float64
	// AttnSoftcap and FinalSoftcap, when positive, cap attention scores and
	// output logits as c·tanh(x/c) (gemma2).
	AttnSoftcap, FinalSoftcap float64
	// EmbedScale multiplies the token embeddings (gemma: √Embd); 1 otherwise.
	EmbedScale float64
	// GELU selects a GELU-gated feed-forward block (gemma) instead of SwiGLU.
	GELU bool
}

// LayerInfo is what one layer's attention does differently from a plain
// llama layer; the compression stages read it to treat each layer type as
// it must be treated.
type LayerInfo struct {
	// Window is the sliding window in positions, 0 for full attention.
	Window int
	// RoPE is false for a layer that rotates neither queries nor keys.
	RoPE bool
	// QKNorm is true when keys are RMS-normalised per head before RoPE.
	QKNorm bool
}

// Kind names the layer type: "full", "sliding" or "no-rope".
func (li LayerInfo) Kind() string {
	switch {
	case li.Window > 0:
		return "sliding"
	case !li.RoPE:
		return "no-rope"
	}
	return "full"
}

// Layer describes layer l (0 ≤ l < Layers).
func (c Config) Layer(l int) LayerInfo {
	li := LayerInfo{RoPE: true, QKNorm: c.QKNorm}
	if l >= 0 && l < len(c.SWA) && c.SWA[l] {
		li.Window = c.SlidingWindow
	}
	if l >= 0 && l < len(c.NoRoPE) && c.NoRoPE[l] {
		li.RoPE = false
	}
	return li
}

// Model is a loaded model. Its weights alias the mapped file until Close.
type Model struct {
	Config Config
	Tok    *tokenizer.Tokenizer // nil when the file has no tokenizer
	Path   string
	File   *gguf.File
	// FloatActivations, when set, multiplies weights with float32
	// activations instead of rounding them first as llama.cpp does (to the
	// weight type's dot type: float16, Q8_0 or Q8_K blocks; see actround.go).
	// The default (false) computes as llama.cpp does.
	FloatActivations bool
	// Exact, when set, reproduces the arithmetic of llama.cpp's CPU backend
	// (the AVX-512 x86 build the reference figures came from, default
	// settings: float16 KV cache, no flash attention) operation for
	// operation, so that logits agree bit for bit (see the package doc,
	// Numerics). It is 5 to 30 times slower than the default path,
	// meant for parity checks. It ignores FloatActivations. Weight types
	// other than F32, F16, Q8_0, Q4_0, Q4_K and Q6_K take the default
	// products.
	Exact bool

	ks         *kernelSet // nil: cpuKernels (see kernels)
	rope       rope       // the rotary embedding of full-attention layers
	longRope   *longRope
	tokEmbd    *matrix
	output     *matrix // token_embd when the output is tied
	outputNorm []float32
	layers     []layer
}

// layer holds one transformer block's weights and attention settings.
type layer struct {
	attnNorm, ffnNorm []float32
	wq, wk, wv, wo    *matrix   // wq/wk/wv may be row views of a fused attn_qkv
	bq, bk, bv        []float32 // nil when the architecture has no bias
	gate, up, down    *matrix   // gate/up may be row views of a fused ffn_up
	// qNorm, kNorm (HeadDim each) normalise queries and keys per head;
	// postAttn, postFFN normalise the blocks' outputs before the residual
	// add (gemma). nil when absent.
	qNorm, kNorm      []float32
	postAttn, postFFN []float32
	rope              *rope // nil: this layer applies no RoPE
	window            int   // sliding window, 0 for full attention
}

var (
	regMu    sync.RWMutex
	registry = map[string]func(f *gguf.File) (*Model, error){}
)

// Register makes an architecture loadable: build turns an open GGUF file whose
// general.architecture is arch into a Model (Load fills Path, File and Tok).
// Registering an architecture twice replaces the builder.
func Register(arch string, build func(f *gguf.File) (*Model, error)) {
	regMu.Lock()
	defer regMu.Unlock()
	registry[arch] = build
}

// Architectures lists the registered architectures, sorted.
func Architectures() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(registry))
	for a := range registry {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Load opens and maps a GGUF model, checks every tensor against the config
// and builds its tokenizer. Errors name the file.
func Load(path string) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err // gguf errors name the file
	}
	return buildFile(path, f)
}

// LoadBytes loads a model from a GGUF image held in memory (an embedded
// model, say) as Load does from a file, without touching the disk; name is
// its file name, shown as Model.Path and in errors. The weights alias data
// (or an aligned copy of it, see gguf.OpenBytes), which must not be modified
// while the model is in use.
func LoadBytes(name string, data []byte) (*Model, error) {
	f, err := gguf.OpenBytes(name, data)
	if err != nil {
		return nil, err // gguf errors name the file
	}
	return buildFile(name, f)
}

// buildFile builds the model of the opened file f, recording path as
// Model.Path; it closes f if that fails.
func buildFile(path string, f *gguf.File) (*Model, error) {
	m, err := build(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("engine: %s: %w", path, err)
	}
	m.Path = path
	return m, nil
}

// build runs the registered builder for f's architecture and attaches the
// tokenizer.
func build(f *gguf.File) (*Model, error) {
	arch := f.Arch()
	regMu.RLock()
	b, ok := registry[arch]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("metadata general.architecture %q is not supported (supported: %s)", arch, strings.Join(Architectures(), ", "))
	}
	m, err := b(f)
	if err != nil {
		return nil, err
	}
	m.File = f
	if m.Tok == nil {
		if _, has := f.Metadata["tokenizer.ggml.model"]; has {
			if m.Tok, err = tokenizer.FromGGUF(f); err != nil {
				return nil, fmt.Errorf("tokenizer: %w", err)
			}
		}
	}
	return m, nil
}

// Close unmaps the file; the model must not be used afterwards.
func (m *Model) Close() error {
	if m.File == nil {
		return nil
	}
	err := m.File.Close()
	m.File = nil
	return err
}

// meta reads architecture-prefixed metadata for a builder.
type meta struct {
	f    *gguf.File
	arch string
	err  error
}

// uint reads <arch>.key; a missing required key records an error.
func (r *meta) uint(key string, def int, required bool) int {
	full := r.arch + "." + key
	v, ok := r.f.Uint(full)
	if !ok {
		if _, present := r.f.Metadata[full]; present {
			r.fail(fmt.Errorf("metadata %s is not a non-negative integer", full))
		} else if required {
			r.fail(fmt.Errorf("metadata %s is missing", full))
		}
		return def
	}
	if v > 1<<31 {
		r.fail(fmt.Errorf("metadata %s = %d is out of range", full, v))
		return def
	}
	return int(v)
}

// float reads <arch>.key as a number.
func (r *meta) float(key string, def float64, required bool) float64 {
	full := r.arch + "." + key
	v, ok := r.f.Float(full)
	if !ok {
		if required {
			r.fail(fmt.Errorf("metadata %s is missing", full))
		}
		return def
	}
	return v
}

func (r *meta) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// geometry reads the attention geometry every transformer header has:
// context, width, blocks, heads, KV heads and head dimension. With
// needEmbd the embedding width is required (the engine needs it; a header
// read for the capacity view does not).
func (r *meta) geometry(needEmbd bool) Config {
	c := Config{Arch: r.arch}
	c.Ctx = r.uint("context_length", 0, true)
	c.Embd = r.uint("embedding_length", 0, needEmbd)
	c.Layers = r.uint("block_count", 0, true)
	c.Heads = r.uint("attention.head_count", 0, true)
	c.KVHeads = r.uint("attention.head_count_kv", c.Heads, false)
	if c.Heads > 0 {
		c.HeadDim = r.uint("attention.key_length", c.Embd/c.Heads, false)
	}
	return c
}

// readConfig reads the llama-family config keys of arch.
func readConfig(f *gguf.File, arch string) (Config, error) {
	r := &meta{f: f, arch: arch}
	c := r.geometry(true)
	c.FF = r.uint("feed_forward_length", 0, true)
	if vd := r.uint("attention.value_length", c.HeadDim, false); vd != c.HeadDim {
		r.fail(fmt.Errorf("metadata %s.attention.value_length = %d differs from key_length %d (unsupported)", arch, vd, c.HeadDim))
	}
	c.RopeBase = r.float("rope.freq_base", 10000, false)
	c.RopeDims = r.uint("rope.dimension_count", c.HeadDim, false)
	c.NormEps = float32(r.float("attention.layer_norm_rms_epsilon", 0, true))
	c.RopeScale = 1
	if typ, _ := f.String(arch + ".rope.scaling.type"); typ != "" && typ != "none" {
		if typ != "linear" {
			r.fail(fmt.Errorf("metadata %s.rope.scaling.type = %q is not supported (only linear)", arch, typ))
		}
		c.RopeScale = r.float("rope.scaling.factor", 1, true)
	} else if s := r.float("rope.scale_linear", 1, false); s != 1 {
		c.RopeScale = s
	}
	c.RopeAttnFactor = r.float("rope.scaling.attn_factor", 1, false)
	c.RopeOrigCtx = r.uint("rope.scaling.original_context_length", c.Ctx, false)
	c.EmbedScale = 1
	if c.HeadDim > 0 {
		c.AttnScale = 1 / math.Sqrt(float64(c.HeadDim))
	}
	c.Vocab = r.uint("vocab_size", 0, false)
	if c.Vocab == 0 {
		if toks, ok := f.Strings("tokenizer.ggml.tokens"); ok {
			c.Vocab = len(toks)
		} else if t, ok := f.Tensor("token_embd.weight"); ok && len(t.Dims) == 2 {
			c.Vocab = int(min(t.Dims[1], 1<<31))
		}
	}
	if r.err != nil {
		return c, r.err
	}
	switch {
	case c.Layers <= 0 || c.Embd <= 0 || c.FF <= 0 || c.Heads <= 0 || c.KVHeads <= 0 || c.Vocab <= 0 || c.Ctx <= 0:
		return c, fmt.Errorf("metadata %s.* gives a zero size (block_count, embedding_length, feed_forward_length, attention.head_count(_kv), vocabulary, context_length): %+v", arch, c)
	case c.Heads%c.KVHeads != 0:
		return c, fmt.Errorf("metadata %s.attention.head_count %d is not a multiple of %s.attention.head_count_kv %d", arch, c.Heads, arch, c.KVHeads)
	case c.HeadDim <= 0:
		return c, fmt.Errorf("metadata %s.attention.key_length / embedding_length: head dimension %d is not positive", arch, c.HeadDim)
	case c.RopeDims <= 0 || c.RopeDims > c.HeadDim || c.RopeDims%2 != 0:
		return c, fmt.Errorf("metadata %s.rope.dimension_count %d must be even and at most the head dimension %d", arch, c.RopeDims, c.HeadDim)
	case c.RopeBase <= 0:
		return c, fmt.Errorf("metadata %s.rope.freq_base %g is not positive", arch, c.RopeBase)
	case c.RopeScale <= 0:
		return c, fmt.Errorf("metadata %s.rope.scaling.factor %g is not positive", arch, c.RopeScale)
	case !(c.RopeAttnFactor > 0):
		return c, fmt.Errorf("metadata %s.rope.scaling.attn_factor %g is not positive", arch, c.RopeAttnFactor)
	case !(c.NormEps >= 0):
		return c, fmt.Errorf("metadata %s.attention.layer_norm_rms_epsilon %g is negative", arch, c.NormEps)
	}
	return c, nil
}

// errMissing reports a required tensor that the file lacks.
func errMissing(name string) error { return fmt.Errorf("tensor %s is missing", name) }
