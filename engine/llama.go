package engine

import (
	"fmt"

	"nexusquant/engine/gguf"
)

// The llama family: RMSNorm, rotary embeddings, grouped-query attention and a
// SwiGLU feed-forward block.
//
//   - llama (Llama 2/3, Mistral, TinyLlama, SmolLM, the stories models): RoPE
//     on adjacent pairs (GGUF "normal" mode), optional rope_freqs factors,
//     separate or tied (no output.weight) output matrix.
//   - qwen2: q/k/v biases added before RoPE, NEOX RoPE (split halves), tied
//     output.
func init() {
	Register("llama", func(f *gguf.File) (*Model, error) { return buildLlama(f, "llama", false) })
	Register("qwen2", func(f *gguf.File) (*Model, error) { return buildLlama(f, "qwen2", true) })
}

// buildLlama reads the config and binds every tensor, checking its shape.
// neox selects split-half RoPE; biases are loaded wherever the file has them.
func buildLlama(f *gguf.File, arch string, neox bool) (*Model, error) {
	c, err := readConfig(f, arch)
	if err != nil {
		return nil, err
	}
	c.RopeNeox = neox
	m := &Model{Config: c}
	qd, kvd := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim

	tensor := func(name string) (*gguf.TensorInfo, error) {
		t, ok := f.Tensor(name)
		if !ok {
			return nil, errMissing(name)
		}
		return t, nil
	}
	mat := func(name string, rows, cols int) (*matrix, error) {
		t, err := tensor(name)
		if err != nil {
			return nil, err
		}
		return newMatrix(t, rows, cols)
	}
	vec := func(name string, n int, optional bool) ([]float32, error) {
		t, ok := f.Tensor(name)
		if !ok {
			if optional {
				return nil, nil
			}
			return nil, errMissing(name)
		}
		return vector(t, n)
	}

	if m.tokEmbd, err = mat("token_embd.weight", c.Vocab, c.Embd); err != nil {
		return nil, err
	}
	if m.outputNorm, err = vec("output_norm.weight", c.Embd, false); err != nil {
		return nil, err
	}
	m.output = m.tokEmbd
	if _, ok := f.Tensor("output.weight"); ok {
		if m.output, err = mat("output.weight", c.Vocab, c.Embd); err != nil {
			return nil, err
		}
	}
	factors, err := vec("rope_freqs.weight", c.RopeDims/2, true)
	if err != nil {
		return nil, err
	}
	m.rope = newRope(c.RopeDims, c.RopeBase, c.RopeScale, neox, factors)

	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("blk.%d.", i)
		var l layer
		steps := []struct {
			dst        **matrix
			name       string
			rows, cols int
		}{
			{&l.wq, "attn_q.weight", qd, c.Embd},
			{&l.wk, "attn_k.weight", kvd, c.Embd},
			{&l.wv, "attn_v.weight", kvd, c.Embd},
			{&l.wo, "attn_output.weight", c.Embd, qd},
			{&l.gate, "ffn_gate.weight", c.FF, c.Embd},
			{&l.up, "ffn_up.weight", c.FF, c.Embd},
			{&l.down, "ffn_down.weight", c.Embd, c.FF},
		}
		for _, s := range steps {
			if *s.dst, err = mat(p+s.name, s.rows, s.cols); err != nil {
				return nil, err
			}
		}
		if l.attnNorm, err = vec(p+"attn_norm.weight", c.Embd, false); err != nil {
			return nil, err
		}
		if l.ffnNorm, err = vec(p+"ffn_norm.weight", c.Embd, false); err != nil {
			return nil, err
		}
		if l.bq, err = vec(p+"attn_q.bias", qd, !neox); err != nil {
			return nil, err
		}
		if l.bk, err = vec(p+"attn_k.bias", kvd, !neox); err != nil {
			return nil, err
		}
		if l.bv, err = vec(p+"attn_v.bias", kvd, !neox); err != nil {
			return nil, err
		}
		m.layers = append(m.layers, l)
	}
	return m, nil
}
