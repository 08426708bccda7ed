package tokenizer

import (
	"os"
	"testing"

	"nexusquant/internal/testfiles"
)

// BenchmarkEncode tokenizes a text with each fixture vocabulary; run with
// -benchtime=1x for a single pass over the 1.3 MB wiki.test.raw.
func BenchmarkEncode(b *testing.B) {
	texts := []string{"text/tinystories-sample.txt", "text/wiki.test.raw"}
	vocabs := []string{"llama-spm", "gpt-2", "deepseek-coder"}
	for _, text := range texts {
		data, err := os.ReadFile(testfiles.Path(b, text))
		if err != nil {
			b.Fatal(err)
		}
		s := string(data)
		for _, v := range vocabs {
			tok := load(b, "vocab/ggml-vocab-"+v+".gguf")
			b.Run(text[len("text/"):]+"/"+v, func(b *testing.B) {
				b.SetBytes(int64(len(s)))
				b.ReportAllocs()
				var n int
				for b.Loop() {
					n = len(tok.Encode(s, Options{AddSpecial: true}))
				}
				b.ReportMetric(float64(n), "tokens")
			})
		}
	}
}
