package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"nexusquant/engine"
)

func init() {
	register(&command{name: "bench", summary: "measure prefill and decode tokens per second, against the portable kernels side by side", run: runBench})
}

// benchResult is one model's figures; JSON keys are stable.
type benchResult struct {
	Model         string  `json:"model"`
	Threads       int     `json:"threads"`
	Kernels       string  `json:"kernels"`
	PrefillTokens int     `json:"prefill_tokens"`
	PrefillTokS   float64 `json:"prefill_tok_s"`
	DecodeTokens  int     `json:"decode_tokens"`
	DecodeTokS    float64 `json:"decode_tok_s"`
	Reps          int     `json:"reps"`
	// Baseline is the same measurement with the portable Go kernels, and the
	// speed-ups are ratios against it (absent with --no-baseline).
	Baseline       *benchResult `json:"baseline,omitempty"`
	PrefillSpeedup float64      `json:"prefill_speedup,omitempty"`
	DecodeSpeedup  float64      `json:"decode_speedup,omitempty"`
}

func runBench(env *Env, args []string) error {
	fs := newFlags(env, "bench", "[--model M] [--prefill 128] [--decode 64] [--reps 3] [--threads N] [--no-baseline] [--json]")
	model := fs.String("model", "", "GGUF model `file` (default: stories260K.gguf under $NEXUSQUANT_TESTDATA/models)")
	prefill := fs.Int("prefill", 128, "prompt tokens per prefill")
	decode := fs.Int("decode", 64, "tokens decoded one at a time after the prefill")
	reps := fs.Int("reps", 3, "repetitions; the best is reported")
	threads := fs.Int("threads", 0, "threads; 0 = all cores")
	noBase := fs.Bool("no-baseline", false, "skip the side-by-side run with the portable Go kernels")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *model == "" {
		if dir := os.Getenv("NEXUSQUANT_TESTDATA"); dir != "" {
			*model = filepath.Join(dir, "models", "stories260K.gguf")
		}
	}
	if *prefill < 1 || *decode < 0 || *reps < 1 || *threads < 0 {
		return usagef("--prefill ≥ 1, --decode ≥ 0, --reps ≥ 1 and --threads ≥ 0 are required")
	}
	engine.SetThreads(*threads)
	m, err := loadModel(*model)
	if err != nil {
		return err
	}
	defer m.Close()
	if *prefill+*decode > m.Config.Ctx {
		return usagef("--prefill %d + --decode %d exceeds the model's context of %d", *prefill, *decode, m.Config.Ctx)
	}
	res, err := benchBest(env.Ctx, m, *prefill, *decode, *reps)
	if err != nil {
		return err
	}
	res.Model = *model
	if !*noBase && res.Kernels != "go" {
		fast := res.Kernels
		if err := engine.UseKernels("go"); err != nil {
			return err
		}
		base, err := benchBest(env.Ctx, m, *prefill, *decode, *reps)
		engine.UseKernels(fast)
		if err != nil {
			return err
		}
		res.Baseline = base
		res.PrefillSpeedup = res.PrefillTokS / base.PrefillTokS
		if base.DecodeTokS > 0 {
			res.DecodeSpeedup = res.DecodeTokS / base.DecodeTokS
		}
	}
	if *asJSON {
		return writeJSON(env.Stdout, res)
	}
	fmt.Fprintf(env.Stdout, "%s  threads %d  kernels %s  (best of %d)\n", filepath.Base(*model), res.Threads, res.Kernels, res.Reps)
	fmt.Fprintf(env.Stdout, "  prefill %4d tokens: %9.1f tok/s", res.PrefillTokens, res.PrefillTokS)
	if res.Baseline != nil {
		fmt.Fprintf(env.Stdout, "   (go kernels %9.1f tok/s, %.1f×)", res.Baseline.PrefillTokS, res.PrefillSpeedup)
	}
	fmt.Fprintf(env.Stdout, "\n  decode  %4d tokens: %9.1f tok/s", res.DecodeTokens, res.DecodeTokS)
	if res.Baseline != nil {
		fmt.Fprintf(env.Stdout, "   (go kernels %9.1f tok/s, %.1f×)", res.Baseline.DecodeTokS, res.DecodeSpeedup)
	}
	fmt.Fprintln(env.Stdout)
	return nil
}

// benchBest runs engine.Bench reps times and keeps the best of each figure.
func benchBest(ctx context.Context, m *engine.Model, prefill, decode, reps int) (*benchResult, error) {
	out := &benchResult{PrefillTokens: prefill, DecodeTokens: decode, Reps: reps}
	for r := 0; r < reps; r++ {
		b, err := m.Bench(ctx, prefill, decode)
		if err != nil {
			return nil, err
		}
		out.Threads, out.Kernels = b.Threads, b.Kernels
		out.PrefillTokS = max(out.PrefillTokS, b.PrefillTokPerSec)
		out.DecodeTokS = max(out.DecodeTokS, b.DecodeTokPerSec)
	}
	return out, nil
}
