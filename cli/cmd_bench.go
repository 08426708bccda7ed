package cli

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"nexusquant/engine"
)

func init() {
	register(&command{name: "bench", summary: "measure prefill and decode tokens per second", run: runBench})
}

// benchResult is one model's figures; JSON keys are stable.
type benchResult struct {
	Model         string  `json:"model"`
	Threads       int     `json:"threads"`
	PrefillTokens int     `json:"prefill_tokens"`
	PrefillTokS   float64 `json:"prefill_tok_s"`
	DecodeTokens  int     `json:"decode_tokens"`
	DecodeTokS    float64 `json:"decode_tok_s"`
	Reps          int     `json:"reps"`
}

func runBench(env *Env, args []string) error {
	fs := newFlags(env, "bench", "[--model M] [--prefill 128] [--decode 64] [--reps 3] [--threads N] [--json]")
	model := fs.String("model", "", "GGUF model `file` (default: stories260K.gguf under $NEXUSQUANT_TESTDATA/models)")
	prefill := fs.Int("prefill", 128, "prompt tokens per prefill")
	decode := fs.Int("decode", 64, "tokens decoded one at a time after the prefill")
	reps := fs.Int("reps", 3, "repetitions; the best is reported")
	threads := fs.Int("threads", 0, "threads (GOMAXPROCS); 0 = all cores")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *model == "" {
		if dir := os.Getenv("NEXUSQUANT_TESTDATA"); dir != "" {
			*model = filepath.Join(dir, "models", "stories260K.gguf")
		}
	}
	if *prefill < 1 || *decode < 0 || *reps < 1 {
		return usagef("--prefill ≥ 1, --decode ≥ 0 and --reps ≥ 1 are required")
	}
	if *threads > 0 {
		runtime.GOMAXPROCS(*threads)
	}
	m, err := loadModel(*model)
	if err != nil {
		return err
	}
	defer m.Close()
	if *prefill+*decode > m.Config.Ctx {
		return usagef("--prefill %d + --decode %d exceeds the model's context of %d", *prefill, *decode, m.Config.Ctx)
	}
	res, err := benchModel(m, *prefill, *decode, *reps)
	if err != nil {
		return err
	}
	res.Model = *model
	if *asJSON {
		return writeJSON(env.Stdout, res)
	}
	fmt.Fprintf(env.Stdout, "%s  threads %d\n  prefill %4d tokens: %9.1f tok/s\n  decode  %4d tokens: %9.1f tok/s   (best of %d)\n",
		filepath.Base(*model), res.Threads, res.PrefillTokens, res.PrefillTokS, res.DecodeTokens, res.DecodeTokS, res.Reps)
	return nil
}

func benchModel(m *engine.Model, prefill, decode, reps int) (*benchResult, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]int32, prefill+decode)
	for i := range ids {
		ids[i] = int32(rng.IntN(m.Config.Vocab))
	}
	ctx := context.Background()
	res := &benchResult{Threads: runtime.GOMAXPROCS(0), PrefillTokens: prefill, DecodeTokens: decode, Reps: reps}
	for r := 0; r < reps; r++ {
		c := m.NewCache()
		t0 := time.Now()
		if _, _, err := m.Forward(ctx, c, ids[:prefill], 0, engine.ForwardOptions{}); err != nil {
			return nil, err
		}
		if tps := float64(prefill) / time.Since(t0).Seconds(); tps > res.PrefillTokS {
			res.PrefillTokS = tps
		}
		if decode == 0 {
			continue
		}
		t0 = time.Now()
		for i := prefill; i < prefill+decode; i++ {
			if _, _, err := m.Forward(ctx, c, ids[i:i+1], i, engine.ForwardOptions{}); err != nil {
				return nil, err
			}
		}
		if tps := float64(decode) / time.Since(t0).Seconds(); tps > res.DecodeTokS {
			res.DecodeTokS = tps
		}
	}
	return res, nil
}
