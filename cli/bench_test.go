package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"nexusquant/engine"
)

// fakeLlamaBench writes a shell script standing in for llama-bench: it
// appends its arguments to a file, one line per run, then runs body (a shell
// snippet; $n is the run number, from 1). It returns the script's path and
// the arguments file's.
func fakeLlamaBench(t *testing.T, body string) (script, argsFile string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake llama-bench is a shell script")
	}
	dir := t.TempDir()
	script = filepath.Join(dir, "llama-bench")
	argsFile = filepath.Join(dir, "args")
	src := fmt.Sprintf("#!/bin/sh\necho \"$@\" >> '%s'\nn=$(wc -l < '%s')\nn=$((n+0))\n%s\n", argsFile, argsFile, body)
	if err := os.WriteFile(script, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, argsFile
}

// llamaJSON is llama-bench -o json output with a pp row of p tokens and, when
// n > 0, a tg row of n tokens after p tokens of context (-d 0,p), at the given
// speeds, among rows at the other depth that must not be picked.
func llamaJSON(p, n int, pp, tg float64) string {
	row := func(np, ng, depth int, ts float64) string {
		return fmt.Sprintf(`{"build_commit": "abc1234", "n_threads": 1, "n_prompt": %d, "n_gen": %d, "n_depth": %d, "avg_ts": %g, "stddev_ts": 0, "samples_ts": [%g]}`, np, ng, depth, ts, ts)
	}
	rows := []string{row(p, 0, 0, pp)}
	if n > 0 {
		rows = append(rows, row(0, n, 0, 1e6), row(p, 0, p, 1e6), row(0, n, p, tg))
	}
	return "[\n" + strings.Join(rows, ",\n") + "\n]"
}

// printing is a shell snippet that prints text.
func printing(text string) string { return "cat <<'JSON'\n" + text + "\nJSON" }

func TestBenchLlamaBench(t *testing.T) {
	isolate(t)
	model, _ := demoFiles(t, "stories")
	// Run 1 is faster at pp, run 2 at tg: the best of each is reported.
	script, argsFile := fakeLlamaBench(t, fmt.Sprintf("if [ \"$n\" = 1 ]; then\n%s\nelse\n%s\nfi",
		printing(llamaJSON(16, 4, 900, 40)), printing(llamaJSON(16, 4, 700, 60))))

	out, errs, code := run(t, "bench", "--model", model, "--prefill", "16", "--decode", "4", "--reps", "2",
		"--threads", "1", "--no-baseline", "--llama-bench", script, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res benchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	l := res.LlamaCpp
	if l == nil {
		t.Fatalf("no llama_cpp in %s", out)
	}
	if l.PrefillTokS != 900 || l.DecodeTokS != 60 || l.Reps != 2 || l.BuildCommit != "abc1234" || l.Path != script || l.Threads != 1 || l.DecodeDepth != 16 {
		t.Errorf("llama_cpp = %+v, want pp 900, tg 60 at depth 16 (the best of each), 2 reps, build abc1234, threads 1", *l)
	}
	if res.PrefillTokS <= 0 || res.DecodeTokS <= 0 {
		t.Fatalf("our speeds %g, %g", res.PrefillTokS, res.DecodeTokS)
	}
	if got, want := res.PrefillVsLlamaCpp, res.PrefillTokS/900; got != want {
		t.Errorf("prefill ratio %g, want ours/llama.cpp = %g", got, want)
	}
	if got, want := res.DecodeVsLlamaCpp, res.DecodeTokS/60; got != want {
		t.Errorf("decode ratio %g, want %g", got, want)
	}
	args, err := os.ReadFile(argsFile)
	if err != nil {
		t.Fatal(err)
	}
	wantArgs := fmt.Sprintf("-m %s -t 1 -p 16 -n 4 -d 0,16 -r 1 -o json", model)
	if lines := strings.Split(strings.TrimSpace(string(args)), "\n"); len(lines) != 2 || lines[0] != wantArgs || lines[1] != wantArgs {
		t.Errorf("llama-bench ran with\n%s\nwant two runs with %q", args, wantArgs)
	}

	// The text form shows both and the ratio.
	out, errs, code = run(t, "bench", "--model", model, "--prefill", "16", "--decode", "4", "--reps", "1",
		"--threads", "1", "--no-baseline", "--llama-bench", script)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"llama.cpp", script, "pp16", "tg4", "ours/llama.cpp"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchLlamaBenchDecodeZero(t *testing.T) {
	isolate(t)
	model, _ := demoFiles(t, "stories")
	script, _ := fakeLlamaBench(t, printing(llamaJSON(8, 0, 500, 0)))
	out, errs, code := run(t, "bench", "--model", model, "--prefill", "8", "--decode", "0", "--reps", "1",
		"--threads", "1", "--no-baseline", "--llama-bench", script, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res benchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.LlamaCpp == nil || res.LlamaCpp.PrefillTokS != 500 || res.LlamaCpp.DecodeTokS != 0 || res.DecodeVsLlamaCpp != 0 {
		t.Errorf("got %s", out)
	}
}

func TestBenchLlamaBenchErrors(t *testing.T) {
	isolate(t)
	model, _ := demoFiles(t, "stories")
	notExec := filepath.Join(t.TempDir(), "llama-bench")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		script string // body of a fake llama-bench, or "" to give path
		path   string
		want   []string
	}{
		{name: "missing", path: "/nonexistent/llama-bench", want: []string{"no such file"}},
		{name: "folder", path: t.TempDir(), want: []string{"is a folder"}},
		{name: "not executable", path: notExec, want: []string{"not executable"}},
		{name: "fails", script: "echo 'error: failed to load model' >&2; exit 3", want: []string{"exit status 3", "failed to load model"}},
		{name: "not JSON", script: "echo '| model | size |'", want: []string{"not llama-bench's JSON", "| model"}},
		{name: "no tg row", script: printing(llamaJSON(8, 0, 500, 0)), want: []string{"no tg2 row"}},
		{name: "other lengths", script: printing(llamaJSON(512, 128, 500, 50)), want: []string{"no pp8 row"}},
		{name: "zero speed", script: printing(llamaJSON(8, 2, 0, 50)), want: []string{"avg_ts 0", "not a positive speed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if tc.script != "" {
				path, _ = fakeLlamaBench(t, tc.script)
			}
			_, errs, code := run(t, "bench", "--model", model, "--prefill", "8", "--decode", "2", "--reps", "1",
				"--threads", "1", "--no-baseline", "--llama-bench", path)
			if code != 1 {
				t.Fatalf("exit %d, want 1: %s", code, errs)
			}
			for _, w := range append(tc.want, path) {
				if !strings.Contains(errs, w) {
					t.Errorf("error %q lacks %q", errs, w)
				}
			}
		})
	}
}

func TestBenchUsage(t *testing.T) {
	isolate(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--llama-bench", "/x", "--preset", "balanced"}, "does not combine"},
		{[]string{"--preset", "balanced", "--decode", "0"}, "--decode ≥ 1"},
		{[]string{"--reps", "0"}, "--reps ≥ 1"},
		{[]string{"--key-bits", "9"}, "key_bits 9"},
		{[]string{"--kernels", "sse9"}, `--kernels "sse9": this CPU runs`},
	}
	for _, tc := range cases {
		_, errs, code := run(t, append([]string{"bench", "--model", "m.gguf"}, tc.args...)...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("bench %v: exit %d, %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}

// TestBenchKernels checks that --kernels measures with the named set, for
// every set this CPU runs, the plain and the packed bench alike.
func TestBenchKernels(t *testing.T) {
	isolate(t)
	model, _ := demoFiles(t, "stories")
	for _, ks := range engine.KernelSets() {
		for _, extra := range [][]string{nil, {"--preset", "balanced"}} {
			args := append([]string{"bench", "--model", model, "--prefill", "32", "--decode", "2", "--reps", "1", "--threads", "1", "--kernels", ks, "--no-baseline", "--json"}, extra...)
			out, errs, code := run(t, args...)
			if code != 0 {
				t.Fatalf("%v: exit %d: %s", args, code, errs)
			}
			var res benchResult
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatal(err)
			}
			if res.Kernels != ks || res.DecodeTokS <= 0 {
				t.Errorf("--kernels %s %v: kernels %q, decode %g tok/s", ks, extra, res.Kernels, res.DecodeTokS)
			}
		}
	}
}

// TestBenchPacked runs the packed-cache decode bench on the demo model with a
// few methods and checks that the figures are there and consistent.
func TestBenchPacked(t *testing.T) {
	isolate(t)
	model, _ := demoFiles(t, "")
	cases := []struct {
		args   []string
		method string
		B      int
	}{
		{[]string{"--preset", "balanced"}, "nexusquant", 256},
		{[]string{"--method", "nexusquant", "--key-bits", "4", "--value-bits", "4", "--block-tokens", "16"}, "nexusquant", 16},
		{[]string{"--method", "none"}, "none", 256},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := append([]string{"bench", "--model", model, "--prefill", "96", "--decode", "3", "--reps", "2", "--threads", "2", "--json"}, tc.args...)
			out, errs, code := run(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var res benchResult
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatal(err)
			}
			p := res.Packed
			if p == nil {
				t.Fatalf("no packed in %s", out)
			}
			if p.Method != tc.method || p.PrefixTokens != 96 || p.PackedBytes <= 0 || p.Float16Bytes <= 0 || p.ReaderBytes <= 0 {
				t.Errorf("packed = %+v", *p)
			}
			// Methods other than nexusquant read whole frames (R = B).
			if p.BlockTokens != tc.B || p.ReadBlockRows < 1 || p.ReadBlockRows > tc.B || tc.method != "nexusquant" && p.ReadBlockRows != tc.B {
				t.Errorf("B %d, R %d; want B %d and 1 ≤ R ≤ B", p.BlockTokens, p.ReadBlockRows, tc.B)
			}
			if res.DecodeTokS <= 0 || res.DecodeTokSFloat <= 0 || res.DecodePackedVsFloat != res.DecodeTokS/res.DecodeTokSFloat {
				t.Errorf("decode %g packed, %g float, ratio %g", res.DecodeTokS, res.DecodeTokSFloat, res.DecodePackedVsFloat)
			}
			if res.Baseline != nil || res.LlamaCpp != nil {
				t.Errorf("a packed bench ran another comparison too: %s", out)
			}
			if tc.method == "nexusquant" && p.PackedBytes >= p.Float16Bytes {
				t.Errorf("packed %d bytes, not below float16's %d", p.PackedBytes, p.Float16Bytes)
			}
			// The decode form is what decoding keeps resident: below float16,
			// counted in the resident bytes; none for a RowCodec method.
			if (tc.method == "nexusquant") != (p.DecodeFormBytes > 0) || p.DecodeFormBytes >= p.Float16Bytes ||
				p.ResidentBytes < p.PackedBytes+p.DecodeFormBytes {
				t.Errorf("decode form %d, resident %d, packed %d, float16 %d bytes", p.DecodeFormBytes, p.ResidentBytes, p.PackedBytes, p.Float16Bytes)
			}
		})
	}
}

// TestInterleave checks the order of the steps: one of each per repetition,
// in order, stopping at the first error.
func TestInterleave(t *testing.T) {
	cases := []struct {
		reps, failAt int // failAt: the call that fails, −1 for none
		want         []string
	}{
		{3, -1, []string{"a0", "b0", "a1", "b1", "a2", "b2"}},
		{1, -1, []string{"a0", "b0"}},
		{3, 3, []string{"a0", "b0", "a1", "b1"}},
	}
	for _, tc := range cases {
		var got []string
		calls := 0
		step := func(name string) func(int) error {
			return func(r int) error {
				got = append(got, fmt.Sprint(name, r))
				calls++
				if calls == tc.failAt+1 {
					return fmt.Errorf("stop")
				}
				return nil
			}
		}
		err := interleave(tc.reps, step("a"), step("b"))
		if (err != nil) != (tc.failAt >= 0) || !slices.Equal(got, tc.want) {
			t.Errorf("reps %d failAt %d: %v, err %v; want %v", tc.reps, tc.failAt, got, err, tc.want)
		}
	}
}
