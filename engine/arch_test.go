package engine_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"nexusquant/engine"
	"nexusquant/engine/gguf"
	"nexusquant/engine/tokenizer"
	"nexusquant/internal/synth"
	"nexusquant/internal/synth/synthtest"
	"nexusquant/internal/testfiles"
)

// Parity of every architecture with llama.cpp, on the synthetic fixtures of
// internal/synth (regenerated here byte for byte; testdata/archref/regen.sh
// made llama.cpp's figures from the same bytes):
//   - perplexity within 0.5% of llama-perplexity's;
//   - at every scored position where llama.cpp's two best logits differ by
//     more than the type's tie gap, our argmax is llama.cpp's (teacher
//     forcing: every position sees the text, as in greedy decoding with
//     llama.cpp's tokens).
//
// The tie gap is 1e-2 for F16 weights. For Q8_0 it is 0.15, as in
// TestGreedyParity: llama.cpp rounds activations to Q8_0 blocks before every
// product, a one-ulp difference in summation order flips an int8 level now
// and then, and these random-weight models turn one flip into up to ~0.1 in
// a logit. llama.cpp's own builds differ the same way (syn-llama.Q8_0: PPL
// 968.1547 from the reference build, 967.6902 from commit 80fb11a on this
// kind of machine); with a 1e-2 gap about 2% of Q8_0 positions disagree,
// with gaps up to 0.096, in the default and Exact modes alike.
const pplTol = 0.005

var tieGaps = map[gguf.Type]float32{gguf.F16: 0.01, gguf.Q8_0: 0.15}

// synthFile writes spec name in type typ to a temporary folder and checks
// that the bytes are those llama.cpp's figures came from.
func synthFile(t *testing.T, name string, typ gguf.Type, wantSHA string) string {
	t.Helper()
	path := synthtest.File(t, name, typ)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != wantSHA {
		t.Fatalf("%s: the generator wrote sha256 %x, the reference figures are for %s (run testdata/archref/regen.sh after changing internal/synth)", filepath.Base(path), sum, wantSHA)
	}
	return path
}

// chunkRun is one llama-perplexity-style run: per scored position, the
// negative log-likelihood and our argmax.
type chunkRun struct {
	ppl    float64
	argmax []int32
	tokens []int32 // the evaluated chunks as tokenized (before BOS is put in place)
}

// runChunks evaluates chunks of nctx tokens of ids as llama-perplexity does
// (engine.Model.Perplexity's procedure), keeping each scored position's argmax.
func runChunks(t *testing.T, m *engine.Model, ids []int32, nctx, chunks int) chunkRun {
	t.Helper()
	var r chunkRun
	first, vocab := nctx/2, m.Config.Vocab
	var nll float64
	n := 0
	for ch := 0; ch < chunks; ch++ {
		toks := append([]int32(nil), ids[ch*nctx:(ch+1)*nctx]...)
		r.tokens = append(r.tokens, toks...)
		if m.Tok.AddBOS() {
			toks[0] = m.Tok.BOS()
		}
		logits, _, err := m.Forward(context.Background(), m.NewCache(), toks, 0, engine.ForwardOptions{Logits: engine.LogitsAll, LogitsFrom: first})
		if err != nil {
			t.Fatal(err)
		}
		for j := first; j < nctx-1; j++ {
			row := logits[(j-first)*vocab : (j-first+1)*vocab]
			best, mx := 0, row[0]
			for i, v := range row {
				if v > mx {
					best, mx = i, v
				}
			}
			var sum float64
			for _, v := range row {
				sum += math.Exp(float64(v - mx))
			}
			nll += math.Log(sum) - float64(row[toks[j+1]]-mx)
			n++
			r.argmax = append(r.argmax, int32(best))
		}
	}
	r.ppl = math.Exp(nll / float64(n))
	return r
}

func TestArchParity(t *testing.T) {
	for _, spec := range synth.Specs() {
		for _, typ := range synth.Types {
			name := spec.Name + "." + typ.String()
			t.Run(name, func(t *testing.T) {
				ref, err := synth.ReadRef(filepath.Join("testdata", "archref", name+".json"))
				if err != nil {
					t.Fatal(err)
				}
				m, err := engine.Load(synthFile(t, spec.Name, typ, ref.SHA256))
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				if m.Config.Arch != spec.Arch {
					t.Fatalf("loaded as %s, want %s", m.Config.Arch, spec.Arch)
				}
				text, err := os.ReadFile(testfiles.Path(t, "text/"+ref.Text))
				if err != nil {
					t.Fatal(err)
				}
				ids := m.Tok.Encode(string(text), tokenizer.Options{AddSpecial: true})
				r := runChunks(t, m, ids, ref.Ctx, ref.Chunks)
				if got := tokenizer.HashIDs(r.tokens); got != ref.TokensSHA256 {
					t.Fatalf("the evaluated tokens differ from llama.cpp's (sha256 %s, want %s)", got, ref.TokensSHA256)
				}
				checkPPLNear(t, r.ppl, ref)
				if len(r.argmax) != len(ref.Argmax) {
					t.Fatalf("%d scored positions, llama.cpp %d", len(r.argmax), len(ref.Argmax))
				}
				decided, wrong := 0, 0
				tieGap := tieGaps[typ]
				for i, want := range ref.Argmax {
					if ref.Gap[i] <= tieGap {
						continue
					}
					decided++
					if r.argmax[i] != want {
						wrong++
						if wrong <= 5 {
							t.Errorf("position %d: argmax %d, llama.cpp %d (its top two %.4f apart)", i, r.argmax[i], want, ref.Gap[i])
						}
					}
				}
				if wrong > 0 {
					t.Errorf("%d of %d decided positions disagree", wrong, decided)
				}
				// Q8_0 at the 1e-2 gap: flips are rare, not the rule (measured:
				// 0.1% to 4.2% of positions, phi3 the most, its LongRoPE
				// attention factor sharpening every score; a wrong graph
				// disagrees at most positions).
				loose, looseWrong := 0, 0
				for i, want := range ref.Argmax {
					if ref.Gap[i] > 0.01 {
						loose++
						if r.argmax[i] != want {
							looseWrong++
						}
					}
				}
				if looseWrong*100 > 5*loose {
					t.Errorf("%d of %d positions whose top two differ by > 0.01 disagree (more than 5%%)", looseWrong, loose)
				}
				t.Logf("PPL %.4f (llama.cpp %.4f), argmax equal at %d/%d positions whose top two differ by > %g", r.ppl, ref.PPL, decided-wrong, decided, tieGap)
			})
		}
	}
}

// TestLongContextPerplexity: one chunk of 4096 and of 8192 tokens, on a
// full-attention model (qwen3), a sliding-window one (gemma3) and a LongRoPE
// one (phi3: short factors at 4096, long at 8192).
func TestLongContextPerplexity(t *testing.T) {
	if testing.Short() {
		t.Skip("long contexts take a while; run without -short")
	}
	for _, name := range []string{"syn-qwen3", "syn-gemma3", "syn-phi3"} {
		for _, nctx := range []int{4096, 8192} {
			t.Run(fmt.Sprintf("%s/c%d", name, nctx), func(t *testing.T) {
				ref, err := synth.ReadRef(filepath.Join("testdata", "archref", fmt.Sprintf("%s.F16.c%d.json", name, nctx)))
				if err != nil {
					t.Fatal(err)
				}
				m, err := engine.Load(synthFile(t, name, gguf.F16, ref.SHA256))
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				text, err := os.ReadFile(testfiles.Path(t, "text/"+ref.Text))
				if err != nil {
					t.Fatal(err)
				}
				ids := m.Tok.Encode(string(text), tokenizer.Options{AddSpecial: true})
				res, err := m.Perplexity(context.Background(), ids, ref.Ctx, ref.Chunks, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				checkPPLNear(t, res.PPL, ref)
				t.Logf("PPL %.4f over %d tokens (llama.cpp %.4f)", res.PPL, res.Tokens, ref.PPL)
			})
		}
	}
}

func checkPPLNear(t *testing.T, got float64, ref *synth.Ref) {
	t.Helper()
	rel := math.Abs(got/ref.PPL - 1)
	if !(rel <= pplTol) {
		t.Errorf("PPL %.4f, llama.cpp %.4f ± %.4f: %.3f%% apart, more than %.1f%%", got, ref.PPL, ref.PPLErr, 100*rel, 100*pplTol)
	}
}

// TestForContext: a LongRoPE model switches to its long factors only for
// runs beyond the original context; other models never change.
func TestForContext(t *testing.T) {
	for _, tc := range []struct {
		name     string
		switches bool
	}{{"syn-phi3", true}, {"syn-qwen3", false}} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := engine.Load(synthtest.File(t, tc.name, gguf.Q8_0))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.ForContext(4096) != m {
				t.Error("ForContext(4096) is a copy; the original context is 4096 or more")
			}
			long := m.ForContext(8192)
			if (long != m) != tc.switches {
				t.Fatalf("ForContext(8192) switched = %v, want %v", long != m, tc.switches)
			}
			a := make([]float32, m.Config.HeadDim)
			for i := range a {
				a[i] = 1
			}
			b := slices.Clone(a)
			m.RoPELayer(0, a, 3000, false)
			long.RoPELayer(0, b, 3000, false)
			if slices.Equal(a, b) != !tc.switches {
				t.Errorf("rotations at position 3000 equal = %v, want %v", slices.Equal(a, b), !tc.switches)
			}
		})
	}
}
