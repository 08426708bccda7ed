package demo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"slices"
	"strings"
	"testing"

	"nexusquant/engine"
	"nexusquant/engine/tokenizer"
	"nexusquant/internal/testfiles"
)

// The window the explorer evaluates: a 256-token prefix and a 128-token
// continuation, so each text must hold at least 384 tokens.
const windowTokens = 256 + 128

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func all(t *testing.T) []*Demo {
	t.Helper()
	var out []*Demo
	for _, n := range Names() {
		d, err := Get(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// The embedded models are the files whose sums the package records (this
// runs without the shared data).
func TestEmbeddedSHA256(t *testing.T) {
	for _, d := range all(t) {
		if got := sum(d.ModelBytes()); got != d.sha256 {
			t.Errorf("%s: embedded %s has sha256 %s, the package records %s", d.Name, d.File, got, d.sha256)
		}
	}
}

// The embedded models are byte-identical copies of the shared models, by
// ../shared/models/SHA256SUMS.
func TestSharedSHA256(t *testing.T) {
	data, err := os.ReadFile(testfiles.Path(t, "models/SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			sums[strings.TrimPrefix(f[1], "*")] = f[0]
		}
	}
	for _, d := range all(t) {
		want, ok := sums[d.File]
		if !ok {
			t.Errorf("%s: SHA256SUMS has no line for %s", d.Name, d.File)
			continue
		}
		if got := sum(d.ModelBytes()); got != want || d.sha256 != want {
			t.Errorf("%s: embedded %s has sha256 %s (package constant %s); SHA256SUMS says %s", d.Name, d.File, got, d.sha256, want)
		}
	}
}

func TestGet(t *testing.T) {
	if got := Names(); !slices.Equal(got, []string{"tiny-llama", "stories"}) {
		t.Errorf("Names() = %v", got)
	}
	d, err := Get("")
	if err != nil || d.Name != Default || d.File != "tiny-llama-hd64.Q8_0.gguf" || d.TextName != "devils-dictionary.txt" {
		t.Errorf(`Get("") = %+v, %v; want the default`, d, err)
	}
	d, err = Get("stories")
	if err != nil || d.File != "stories260K.gguf" || d.TextName != "tinystories.txt" || !strings.HasPrefix(d.Text, "Once there was a girl called Claire") {
		t.Errorf(`Get("stories") = %+v, %v`, d, err)
	}
	d.Name = "changed"
	if again, _ := Get("stories"); again.Name != "stories" {
		t.Error("changing a returned Demo changed the list")
	}
	if _, err := Get("llama-70b"); err == nil || !strings.Contains(err.Error(), "llama-70b") || !strings.Contains(err.Error(), "tiny-llama, stories") {
		t.Errorf("unknown demo: err = %v, want one naming it and listing tiny-llama, stories", err)
	}
}

// Each demo loads from the embedded bytes, names its model by the file name,
// tokenizes its text to at least one 256+128 window, predicts it better than
// chance, and decodes greedily.
func TestLoad(t *testing.T) {
	for _, d := range all(t) {
		t.Run(d.Name, func(t *testing.T) {
			m, err := d.Load()
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.Path != d.File || m.Tok == nil {
				t.Fatalf("Path %q (want %q), tokenizer %v", m.Path, d.File, m.Tok != nil)
			}
			if sh := m.Shape(); sh.WeightBytes <= 0 || sh.WeightBytes > int64(len(d.ModelBytes())) {
				t.Errorf("shape %+v", sh)
			}
			ids := m.Tok.Encode(d.Text, tokenizer.Options{AddSpecial: true})
			if len(ids) < windowTokens {
				t.Fatalf("%s: %d tokens, want at least %d", d.TextName, len(ids), windowTokens)
			}
			// Three 128-token chunks over the window, each scoring its second half.
			ppl, err := m.Perplexity(context.Background(), ids[:windowTokens], 128, 3, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			// A uniform guess would score the vocabulary size.
			if ppl.PPL <= 1 || ppl.PPL > float64(m.Config.Vocab)/4 {
				t.Errorf("perplexity %.2f over the first window: want well under the vocabulary of %d", ppl.PPL, m.Config.Vocab)
			}
			out, err := m.Generate(context.Background(), ids[:64], 8, engine.Sampler{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) == 0 {
				t.Fatal("greedy decoding produced no token")
			}
			t.Logf("%s: %d tokens of %s (%d bytes), perplexity %.2f over the first %d; greedy after 64 tokens: %q",
				d.Name, len(ids), d.TextName, len(d.Text), ppl.PPL, windowTokens, m.Tok.Decode(out))
		})
	}
}

// The stories model continues its classic prompt as the original does.
func TestStoriesGreedy(t *testing.T) {
	d, err := Get("stories")
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.Load()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	prompt := m.Tok.Encode("Once upon a time", tokenizer.Options{AddSpecial: true})
	out, err := m.Generate(context.Background(), prompt, 12, engine.Sampler{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Tok.Decode(out); !strings.HasPrefix(got, ", there was a little girl named Lily") {
		t.Errorf("greedy continuation %q", got)
	}
}
