package engine

import (
	"context"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"nexusquant/engine/tokenizer"
)

// synModels are the synthetic parity fixtures of reference/synthetic.md.
var synModels = []string{
	"syn-llama.f16", "syn-llama.Q8_0", "syn-llama.Q4_0", "syn-llama.Q4_K_M", "syn-llama.Q6_K",
	"syn-qwen2.f16", "syn-qwen2.Q8_0", "syn-qwen2.Q4_K_M",
}

// parityTol is how closely greedy decoding must follow llama.cpp: our argmax
// must be llama.cpp's token wherever its two best logits are more than tieGap
// apart, and our logits of its five best tokens must be within maxDiff of its
// own, with root mean square at most rmsDiff over all steps.
//
// In Exact mode (exactmul.go, exactattn.go) the engine computes what
// llama.cpp's CPU build computes operation for operation, so the logits
// agree to the six decimals the reference prints, for every weight type.
//
// The default path keeps a float32 KV cache, its own summation orders and
// exp, so it agrees only approximately: within ~4e-3 for F16 weights. With
// quantized weights llama.cpp rounds the activations to Q8_0 / Q8_K blocks
// before every product; we round the same way, but an ulp of difference
// before a rounding flips it now and then, and these random-weight models
// turn one flip into ~0.05 in a logit. So there the logits agree to ~0.03
// RMS and near-ties are wider.
type parityTol struct{ tieGap, maxDiff, rmsDiff float32 }

// exactTol is the spec's rule (argmax equal wherever llama.cpp's top two
// differ by more than 1e-2) plus logits equal up to the reference's
// printing precision.
var exactTol = parityTol{0.01, 2e-6, 1e-6}

var parityTols = map[string]parityTol{
	"f16":    {0.01, 0.01, 0.004},
	"Q8_0":   {0.15, 0.2, 0.05},
	"Q4_0":   {0.15, 0.25, 0.06},
	"Q4_K_M": {0.15, 0.25, 0.06},
	"Q6_K":   {0.15, 0.25, 0.06},
}

// TestGreedyParity feeds the prompt of each reference generation, then
// llama.cpp's tokens one at a time (teacher forcing), and compares our logits
// with llama.cpp's at every step (see parityTol), in Exact mode and on the
// default path.
func TestGreedyParity(t *testing.T) {
	for _, name := range synModels {
		// The reference generations and their prompts (reference/synthetic.md (b)).
		type gen struct{ file, prompt string }
		gens := []gen{{name + ".ids.txt", "The quick brown fox"}}
		if strings.HasPrefix(name, "syn-llama") {
			gens = []gen{{name + ".ids.txt", "Once upon a time"}, {name + ".ids2.txt", "Lily and Ben are friends."}}
		}
		for _, exact := range []bool{true, false} {
			tol := parityTols[name[strings.IndexByte(name, '.')+1:]]
			mode := "default"
			if exact {
				tol, mode = exactTol, "exact"
			}
			for _, g := range gens {
				t.Run(mode+"/"+g.file, func(t *testing.T) {
					t.Parallel()
					shared := loadModel(t, name+".gguf")
					m := new(Model)
					*m = *shared // the cached model is shared: set Exact on a copy
					m.Exact = exact
					ref := readGen(t, refPath(t, "synthetic/gen/"+g.file))
					if ids := m.Tok.Encode(g.prompt, tokenizer.Options{AddSpecial: true}); !slices.Equal(ids, ref.prompt) {
						t.Errorf("prompt %q encodes to %v, llama.cpp %v", g.prompt, ids, ref.prompt)
					}
					checkGreedy(t, m, ref, tol)
				})
			}
		}
	}
}

// checkGreedy runs the teacher-forced comparison of TestGreedyParity.
func checkGreedy(t *testing.T, m *Model, ref genRef, tol parityTol) {
	t.Helper()
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
		if gap := st.top[0].logit - st.top[1].logit; gap <= tol.tieGap {
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
	t.Logf("%d steps, %d near-ties (gap ≤ %g), |Δlogit| max %.2g rms %.2g", len(ref.steps), ties, tol.tieGap, worst, rms)
	if worst > float64(tol.maxDiff) || rms > float64(tol.rmsDiff) {
		t.Errorf("logits of llama.cpp's top 5 differ by up to %.3g (rms %.3g); tolerance %g (rms %g)", worst, rms, tol.maxDiff, tol.rmsDiff)
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

// runningPPL reads llama-perplexity's running estimates ("[1]1106.6500,
// [2]948.1493,…") from its log in reference/synthetic/ppl.
func runningPPL(t *testing.T, name string) []float64 {
	t.Helper()
	b, err := os.ReadFile(refPath(t, "synthetic/ppl/"+name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	var vals []float64
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "[1]") {
			continue
		}
		for _, f := range strings.Split(strings.TrimSuffix(strings.TrimSpace(line), ","), ",") {
			_, v, ok := strings.Cut(f, "]")
			x, err := strconv.ParseFloat(v, 64)
			if !ok || err != nil {
				t.Fatalf("%s.log: bad running value %q", name, f)
			}
			vals = append(vals, x)
		}
	}
	if len(vals) == 0 {
		t.Fatalf("%s.log: no running perplexities", name)
	}
	return vals
}

// TestExactPerplexity: in Exact mode the running perplexity after the first
// chunk equals llama-perplexity's to the four decimals it prints (up to
// 1e-8 relative: the metric's own float64 sums run in another order), for
// every synthetic file. One chunk keeps the scalar path quick; `nexusquant
// perplexity --exact` over all 16 reproduces the final figures too.
func TestExactPerplexity(t *testing.T) {
	const chunks = 1
	for _, name := range synModels {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := new(Model)
			*m = *loadModel(t, name+".gguf")
			m.Exact = true
			text := "text/tinystories-sample.txt"
			if strings.HasPrefix(name, "syn-qwen2") {
				text = "text/wiki.test.raw"
			}
			want := runningPPL(t, name)[chunks-1]
			res, err := m.Perplexity(context.Background(), readTokens(t, m, text), 128, chunks, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("after %d chunks: %.4f, llama.cpp %.4f", chunks, res.PPL, want)
			if math.Abs(res.PPL-want) > 0.00005+1e-8*want {
				t.Errorf("running PPL after %d chunks %.5f, llama.cpp prints %.4f", chunks, res.PPL, want)
			}
		})
	}
}
