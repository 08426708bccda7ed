package engine

import (
	"context"
	"math"
	"os"
	"slices"
	"strconv"
	"testing"

	"nexusquant/engine/tokenizer"
	"nexusquant/internal/testfiles"
)

// Figures from reference/stories260K.md (llama.cpp c392e509).

// TestStoriesGreedy: greedy "Once upon a time", 64 tokens, must give exactly
// llama.cpp's text.
func TestStoriesGreedy(t *testing.T) {
	m := loadModel(t, "stories260K.gguf")
	for text, want := range map[string][]int32{
		"Lily and Ben are friends. They like to play in the park.": {1, 317, 269, 368, 302, 261, 276, 374, 419, 426, 342, 397, 354, 267, 337, 322, 265, 282, 295, 433, 426},
	} {
		if ids := m.Tok.Encode(text, tokenizer.Options{AddSpecial: true}); !slices.Equal(ids, want) {
			t.Errorf("%q encodes to %v, llama.cpp %v", text, ids, want)
		}
	}
	prompt := m.Tok.Encode("Once upon a time", tokenizer.Options{AddSpecial: true})
	if want := []int32{1, 403, 407, 261, 378}; !slices.Equal(prompt, want) {
		t.Fatalf("prompt ids %v, want %v", prompt, want)
	}
	var streamed []int32
	out, err := m.Generate(context.Background(), prompt, 64, Sampler{}, func(id int32) bool {
		streamed = append(streamed, id)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	const want = " Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said"
	got := m.Tok.Decode(append(prompt[1:len(prompt):len(prompt)], out...))
	if got != want {
		t.Errorf("greedy text\n got %q\nwant %q", got, want)
	}
	if len(out) != 64 || !slices.Equal(out, streamed) {
		t.Errorf("generated %d tokens (streamed %d), want 64", len(out), len(streamed))
	}
}

// readTokens tokenizes a text file from the shared data with BOS when the
// vocabulary adds it, as llama-perplexity does.
func readTokens(t testing.TB, m *Model, rel string) []int32 {
	t.Helper()
	b, err := os.ReadFile(testfiles.Path(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return m.Tok.Encode(string(b), tokenizer.Options{AddSpecial: true})
}

// checkPPL runs Perplexity and compares with llama.cpp's figure.
func checkPPL(t *testing.T, m *Model, ids []int32, ctx, chunks int, want, wantErr, relTol float64) *PerplexityResult {
	t.Helper()
	res, err := m.Perplexity(context.Background(), ids, ctx, chunks, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rel := res.PPL/want - 1
	t.Logf("ctx %d, %d chunks, %d scored: PPL %.4f ± %.5f, llama.cpp %.4f ± %.5f (%+.3f%%)", ctx, res.Chunks, res.Tokens, res.PPL, res.PPLErr, want, wantErr, 100*rel)
	if math.Abs(rel) > relTol {
		t.Errorf("PPL %.4f differs from llama.cpp's %.4f by %+.3f%% (tolerance %.2f%%)", res.PPL, want, 100*rel, 100*relTol)
	}
	if math.Abs(res.PPLErr/wantErr-1) > 0.05 {
		t.Errorf("PPL error estimate %.5f, llama.cpp %.5f", res.PPLErr, wantErr)
	}
	return res
}

func TestStoriesPerplexity(t *testing.T) {
	m := loadModel(t, "stories260K.gguf")
	ids := readTokens(t, m, "text/tinystories-sample.txt")
	for _, tc := range []struct {
		ctx, chunks int
		ppl, err    float64
		running     []float64
	}{
		{128, 121, 5.8583, 0.13907, []float64{3.5896, 3.8448, 4.2117}},
		{256, 60, 6.2132, 0.15668, nil},
	} {
		t.Run("ctx"+strconv.Itoa(tc.ctx), func(t *testing.T) {
			res := checkPPL(t, m, ids, tc.ctx, 0, tc.ppl, tc.err, 0.001)
			if res.Chunks != tc.chunks {
				t.Errorf("%d chunks, llama.cpp %d", res.Chunks, tc.chunks)
			}
			for i, want := range tc.running {
				if got := res.Running[i]; math.Abs(got/want-1) > 0.001 {
					t.Errorf("running PPL after chunk %d: %.4f, llama.cpp %.4f", i+1, got, want)
				}
			}
		})
	}
}
