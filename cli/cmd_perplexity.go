package cli

import (
	"fmt"
	"os"

	"nexusquant/engine/tokenizer"
)

func init() {
	register(&command{name: "perplexity", summary: "corpus perplexity with llama.cpp's protocol", run: runPerplexity})
}

func runPerplexity(env *Env, args []string) error {
	fs := newFlags(env, "perplexity", "--model M --file F --ctx C [--chunks K] [--json]")
	model := fs.String("model", "", "GGUF model `file`")
	file := fs.String("file", "", "text `file` to evaluate")
	nctx := fs.Int("ctx", 512, "chunk length in tokens")
	chunks := fs.Int("chunks", 0, "number of chunks (0 = all)")
	cacheType := fs.String("cache-type", "f32", "KV cache storage: f32, f16, q8_0 or q4_0 (llama.cpp-style per-32 blocks)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	exact := fs.Bool("exact", false, exactUsage)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return usagef("--file is required")
	}
	if *chunks < 0 {
		return usagef("--chunks must be ≥ 0 (0 = all), got %d", *chunks)
	}
	if *nctx < 4 {
		return usagef("--ctx must be at least 4, got %d", *nctx)
	}
	kind, err := cacheKind(*cacheType)
	if err != nil {
		return err
	}
	text, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	m, err := loadTokenizedModel(*model)
	if err != nil {
		return err
	}
	defer m.Close()
	m.Exact = *exact
	if *nctx > m.Config.Ctx {
		return usagef("--ctx %d exceeds the model's context of %d", *nctx, m.Config.Ctx)
	}
	newCache, err := cacheFactory(kind, m)
	if err != nil {
		return err
	}
	if *exact && kind == "f32" {
		kind = "f16" // Exact mode keeps llama.cpp's float16 cells
	}
	ids := m.Tok.Encode(string(text), tokenizer.Options{AddSpecial: true})
	draw, clear := progressLine(env.Stderr, *asJSON)
	progress := func(done, total int) { draw("chunk %d/%d", done, total) }
	res, err := m.Perplexity(env.Ctx, ids, *nctx, *chunks, newCache, progress)
	clear()
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	if *asJSON {
		return writeJSON(env.Stdout, map[string]any{"ppl": res.PPL, "ppl_err": res.PPLErr, "chunks": res.Chunks, "tokens": res.Tokens, "cache_type": kind, "exact": *exact})
	}
	mode := ""
	if *exact {
		mode = ", llama.cpp arithmetic"
	}
	fmt.Fprintf(env.Stdout, "PPL = %.4f +/- %.5f  (%d chunks of %d tokens, %d scored, KV cache %s%s)\n", res.PPL, res.PPLErr, res.Chunks, *nctx, res.Tokens, kind, mode)
	return nil
}
