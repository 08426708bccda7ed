// Command synthgen writes the synthetic architecture fixtures and turns
// llama.cpp's output on them into the committed reference figures; it is
// what engine/testdata/archref/regen.sh runs.
//
//	synthgen write DIR [NAME ...]      write NAME.{F16,Q8_0}.gguf (all specs by default), print sha256s
//	synthgen ref -model F -text T -ctx C -chunks N -log L [-logits K] [-ours]
//	                                   print the Ref JSON of one llama-perplexity run
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"nexusquant/engine"
	"nexusquant/engine/tokenizer"
	"nexusquant/internal/synth"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "synthgen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: synthgen write DIR [NAME...] | synthgen ref -model F -text T -ctx C -chunks N -log L [-logits K] [-ours]")
	}
	switch args[0] {
	case "write":
		return write(args[1:])
	case "ref":
		return ref(args[1:])
	}
	return fmt.Errorf("unknown command %q (write, ref)", args[0])
}

func write(args []string) error {
	if len(args) < 1 {
		return fmt.Errorf("write: need a folder")
	}
	dir := args[0]
	specs := synth.Specs()
	if len(args) > 1 {
		specs = specs[:0]
		for _, n := range args[1:] {
			s, err := synth.Lookup(n)
			if err != nil {
				return err
			}
			specs = append(specs, s)
		}
	}
	for _, s := range specs {
		for _, t := range synth.Types {
			path := filepath.Join(dir, synth.FileName(s, t))
			if err := synth.Write(path, s, t); err != nil {
				return err
			}
			sum, err := fileSHA256(path)
			if err != nil {
				return err
			}
			fmt.Printf("%s  %s\n", sum, filepath.Base(path))
		}
	}
	return nil
}

func ref(args []string) error {
	fs := flag.NewFlagSet("ref", flag.ContinueOnError)
	model := fs.String("model", "", "the GGUF file llama-perplexity ran on")
	text := fs.String("text", "", "the text file it read")
	ctx := fs.Int("ctx", 128, "its -c")
	chunks := fs.Int("chunks", 16, "its --chunks")
	logPath := fs.String("log", "", "its log (for the Final estimate line)")
	logits := fs.String("logits", "", "its --kl-divergence-base file, if any")
	ours := fs.Bool("ours", false, "also record the engine's perplexity of the same run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r := synth.Ref{File: filepath.Base(*model), Text: filepath.Base(*text), Ctx: *ctx, Chunks: *chunks}
	var err error
	if r.SHA256, err = fileSHA256(*model); err != nil {
		return err
	}
	log, err := os.ReadFile(*logPath)
	if err != nil {
		return err
	}
	if r.PPL, r.PPLErr, err = synth.ParsePPL(log); err != nil {
		return fmt.Errorf("%s: %w", *logPath, err)
	}
	if *logits != "" {
		data, err := os.ReadFile(*logits)
		if err != nil {
			return err
		}
		if r.TokensSHA256, r.Argmax, r.Gap, err = synth.ParseLogits(data); err != nil {
			return fmt.Errorf("%s: %w", *logits, err)
		}
	}
	if *ours {
		if r.Ours, err = enginePPL(*model, *text, *ctx, *chunks); err != nil {
			return err
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}

// enginePPL is the engine's perplexity of the run llama-perplexity made.
func enginePPL(model, text string, nctx, chunks int) (float64, error) {
	m, err := engine.Load(model)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	b, err := os.ReadFile(text)
	if err != nil {
		return 0, err
	}
	ids := m.Tok.Encode(string(b), tokenizer.Options{AddSpecial: true})
	res, err := m.Perplexity(context.Background(), ids, nctx, chunks, nil, nil)
	if err != nil {
		return 0, err
	}
	return res.PPL, nil
}

func fileSHA256(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}
