package kvquant

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"nexusquant/engine"
	"nexusquant/engine/gguf"
	"nexusquant/engine/tokenizer"
	"nexusquant/internal/testfiles"
)

// Rows read back are exactly ggml's quantize → dequantize of the rows appended.
func TestAppendReadMatchesGGML(t *testing.T) {
	for _, kind := range []string{"f16", "q8_0", "q4_0"} {
		t.Run(kind, func(t *testing.T) {
			const L, H, d, n = 2, 3, 64, 300
			c, err := New(kind, L, H, d)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			rows := make([][]float32, n) // layer 1's k rows, all heads
			for p := 0; p < n; p++ {
				k := make([]float32, H*d)
				v := make([]float32, H*d)
				for i := range k {
					k[i], v[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
				}
				rows[p] = k
				for l := 0; l < L; l++ {
					if err := c.Append(l, int32(p), k, v); err != nil {
						t.Fatal(err)
					}
				}
			}
			if got := c.NumBlocks(1, 2); got != 2 {
				t.Fatalf("NumBlocks = %d, want 2 for %d rows", got, n)
			}
			var blk engine.Block
			if err := c.ReadBlock(1, 2, 1, &blk); err != nil {
				t.Fatal(err)
			}
			if len(blk.Pos) != n-BlockRows || blk.Pos[0] != BlockRows {
				t.Fatalf("block 1 holds %d rows from position %d", len(blk.Pos), blk.Pos[0])
			}
			typ := c.Type()
			rb, _ := typ.RowBytes(d)
			q := make([]byte, rb)
			want := make([]float32, d)
			for r := range blk.Pos {
				src := rows[BlockRows+r][2*d : 3*d]
				if err := gguf.QuantizeRow(typ, src, q); err != nil {
					t.Fatal(err)
				}
				if err := gguf.DequantizeRow(typ, q, want); err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if blk.K[r*d+i] != want[i] {
						t.Fatalf("row %d value %d = %v, want ggml's %v", r, i, blk.K[r*d+i], want[i])
					}
				}
			}
			if got, want := c.Bytes(), int64(2*L*H*n*rb); got != want {
				t.Errorf("Bytes = %d, want %d", got, want)
			}
		})
	}
}

func TestRefusesUnsupported(t *testing.T) {
	if _, err := New("q8_0", 1, 1, 8); err == nil || !strings.Contains(err.Error(), "head_dim is 8") {
		t.Errorf("head_dim 8: err = %v, want one naming the head_dim", err)
	}
	if _, err := New("q5_k", 1, 1, 64); err == nil {
		t.Error("unknown kind accepted")
	}
	c, _ := New("q8_0", 1, 1, 32)
	if err := c.Append(1, 0, make([]float32, 32), make([]float32, 32)); err == nil {
		t.Error("append to a missing layer accepted")
	}
	var blk engine.Block
	if err := c.ReadBlock(0, 0, 0, &blk); err == nil {
		t.Error("reading an empty cache accepted")
	}
}

// The llama.cpp-style KV cache baselines reproduce llama.cpp's figures on
// syn-llama.f16 (reference/synthetic.md (d): llama-perplexity -fa, ctx 128,
// 16 chunks of the TinyStories sample) within 0.5%, and their KL divergence
// against the f16 cache is of llama.cpp's order.
func TestLlamaCppKVBaselines(t *testing.T) {
	if testing.Short() {
		t.Skip("runs syn-llama over 16 chunks three times; skipped with -short")
	}
	m, err := engine.Load(testfiles.Path(t, "models/syn-llama.f16.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	text, err := os.ReadFile(testfiles.Path(t, "text/tinystories-sample.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ids := m.Tok.Encode(string(text), tokenizer.Options{AddSpecial: true})
	ref := map[string]struct{ ppl, kld, top1 float64 }{
		"f16":  {969.9135, 0, 1},
		"q8_0": {969.6036, 0.000032, 0.98413},
		"q4_0": {969.0439, 0.005140, 0.85714},
	}
	const nctx, chunks = 128, 16
	first := nctx / 2
	logitsOf := func(kind string) ([]float32, []int32) {
		var all []float32
		var targets []int32
		toks := make([]int32, nctx)
		for ch := 0; ch < chunks; ch++ {
			copy(toks, ids[ch*nctx:(ch+1)*nctx])
			toks[0] = m.Tok.BOS()
			c, err := New(kind, m.Config.Layers, m.Config.KVHeads, m.Config.HeadDim)
			if err != nil {
				t.Fatal(err)
			}
			l, _, err := m.Forward(context.Background(), c, toks, 0, engine.ForwardOptions{Logits: engine.LogitsAll, LogitsFrom: first})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, l[:(nctx-1-first)*m.Config.Vocab]...)
			targets = append(targets, toks[first+1:]...)
		}
		return all, targets
	}
	base, targets := logitsOf("f16")
	for _, kind := range []string{"f16", "q8_0", "q4_0"} {
		got := base
		if kind != "f16" {
			got, _ = logitsOf(kind)
		}
		mt := engine.CompareLogits(base, got, m.Config.Vocab, targets, 1, 0)
		r := ref[kind]
		rel := mt.PPL/r.ppl - 1
		t.Logf("KV %-5s PPL %.4f (llama.cpp %.4f, %+.3f%%)  KLD vs f16 %.6f (llama.cpp %.6f)  same top-1 %.2f%% (llama.cpp %.2f%%)  N %d",
			kind, mt.PPL, r.ppl, 100*rel, mt.KLD, r.kld, 100*mt.Top1Agree, 100*r.top1, mt.N)
		if mt.N != chunks*(nctx-1-first) {
			t.Errorf("%s: %d positions scored, want %d", kind, mt.N, chunks*(nctx-1-first))
		}
		if math.Abs(rel) > 0.005 {
			t.Errorf("%s: PPL %.4f is %.3f%% from llama.cpp's %.4f, want within 0.5%%", kind, mt.PPL, 100*rel, r.ppl)
		}
		if kind != "f16" && (mt.KLD < r.kld/4 || mt.KLD > r.kld*4) {
			t.Errorf("%s: KLD %.6f not within 4× of llama.cpp's %.6f", kind, mt.KLD, r.kld)
		}
	}
}
