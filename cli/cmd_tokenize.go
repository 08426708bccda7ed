package cli

import (
	"nexusquant/engine/tokenizer"
)

func init() {
	register(&command{name: "tokenize", summary: "print the token ids of a text as a JSON array (BOS included)", run: runTokenize})
}

func runTokenize(env *Env, args []string) error {
	fs := newFlags(env, "tokenize", "--model M --text T")
	model := fs.String("model", "", "GGUF model `file` whose vocabulary to use")
	text := fs.String("text", "", "the `text` to tokenize")
	noSpecial := fs.Bool("no-special", false, "do not add BOS/EOS")
	parseSpecial := fs.Bool("parse-special", false, "recognise control-token text such as <s>")
	if err := parse(fs, args); err != nil {
		return err
	}
	m, err := loadTokenizedModel(*model)
	if err != nil {
		return err
	}
	defer m.Close()
	ids := m.Tok.Encode(*text, tokenizer.Options{AddSpecial: !*noSpecial, ParseSpecial: *parseSpecial})
	if ids == nil {
		ids = []int32{}
	}
	return writeJSON(env.Stdout, ids)
}
