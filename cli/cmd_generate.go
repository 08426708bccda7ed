package cli

import (
	"fmt"
	"math"

	"nexusquant/engine"
	"nexusquant/engine/tokenizer"
)

func init() {
	register(&command{name: "generate", summary: "print a prompt's continuation (greedy or sampled)", run: runGenerate})
}

func runGenerate(env *Env, args []string) error {
	fs := newFlags(env, "generate", "--model M --prompt P [--tokens N] [--temp 0]")
	model := fs.String("model", "", "GGUF model `file`")
	prompt := fs.String("prompt", "", "the prompt `text`")
	n := fs.Int("tokens", 64, "number of tokens to generate")
	temp := fs.Float64("temp", 0, "sampling temperature (0 = greedy)")
	topK := fs.Int("top-k", 40, "top-k when sampling (0 = off)")
	topP := fs.Float64("top-p", 0.95, "top-p when sampling (1 = off)")
	seed := fs.Int64("seed", 0, "sampling seed")
	ids := fs.Bool("ids", false, "print the generated token ids as JSON instead of text")
	exact := fs.Bool("exact", false, exactUsage)
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *n < 0:
		return usagef("--tokens must be ≥ 0, got %d", *n)
	case *temp < 0 || math.IsNaN(*temp):
		return usagef("--temp must be ≥ 0 (0 = greedy), got %v", *temp)
	case !(*topP > 0 && *topP <= 1):
		return usagef("--top-p must be in (0, 1] (1 = off), got %v", *topP)
	case *topK < 0:
		return usagef("--top-k must be ≥ 0 (0 = off), got %d", *topK)
	}
	m, err := loadTokenizedModel(*model)
	if err != nil {
		return err
	}
	defer m.Close()
	m.Exact = *exact
	promptIDs := m.Tok.Encode(*prompt, tokenizer.Options{AddSpecial: true})
	if len(promptIDs) == 0 {
		return usagef("--prompt is empty and the vocabulary adds no BOS: nothing to continue")
	}
	if len(promptIDs)+*n > m.Config.Ctx {
		return usagef("prompt (%d tokens) + %d new tokens exceeds the model's context of %d", len(promptIDs), *n, m.Config.Ctx)
	}
	s := engine.Sampler{Temp: float32(*temp), TopK: *topK, TopP: float32(*topP), Seed: *seed}
	if !*ids {
		// Echo the prompt as llama.cpp does (without BOS), then stream pieces.
		echo := promptIDs
		if m.Tok.AddBOS() && len(echo) > 0 && echo[0] == m.Tok.BOS() {
			echo = echo[1:]
		}
		fmt.Fprint(env.Stdout, m.Tok.Decode(echo))
	}
	out, err := m.Generate(env.Ctx, promptIDs, *n, s, func(id int32) bool {
		if !*ids {
			env.Stdout.Write(m.Tok.Piece(id))
		}
		return true
	})
	if err != nil {
		return err
	}
	if *ids {
		if out == nil {
			out = []int32{}
		}
		return writeJSON(env.Stdout, out)
	}
	fmt.Fprintln(env.Stdout)
	return nil
}
