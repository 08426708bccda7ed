package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"

	"nexusquant/engine"
)

func init() {
	register(&command{name: "bench", summary: "measure prefill and decode tokens per second: against the portable kernels, llama.cpp, or a packed cache", run: runBench})
}

// benchResult is one model's figures; JSON keys are stable. Speeds are the
// best of Reps rounds.
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
	// LlamaCpp is llama-bench's figures for the same file, threads and
	// lengths (--llama-bench), and the ratios are ours / llama.cpp's.
	LlamaCpp          *llamaBenchResult `json:"llama_cpp,omitempty"`
	PrefillVsLlamaCpp float64           `json:"prefill_vs_llama_cpp,omitempty"`
	DecodeVsLlamaCpp  float64           `json:"decode_vs_llama_cpp,omitempty"`
	// With --method or --preset, DecodeTokS decodes from the packed prefix
	// (Packed describes it), DecodeTokSFloat from the same prefix as a float
	// cache, and DecodePackedVsFloat is their ratio; PrefillTokS is the one
	// prefill's speed (with attention statistics).
	Packed              *packedResult `json:"packed,omitempty"`
	DecodeTokSFloat     float64       `json:"decode_tok_s_float,omitempty"`
	DecodePackedVsFloat float64       `json:"decode_packed_vs_float,omitempty"`
}

func runBench(env *Env, args []string) error {
	fs := newFlags(env, "bench", "[--model M] [--prefill 128] [--decode 64] [--reps 3] [--threads N] [--kernels K] [--no-baseline] [--llama-bench PATH | --preset P / settings] [--json]")
	model := fs.String("model", "", "GGUF model `file` (default: stories260K.gguf under $NEXUSQUANT_TESTDATA/models)")
	prefill := fs.Int("prefill", 128, "prompt tokens per prefill (with --method/--preset: the prefix that is packed)")
	decode := fs.Int("decode", 64, "tokens decoded one at a time after the prefill")
	reps := fs.Int("reps", 3, "repetitions; the best is reported")
	threads := fs.Int("threads", 0, "threads; 0 = all cores")
	noBase := fs.Bool("no-baseline", false, "skip the side-by-side run with the portable Go kernels")
	kernels := fs.String("kernels", "", "kernel `set` to measure: "+strings.Join(engine.KernelSets(), "|")+" (this CPU's; default the first), e.g. avx2 on an AVX-512 machine to see what an AVX2-only one runs")
	llama := fs.String("llama-bench", "", "also run llama.cpp's llama-bench `program` on the same file, threads and lengths, one run between each of ours, and print the ratios")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measurements to `file` (go tool pprof reads it)")
	sf := addSettingsFlags(fs)
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
	if *kernels != "" && !slices.Contains(engine.KernelSets(), *kernels) {
		return usagef("--kernels %q: this CPU runs %s", *kernels, strings.Join(engine.KernelSets(), ", "))
	}
	packed := len(sf.given()) > 0
	if packed && *llama != "" {
		return usagef("--llama-bench measures the plain engine; it does not combine with --method, --preset or other compression settings")
	}
	if packed && *decode < 1 {
		return usagef("--method/--preset time decoding from the packed cache: --decode ≥ 1 is required")
	}
	s, err := sf.resolve()
	if err != nil {
		return err
	}
	var lb *llamaBench
	if *llama != "" {
		lb = &llamaBench{path: *llama, model: *model, prefill: *prefill, decode: *decode}
		if err := lb.check(); err != nil {
			return err
		}
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
	run := m.ForContext(*prefill + *decode) // LongRoPE: the factors llama.cpp picks for this length
	if *kernels != "" {
		if run, err = run.WithKernels(*kernels); err != nil {
			return usagef("--kernels: %v", err)
		}
	}

	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	var res *benchResult
	switch {
	case packed:
		res, err = benchPacked(env.Ctx, run, s, *prefill, *decode, *reps)
	case lb != nil:
		lb.threads = engine.Threads()
		res, err = benchWithLlama(env.Ctx, run, lb, *reps)
	default:
		res, err = benchBest(env.Ctx, run, *prefill, *decode, *reps)
	}
	if err != nil {
		return err
	}
	res.Model = *model
	if !packed && !*noBase && res.Kernels != "go" {
		portable, err := run.WithKernels("go")
		if err != nil {
			return err
		}
		base, err := benchBest(env.Ctx, portable, *prefill, *decode, *reps)
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
	printBench(env.Stdout, res)
	return nil
}

// startCPUProfile starts writing a CPU profile to path; stop ends it and
// closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile %s: %w", path, err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// printBench writes res as text.
func printBench(w io.Writer, res *benchResult) {
	fmt.Fprintf(w, "%s  threads %d  kernels %s  (best of %d)\n", filepath.Base(res.Model), res.Threads, res.Kernels, res.Reps)
	if p := res.Packed; p != nil {
		fmt.Fprintf(w, "  prefill %4d tokens: %9.1f tok/s   (one prefill, with attention statistics)\n", res.PrefillTokens, res.PrefillTokS)
		fmt.Fprintf(w, "  packed  %s: %d bytes, %.2f× smaller than float16 (%d bytes); pipeline %.2f s\n",
			p.Method, p.PackedBytes, float64(p.Float16Bytes)/float64(p.PackedBytes), p.Float16Bytes, p.PipelineS)
		fmt.Fprintf(w, "          frames of %d rows read %d rows at a time; one reader holds %d bytes\n", p.BlockTokens, p.ReadBlockRows, p.ReaderBytes)
		fmt.Fprintf(w, "          decode form %d bytes (%.1f%% of float16); %d bytes resident in all\n",
			p.DecodeFormBytes, 100*float64(p.DecodeFormBytes)/float64(p.Float16Bytes), p.ResidentBytes)
		fmt.Fprintf(w, "  decode  %4d tokens: %9.1f tok/s from the packed cache, %9.1f tok/s from the float cache (%.2f×)\n",
			res.DecodeTokens, res.DecodeTokS, res.DecodeTokSFloat, res.DecodePackedVsFloat)
		return
	}
	fmt.Fprintf(w, "  prefill %4d tokens: %9.1f tok/s", res.PrefillTokens, res.PrefillTokS)
	if res.Baseline != nil {
		fmt.Fprintf(w, "   (go kernels %9.1f tok/s, %.1f×)", res.Baseline.PrefillTokS, res.PrefillSpeedup)
	}
	fmt.Fprintf(w, "\n  decode  %4d tokens: %9.1f tok/s", res.DecodeTokens, res.DecodeTokS)
	if res.Baseline != nil {
		fmt.Fprintf(w, "   (go kernels %9.1f tok/s, %.1f×)", res.Baseline.DecodeTokS, res.DecodeSpeedup)
	}
	fmt.Fprintln(w)
	if l := res.LlamaCpp; l != nil {
		fmt.Fprintf(w, "llama.cpp  %s  build %s  threads %d  (best of %d, interleaved with ours)\n", l.Path, l.BuildCommit, l.Threads, l.Reps)
		fmt.Fprintf(w, "  pp%-4d  %9.1f tok/s   ours/llama.cpp %.2f×\n", res.PrefillTokens, l.PrefillTokS, res.PrefillVsLlamaCpp)
		if l.DecodeTokS > 0 {
			fmt.Fprintf(w, "  tg%-4d  %9.1f tok/s   ours/llama.cpp %.2f×   (after %d tokens, as ours)\n", res.DecodeTokens, l.DecodeTokS, res.DecodeVsLlamaCpp, l.DecodeDepth)
		}
	}
}

// benchBest runs engine.Bench reps times and keeps the best of each figure.
func benchBest(ctx context.Context, m *engine.Model, prefill, decode, reps int) (*benchResult, error) {
	out := &benchResult{PrefillTokens: prefill, DecodeTokens: decode, Reps: reps}
	return out, interleave(reps, func(int) error { return out.round(ctx, m) })
}

// round runs one engine.Bench and keeps the best figures so far.
func (out *benchResult) round(ctx context.Context, m *engine.Model) error {
	b, err := m.Bench(ctx, out.PrefillTokens, out.DecodeTokens)
	if err != nil {
		return err
	}
	out.Threads, out.Kernels = b.Threads, b.Kernels
	out.PrefillTokS = max(out.PrefillTokS, b.PrefillTokPerSec)
	out.DecodeTokS = max(out.DecodeTokS, b.DecodeTokPerSec)
	return nil
}

// benchWithLlama is benchBest with one llama-bench run after each of our
// rounds; each side keeps its best figures.
func benchWithLlama(ctx context.Context, m *engine.Model, lb *llamaBench, reps int) (*benchResult, error) {
	out := &benchResult{PrefillTokens: lb.prefill, DecodeTokens: lb.decode, Reps: reps}
	l := &llamaBenchResult{Path: lb.path, Threads: lb.threads, Reps: reps, DecodeDepth: lb.prefill}
	err := interleave(reps,
		func(int) error { return out.round(ctx, m) },
		func(int) error {
			pp, tg, err := lb.run(ctx)
			if err != nil {
				return err
			}
			l.BuildCommit = pp.BuildCommit
			l.PrefillTokS = max(l.PrefillTokS, pp.AvgTS)
			l.DecodeTokS = max(l.DecodeTokS, tg.AvgTS)
			return nil
		})
	if err != nil {
		return nil, err
	}
	out.LlamaCpp = l
	out.PrefillVsLlamaCpp = out.PrefillTokS / l.PrefillTokS
	if l.DecodeTokS > 0 {
		out.DecodeVsLlamaCpp = out.DecodeTokS / l.DecodeTokS
	}
	return out, nil
}
