package engine

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"nexusquant/internal/testfiles"
)

// Helpers that read the llama.cpp reference files under reference/.

// genStep is one greedy step of a reference generation: the chosen id and
// the five best logits llama.cpp saw.
type genStep struct {
	id    int32
	logit float32
	top   [5]struct {
		id    int32
		logit float32
	}
}

// genRef is a synthetic/gen/*.ids*.txt file.
type genRef struct {
	prompt []int32
	steps  []genStep
}

// readGen parses a gen file: "prompt_ids: …", then
// "step S id ID logit L | top ID:L ID:L …" lines, then gen_ids / gen_text_hex.
func readGen(t *testing.T, path string) genRef {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var g genRef
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "prompt_ids:"):
			g.prompt = parseIDs(t, strings.TrimPrefix(line, "prompt_ids:"))
		case strings.HasPrefix(line, "step "):
			var s genStep
			var idx int
			head, tail, ok := strings.Cut(line, "| top")
			if !ok {
				t.Fatalf("%s: bad step line %q", path, line)
			}
			if _, err := fmt.Sscanf(head, "step %d id %d logit %g", &idx, &s.id, &s.logit); err != nil {
				t.Fatalf("%s: %q: %v", path, line, err)
			}
			for k, f := range strings.Fields(tail) {
				if k >= 5 {
					break
				}
				id, lg, _ := strings.Cut(f, ":")
				a, err1 := strconv.Atoi(id)
				b, err2 := strconv.ParseFloat(lg, 32)
				if err1 != nil || err2 != nil {
					t.Fatalf("%s: bad top entry %q", path, f)
				}
				s.top[k].id, s.top[k].logit = int32(a), float32(b)
			}
			g.steps = append(g.steps, s)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(g.prompt) == 0 || len(g.steps) == 0 {
		t.Fatalf("%s: no prompt or no steps", path)
	}
	return g
}

func parseIDs(t *testing.T, s string) []int32 {
	t.Helper()
	var out []int32
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '[' || r == ']' }) {
		v, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("bad id %q in %q", f, s)
		}
		out = append(out, int32(v))
	}
	return out
}

// Models are loaded once per test binary and shared by the tests.
var (
	modelMu    sync.Mutex
	modelCache = map[string]*Model{}
)

// loadModel loads models/<name> from the shared test data (skipping when it
// is not configured).
func loadModel(t testing.TB, name string) *Model {
	t.Helper()
	path := testfiles.Path(t, "models/"+name)
	modelMu.Lock()
	defer modelMu.Unlock()
	if m, ok := modelCache[path]; ok {
		return m
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	modelCache[path] = m
	return m
}

// refPath returns reference/<rel>.
func refPath(t testing.TB, rel string) string {
	return testfiles.Path(t, "reference/"+rel)
}
