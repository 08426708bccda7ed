package tokenizer

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"nexusquant/engine/gguf"
	"nexusquant/internal/testfiles"
)

// loaded caches the tokenizers read from the shared test data.
var loaded sync.Map // rel path → *Tokenizer

// load reads the tokenizer of a GGUF file in the shared test data.
func load(t testing.TB, rel string) *Tokenizer {
	t.Helper()
	path := testfiles.Path(t, rel)
	if tok, ok := loaded.Load(path); ok {
		return tok.(*Tokenizer)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	loaded.Store(path, tok)
	return tok
}

// vocabCase is one line of a llama.cpp vocabulary test file.
type vocabCase struct {
	text string
	want []int32
}

// fixtureSeparator ends every test string in an X.gguf.inp file.
const fixtureSeparator = "\n__ggml_vocab_test__\n"

// readFixture reads X.gguf.inp and X.gguf.out: every string in .inp is followed
// by the separator (so the text after the last one is empty and dropped), and
// .out has one line of " <id>" items per string.
func readFixture(t testing.TB, rel string) []vocabCase {
	t.Helper()
	inp, err := os.ReadFile(testfiles.Path(t, rel+".inp"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(testfiles.Path(t, rel+".out"))
	if err != nil {
		t.Fatal(err)
	}
	texts := strings.Split(string(inp), fixtureSeparator)
	if last := texts[len(texts)-1]; last != "" {
		t.Fatalf("%s.inp: text after the last separator: %q", rel, last)
	}
	texts = texts[:len(texts)-1]
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%s: %d strings but %d expected lines", rel, len(texts), len(lines))
	}
	cases := make([]vocabCase, len(texts))
	for i, line := range lines {
		cases[i].text = texts[i]
		for _, field := range strings.Fields(line) {
			id, err := strconv.ParseInt(field, 10, 32)
			if err != nil {
				t.Fatalf("%s.out line %d: %v", rel, i+1, err)
			}
			cases[i].want = append(cases[i].want, int32(id))
		}
	}
	return cases
}
