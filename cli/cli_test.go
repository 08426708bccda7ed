package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nexusquant/engine/gguf"
	"nexusquant/internal/demo"
	"nexusquant/internal/testfiles"
)

// run executes the command line and returns stdout, stderr and the status.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func isolate(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("NEXUSQUANT_LOG", "off")
	t.Setenv("NEXUSQUANT_SESSIONS", filepath.Join(dir, "sessions"))
	t.Setenv("NEXUSQUANT_PRESETS", filepath.Join(dir, "presets"))
}

// demoFiles writes the embedded demo called name (its model under its own
// file name, and its text) to a temporary folder, for commands that take
// paths; tests that need only a real model use it instead of the shared data.
func demoFiles(t *testing.T, name string) (model, text string) {
	t.Helper()
	d, err := demo.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	model = filepath.Join(dir, d.File)
	text = filepath.Join(dir, d.TextName)
	if err := os.WriteFile(model, d.ModelBytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(text, []byte(d.Text), 0o644); err != nil {
		t.Fatal(err)
	}
	return model, text
}

func TestUsageErrors(t *testing.T) {
	isolate(t)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"tokenize"}, 2, "--model is required"},
		{[]string{"eval", "--model", "x.gguf"}, 2, "exactly one of --file or --prompt"},
		{[]string{"eval", "--key-bits", "7", "--prompt", "x", "--model", "m"}, 2, "key_bits 7"},
		{[]string{"eval", "--preset", "nope", "--prompt", "x", "--model", "m"}, 2, "no preset"},
		{[]string{"tokenize", "--model", "/nonexistent/m.gguf", "--text", "hi"}, 1, "/nonexistent/m.gguf"},
		{[]string{"perplexity", "--model", "m", "--file", "f", "--cache-type", "q3"}, 2, "--cache-type"},
		{[]string{"sweep", "--bits", "2/x", "--prompt", "p", "--model", "m"}, 2, "--bits"},
		{[]string{"presets", "export", "balanced", "--format", "yaml"}, 2, "yaml"},
		{[]string{"sessions", "show"}, 2, "takes 1 name"},
		// The explorer refuses bad command lines before it takes the terminal.
		{[]string{"--model", "m.gguf", "--prompt", ""}, 2, "--prompt is empty"},
		{[]string{"--model", "m.gguf"}, 2, "--model needs --file F or --prompt P"},
		{[]string{"--prompt", "hi"}, 2, "need --model"},
		{[]string{"tui", "--budget", "-3"}, 2, "--budget -3"},
		{[]string{"--demo", "nope"}, 2, `no demo named "nope"`},
		{[]string{"--eviction-rate", "2"}, 2, "eviction_rate 2"},
		{[]string{"--session", "../x"}, 2, "../x"},
		{[]string{"--model", "/nonexistent/m.gguf", "--prompt", "hi"}, 1, "/nonexistent/m.gguf"},
		{[]string{"--shape-of", "/nonexistent/big.gguf"}, 1, "/nonexistent/big.gguf"},
	}
	for _, c := range cases {
		_, errs, code := run(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%v: status %d, stderr %q; want %d and %q", c.args, code, errs, c.code, c.want)
		}
	}
}

func TestHostileModelFile(t *testing.T) {
	isolate(t)
	p := filepath.Join(t.TempDir(), "bad.gguf")
	os.WriteFile(p, []byte("GGUF\x03\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff"), 0o644)
	_, errs, code := run(t, "tokenize", "--model", p, "--text", "hi")
	if code != 1 || !strings.Contains(errs, "bad.gguf") {
		t.Errorf("status %d, stderr %q; want 1 and an error naming bad.gguf", code, errs)
	}
}

func TestTokenizeGenerateStories(t *testing.T) {
	isolate(t)
	model, _ := demoFiles(t, "stories")
	out, _, code := run(t, "tokenize", "--model", model, "--text", "Once upon a time")
	var ids []int
	if code != 0 || json.Unmarshal([]byte(out), &ids) != nil || len(ids) != 5 || ids[0] != 1 || ids[4] != 378 {
		t.Errorf("tokenize: status %d, %q", code, out)
	}
	out, _, code = run(t, "generate", "--model", model, "--prompt", "Once upon a time", "--tokens", "16")
	if code != 0 || !strings.HasPrefix(out, " Once upon a time, there was a little girl named Lily") {
		t.Errorf("generate: status %d, %q", code, out)
	}
	exact, _, code := run(t, "generate", "--model", model, "--prompt", "Once upon a time", "--tokens", "16", "--exact")
	if code != 0 || exact != out {
		t.Errorf("generate --exact: status %d, %q; default path %q", code, exact, out)
	}
	_, errs, code := run(t, "generate", "--model", model, "--prompt", "Once upon a time", "--tokens", "600")
	if code != 2 || !strings.Contains(errs, "context of 512") {
		t.Errorf("over-long generate: status %d, %q", code, errs)
	}
}

func TestPerplexityJSON(t *testing.T) {
	isolate(t)
	model := testfiles.Path(t, "models/stories260K.gguf")
	text := testfiles.Path(t, "text/tinystories-sample.txt")
	out, errs, code := run(t, "perplexity", "--model", model, "--file", text, "--ctx", "128", "--chunks", "3", "--json")
	var r map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("status %d, %q %q", code, out, errs)
	}
	for _, k := range []string{"ppl", "ppl_err", "chunks", "tokens"} {
		if _, ok := r[k]; !ok {
			t.Errorf("missing key %s in %v", k, r)
		}
	}
	// llama.cpp: running PPL after 3 chunks at ctx 128 is 4.2117.
	ppl, _ := r["ppl"].(float64)
	if r["chunks"] != 3.0 || r["tokens"] != 189.0 || ppl < 4.2117*0.999 || ppl > 4.2117*1.001 {
		t.Errorf("3 chunks: %v, want ppl ≈ 4.2117 over 189 tokens", r)
	}
	// --exact: llama.cpp's arithmetic; its first-chunk figure is 3.5896.
	out, errs, code = run(t, "perplexity", "--model", model, "--file", text, "--ctx", "128", "--chunks", "1", "--exact", "--json")
	r = nil
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("--exact: status %d, %q %q", code, out, errs)
	}
	if ppl, _ := r["ppl"].(float64); r["exact"] != true || math.Abs(ppl-3.5896) > 0.001 {
		t.Errorf("--exact, 1 chunk: %v, want ppl ≈ 3.5896 and exact true", r)
	}
	_, errs, code = run(t, "perplexity", "--model", model, "--file", text, "--ctx", "128", "--cache-type", "q8_0")
	if code != 1 || !strings.Contains(errs, "head_dim is 8") {
		t.Errorf("q8_0 on head_dim 8: status %d, %q", code, errs)
	}
}

// eval --json carries exactly the keys the issue fixes; compress → eval
// --cache gives the same metrics; --save-session records the run.
func TestEvalJSONCompressSession(t *testing.T) {
	isolate(t)
	model, _ := demoFiles(t, "stories")
	prompt := "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. One day"
	common := []string{"--model", model, "--prompt", prompt, "--continuation", "24", "--eviction-rate", "0.5", "--sliding-window", "8", "--json"}
	out, errs, code := run(t, append([]string{"eval", "--save-session", "s1"}, common...)...)
	if code != 0 {
		t.Fatalf("eval: %d %s", code, errs)
	}
	var r map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ratio_payload", "ratio_total", "ratio_resident", "baseline_bytes", "stages", "ppl_base", "ppl",
		"delta_ppl_pct", "delta_ppl_ci", "kld", "top1_agree", "prefix_tokens", "continuation_tokens", "settings"} {
		if _, ok := r[k]; !ok {
			t.Errorf("eval --json lacks %q", k)
		}
	}
	var st []map[string]any
	json.Unmarshal(r["stages"], &st)
	names := []string{}
	for _, s := range st {
		names = append(names, s["name"].(string))
		for _, k := range []string{"bytes", "rel_err_k", "rel_err_v", "ms"} {
			if _, ok := s[k]; !ok {
				t.Errorf("stage %v lacks %q", s["name"], k)
			}
		}
	}
	if strings.Join(names, ",") != "score,evict,rope,hadamard,quantize,entropy" {
		t.Errorf("stages %v", names)
	}
	var settings map[string]any
	json.Unmarshal(r["settings"], &settings)
	if settings["eviction-rate"] != 0.5 || settings["sliding-window"] != 8.0 || settings["key-bits"] != 2.0 {
		t.Errorf("settings %v do not carry the flags given", settings)
	}

	cache := filepath.Join(t.TempDir(), "c.nqkv")
	if _, errs, code := run(t, "compress", "--model", model, "--prompt", prompt, "--eviction-rate", "0.5", "--sliding-window", "8", "--out", cache); code != 0 {
		t.Fatalf("compress: %d %s", code, errs)
	}
	out2, errs, code := run(t, "eval", "--model", model, "--prompt", prompt, "--continuation", "24", "--cache", cache, "--json")
	if code != 0 {
		t.Fatalf("eval --cache: %d %s", code, errs)
	}
	var r2 map[string]json.RawMessage
	json.Unmarshal([]byte(out2), &r2)
	for _, k := range []string{"ppl", "kld", "top1_agree", "ratio_total"} {
		if string(r[k]) != string(r2[k]) {
			t.Errorf("%s in memory %s, from file %s", k, r[k], r2[k])
		}
	}

	out, _, code = run(t, "sessions", "show", "s1", "--json")
	if code != 0 || !strings.Contains(out, `"runs"`) || !strings.Contains(out, "ratio_total") {
		t.Errorf("session not saved: %d %s", code, out)
	}
}

func TestPresetsCommands(t *testing.T) {
	isolate(t)
	out, _, code := run(t, "presets", "list")
	for _, n := range []string{"high", "asym", "balanced", "max"} {
		if code != 0 || !strings.Contains(out, n) {
			t.Errorf("presets list lacks %s: %q", n, out)
		}
	}
	out, _, code = run(t, "presets", "export", "balanced", "--format", "python")
	if code != 0 || !strings.Contains(out, `"scorer": "key-key"`) || !strings.Contains(out, `"quality": null`) {
		t.Errorf("python export: %d %q", code, out)
	}
}

func TestSweepJSONAndCSV(t *testing.T) {
	isolate(t)
	model, text := demoFiles(t, "stories")
	args := []string{"sweep", "--model", model, "--file", text, "--prefix", "96", "--continuation", "32",
		"--eviction-rates", "0,0.6", "--bits", "2/2", "--lattices", "e8,scalar", "--methods", "nexusquant,kivi2"}
	out, errs, code := run(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("sweep: %d %s", code, errs)
	}
	var doc struct {
		Rows []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Rows) != 5 {
		t.Fatalf("%d rows, want 2 rates × 2 lattices + kivi2 = 5", len(doc.Rows))
	}
	front := 0
	prev := 0.0
	for _, r := range doc.Rows {
		ratio := r["ratio_total"].(float64)
		if ratio < prev {
			t.Errorf("rows not sorted by ratio_total: %.3f after %.3f", ratio, prev)
		}
		prev = ratio
		p, ok := r["pareto"].(bool)
		if !ok {
			t.Fatalf("row without pareto: %v", r)
		}
		if p {
			front++
		}
	}
	if front == 0 {
		t.Error("no row on the Pareto front")
	}
	out, _, code = run(t, append(args, "--csv")...)
	if lines := strings.Count(out, "\n"); code != 0 || lines != 6 || !strings.HasPrefix(out, "method,scorer,eviction_rate") {
		t.Errorf("csv: status %d, %d lines:\n%s", code, lines, out)
	}
	out, _, code = run(t, args...)
	if code != 0 || !strings.Contains(out, "k kivi2") || !strings.Contains(out, "pareto") {
		t.Errorf("table: status %d:\n%s", code, out)
	}
}

// noTokenizerModel writes the stories demo without its tokenizer metadata.
func noTokenizerModel(t *testing.T) string {
	t.Helper()
	src, _ := demoFiles(t, "stories")
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var kv []gguf.KV
	for _, k := range f.Keys {
		if !strings.HasPrefix(k, "tokenizer.") {
			kv = append(kv, gguf.KV{Key: k, Value: f.Metadata[k]})
		}
	}
	var ts []gguf.WTensor
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		vals, err := ti.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		wt, err := gguf.NewTensor(ti.Name, gguf.F32, ti.Dims, vals)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, wt)
	}
	out := filepath.Join(t.TempDir(), "no-tokenizer.gguf")
	if err := gguf.WriteFile(out, 3, kv, ts); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestModelWithoutTokenizer(t *testing.T) {
	isolate(t)
	m := noTokenizerModel(t)
	_, text := demoFiles(t, "stories")
	for _, args := range [][]string{
		{"tokenize", "--model", m, "--text", "hi"},
		{"generate", "--model", m, "--prompt", "hi"},
		{"compress", "--model", m, "--prompt", "hi", "--out", filepath.Join(t.TempDir(), "c.nqkv")},
		{"perplexity", "--model", m, "--file", text, "--ctx", "64"},
		{"eval", "--model", m, "--prompt", "hi"},
	} {
		_, errs, code := run(t, args...)
		if code != 1 || !strings.Contains(errs, m) || !strings.Contains(errs, "tokenizer") {
			t.Errorf("%s: status %d, stderr %q; want 1 and an error naming the file and its missing tokenizer", args[0], code, errs)
		}
	}
}

func TestRangesHelpAndVersion(t *testing.T) {
	isolate(t)
	model, text := demoFiles(t, "")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"generate", "--model", model, "--prompt", "hi", "--temp", "-1"}, 2, "--temp must be ≥ 0"},
		{[]string{"generate", "--model", model, "--prompt", "hi", "--top-p", "2"}, 2, "--top-p must be in (0, 1]"},
		{[]string{"perplexity", "--model", model, "--file", text, "--chunks", "-1"}, 2, "--chunks must be ≥ 0"},
		{[]string{"eval", "--model", model, "--file", text, "--windows", "-1"}, 2, "--windows must be ≥ 0"},
		{[]string{"eval", "--model", model, "--prompt", "hi", "--continuation", "0"}, 2, "--continuation must be ≥ 2"},
		{[]string{"eval", "--model", model, "--prompt", "hi", "--prefix", "64"}, 2, "--prefix applies to --file"},
		{[]string{"eval", "--model", model, "--file", text, "--niah", "--niah-trials", "0"}, 2, "--niah-trials must be ≥ 1"},
		{[]string{"tui", "--model", model, "--prompt", "hi", "--windows", "3"}, 2, "--windows applies to --file"},
	}
	for _, c := range cases {
		_, errs, code := run(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%v: status %d, stderr %q; want %d and %q", c.args, code, errs, c.code, c.want)
		}
	}
	_, errs, code := run(t, "eval", "--bogus")
	if code != 2 || strings.Count(errs, "bogus") != 1 || strings.Count(errs, "\n") != 1 {
		t.Errorf("unknown flag: status %d, stderr %q; want 2 and one line", code, errs)
	}
	_, errs, code = run(t, "help", "eval")
	if code != 0 || !strings.Contains(errs, "Usage: nexusquant eval") || !strings.Contains(errs, "-key-bits") {
		t.Errorf("help eval: status %d, %q", code, errs)
	}
	for _, cmd := range []string{"sessions", "presets"} {
		out, _, code := run(t, cmd, "-h")
		if code != 0 || !strings.Contains(out, "Subcommands:") {
			t.Errorf("%s -h: status %d, %q", cmd, code, out)
		}
	}
	out, _, code := run(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "nexusquant ") || !strings.Contains(out, "go1.") {
		t.Errorf("--version: status %d, %q", code, out)
	}
}

func TestInterruptedCommandSaysSo(t *testing.T) {
	isolate(t)
	model, text := demoFiles(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as if Ctrl-C came at once
	for _, args := range [][]string{
		{"perplexity", "--model", model, "--file", text, "--ctx", "64"},
		{"eval", "--model", model, "--file", text},
		{"generate", "--model", model, "--prompt", "A", "--tokens", "8"},
	} {
		var out, errb bytes.Buffer
		code := MainContext(ctx, args, strings.NewReader(""), &out, &errb)
		if code != 130 || strings.TrimSpace(errb.String()) != "nexusquant "+args[0]+": interrupted" {
			t.Errorf("%s: status %d, stderr %q; want 130 and one line", args[0], code, errb.String())
		}
	}
}
