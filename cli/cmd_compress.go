package cli

import (
	"fmt"

	"nexusquant/engine/tokenizer"
	"nexusquant/eval"
	"nexusquant/internal/units"
)

func init() {
	register(&command{name: "compress", summary: "compress a prompt's KV cache and write the packed form to a .nqkv file", run: runCompress})
}

func runCompress(env *Env, args []string) error {
	fs := newFlags(env, "compress", "--model M --prompt P [settings] --out cache.nqkv")
	model := fs.String("model", "", "GGUF model `file`")
	prompt := fs.String("prompt", "", "the prompt whose KV cache to compress")
	out := fs.String("out", "", "output `file` (.nqkv)")
	sf := addSettingsFlags(fs)
	asJSON := fs.Bool("json", false, "print the pipeline report as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" || *prompt == "" {
		return usagef("--prompt and --out are required")
	}
	s, err := sf.resolve()
	if err != nil {
		return err
	}
	m, err := loadTokenizedModel(*model)
	if err != nil {
		return err
	}
	defer m.Close()
	ids := m.Tok.Encode(*prompt, tokenizer.Options{AddSpecial: true})
	res, err := eval.Compress(env.Ctx, m, ids, s)
	if err != nil {
		return err
	}
	n, err := eval.WriteCache(*out, res.Compressed)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(env.Stdout, map[string]any{"out": *out, "bytes": n, "prefix_tokens": len(ids), "report": res.Report, "settings": eval.SettingsByFlag(s)})
	}
	r := res.Report
	fmt.Fprintf(env.Stdout, "%s: %d prefix tokens → %s (%s of float16 KV): payload %.2f×, total %.2f×\n",
		*out, len(ids), units.Bytes(n), units.Bytes(r.BaselineBytes), r.RatioPayload, r.RatioTotal)
	return nil
}
