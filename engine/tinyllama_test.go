package engine

import "testing"

// TestTinyLlamaPerplexity: reference/tiny-llama-hd64.md, llama-perplexity
// -c 256 --chunks 40 on text/dict-eval.txt.
func TestTinyLlamaPerplexity(t *testing.T) {
	for _, tc := range []struct {
		file     string
		ppl, err float64
	}{
		{"tiny-llama-hd64.f32.gguf", 9.7792, 0.25170},
		{"tiny-llama-hd64.f16.gguf", 9.7791, 0.25170},
		{"tiny-llama-hd64.Q8_0.gguf", 9.7808, 0.25175},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m := loadModel(t, tc.file)
			ids := readTokens(t, m, "text/dict-eval.txt")
			checkPPL(t, m, ids, 256, 40, tc.ppl, tc.err, 0.005)
		})
	}
}
