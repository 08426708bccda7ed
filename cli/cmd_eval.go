package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"nexusquant/engine"
	"nexusquant/eval"
	"nexusquant/internal/units"
	"nexusquant/sessions"
	"nexusquant/stages"
)

func init() {
	register(&command{name: "eval", summary: "compress a prefix's KV cache, continue from the packed form, report bytes and quality", run: runEval})
}

// textFlags are the input flags shared by eval and sweep.
type textFlags struct {
	fs                  *flag.FlagSet
	model, file, prompt *string
	prefix, cont, wins  *int
	// check, when set, runs right after the model is loaded and before any
	// work on the input (src is the input as given, before Prepare).
	check func(m *engine.Model, src *eval.Source) error
}

func addTextFlags(fs *flag.FlagSet, contDefault int) *textFlags {
	return &textFlags{
		fs:     fs,
		model:  fs.String("model", "", "GGUF model `file`"),
		file:   fs.String("file", "", "evaluation text `file` (cut into windows of prefix+continuation tokens)"),
		prompt: fs.String("prompt", "", "a prompt: the prefix; the continuation is the baseline model's own greedy text"),
		prefix: fs.Int("prefix", 256, "prefix tokens per window (with --file; BOS included)"),
		cont:   fs.Int("continuation", contDefault, "continuation tokens per window"),
		wins:   fs.Int("windows", 1, "number of non-overlapping windows (0 = as many as the text holds)"),
	}
}

// checkRanges refuses text flags that cannot apply: --prefix or --windows
// with --prompt (the prompt is the one prefix), and out-of-range counts.
func (tf *textFlags) checkRanges() error {
	given := map[string]bool{}
	tf.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	switch {
	case *tf.prompt != "" && given["prefix"]:
		return usagef("--prefix applies to --file; with --prompt the prompt is the prefix")
	case *tf.prompt != "" && given["windows"]:
		return usagef("--windows applies to --file; a prompt is one window")
	case *tf.prefix < 1:
		return usagef("--prefix must be ≥ 1, got %d", *tf.prefix)
	case *tf.cont < 2:
		return usagef("--continuation must be ≥ 2 (the first continuation token is predicted before compression), got %d", *tf.cont)
	case *tf.wins < 0:
		return usagef("--windows must be ≥ 0 (0 = as many as the text holds), got %d", *tf.wins)
	}
	return nil
}

// explorer starts a Runner, loads the model and prepares the input on it
// (eval.Prepare: windows, prefill, baselines), drawing progress on stderr
// unless quiet. On success the caller closes the Runner (which closes the
// model); on error it is already closed.
func (tf *textFlags) explorer(env *Env, obsWindow int, seed int64, quiet bool) (_ *eval.Runner, _ *eval.Explorer, _ *eval.Source, err error) {
	if (*tf.file == "") == (*tf.prompt == "") {
		return nil, nil, nil, usagef("give exactly one of --file or --prompt")
	}
	if err := tf.checkRanges(); err != nil {
		return nil, nil, nil, err
	}
	in := eval.Input{Source: eval.Source{Kind: "prompt", Text: *tf.prompt, Prefix: *tf.prefix, Continuation: *tf.cont, Windows: *tf.wins}, ObsWindow: obsWindow}
	if *tf.file != "" {
		text, err := os.ReadFile(*tf.file)
		if err != nil {
			return nil, nil, nil, err
		}
		in.Kind, in.Path, in.Text = "file", *tf.file, string(text)
	}
	r := eval.NewRunner()
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	draw, clear := progressLine(env.Stderr, quiet)
	defer clear()
	open := func() (*engine.Model, error) {
		m, err := loadModel(*tf.model)
		if err != nil || tf.check == nil {
			return m, err
		}
		if err := tf.check(m, &in.Source); err != nil {
			m.Close()
			return nil, err
		}
		return m, nil
	}
	id := r.Load(eval.LoadSpec{Open: open, Input: in, Seed: seed})
	defer context.AfterFunc(env.Ctx, r.Cancel)() // after Load: Ctrl-C cancels that job
	switch ev := r.Await(id, func(ev eval.Event) {
		if p, ok := ev.(eval.Prefill); ok {
			draw("window %d · %s %d/%d", p.Window+1, p.Phase, p.Done, p.Total)
		}
	}).(type) {
	case eval.Loaded:
		return r, ev.Explorer, ev.Source, nil
	case eval.Failed:
		return nil, nil, nil, ev.Err
	default:
		return nil, nil, nil, fmt.Errorf("loading %s was cancelled", *tf.model)
	}
}

// runJob runs settings s on the Runner's explorer, drawing progress unless quiet.
func runJob(env *Env, r *eval.Runner, s stages.Settings, quiet bool) (*eval.Result, error) {
	draw, clear := progressLine(env.Stderr, quiet)
	defer clear()
	id := r.Submit(s, eval.RunOptions{})
	defer context.AfterFunc(env.Ctx, r.Cancel)() // after Submit: Ctrl-C cancels this run
	switch ev := r.Await(id, func(ev eval.Event) {
		switch p := ev.(type) {
		case eval.StageDone:
			draw("window %d · stage %s", p.Window+1, p.Stage.Name)
		case eval.ContinuationProgress:
			draw("window %d · continuation %d/%d", p.Window+1, p.Done, p.Total)
		}
	}).(type) {
	case eval.Done:
		return ev.Result, nil
	case eval.Failed:
		return nil, ev.Err
	default:
		return nil, fmt.Errorf("the run was cancelled")
	}
}

func runEval(env *Env, args []string) error {
	fs := newFlags(env, "eval", "--model M (--file F | --prompt P | --cache C.nqkv …) [settings] [--json]")
	tf := addTextFlags(fs, 128)
	sf := addSettingsFlags(fs)
	cacheFile := fs.String("cache", "", "continue from a packed cache `file` written by `compress` (give the same --prompt or --file/--prefix)")
	niah := fs.Bool("niah", false, "also run needle retrieval at depths 10%, 50%, 90%")
	niahTrials := fs.Int("niah-trials", 3, "needles per depth")
	saveSession := fs.String("save-session", "", "append this run to the named session")
	savePreset := fs.String("save-preset", "", "save the settings this run used as the user preset `NAME` (see nexusquant presets)")
	seed := fs.Int64("bootstrap-seed", 1, "seed of the paired bootstrap")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *niah && *niahTrials < 1 {
		return usagef("--niah-trials must be ≥ 1, got %d", *niahTrials)
	}
	if *cacheFile != "" {
		if given := sf.given(); len(given) > 0 {
			return usagef("--cache continues from a packed cache whose settings are fixed; drop %s", strings.Join(given, ", "))
		}
	}
	s, err := sf.resolve()
	if err != nil {
		return err
	}
	var store *sessions.Store
	if *saveSession != "" {
		// Refuse a bad name, or a session of another model or text, before
		// any work.
		if err := sessions.CheckName(*saveSession); err != nil {
			return usagef("--save-session: %v", err)
		}
		if store, err = sessions.Open(); err != nil {
			return err
		}
		tf.check = func(m *engine.Model, src *eval.Source) error {
			if err := eval.CheckSession(store, *saveSession, m, src); err != nil {
				return fmt.Errorf("--save-session: %w", err)
			}
			return nil
		}
	}
	presetStore, err := evalPresetStore(*savePreset)
	if err != nil {
		return err
	}
	ctx := env.Ctx
	runner, ex, src, err := tf.explorer(env, s.ObsWindow, *seed, *asJSON)
	if err != nil {
		return err
	}
	defer runner.Close()
	m := ex.Model

	var res *eval.Result
	if *cacheFile != "" {
		res, err = ex.RunFromFile(ctx, *cacheFile)
	} else {
		res, err = runJob(env, runner, s, *asJSON)
	}
	if err != nil {
		return err
	}
	out := eval.NewReport(ex, res)
	out.Identify(m, src)
	if *cacheFile == "" {
		if out.Rerun, err = ex.RerunCost(ctx, s); err != nil {
			return err
		}
	}
	if src.Kind == "prompt" {
		if out.Text, err = ex.GreedyDiff(ctx, res.Packed); err != nil {
			return err
		}
	}
	if *niah {
		out.NIAH, err = eval.Needle(ctx, m, res.Settings, eval.NeedleOptions{Trials: *niahTrials, Haystack: src.Text, Seed: *seed})
		if err != nil {
			return err
		}
	}
	// The results come first: a save that fails anyway (a full disk, a
	// session written meanwhile on another model) loses nothing on screen.
	if *asJSON {
		if err := writeJSON(env.Stdout, out); err != nil {
			return err
		}
	} else {
		printReport(env, out)
	}
	if *saveSession != "" {
		sess, err := eval.SaveRun(store, *saveSession, m, src, out)
		if err != nil {
			return err
		}
		if !*asJSON {
			fmt.Fprintf(env.Stdout, "\nsaved as run %d of session %s (%s)\n", len(sess.Runs), sess.Name, store.Path(sess.Name))
		}
	}
	if err := savePresetFromEval(env, presetStore, *savePreset, *tf.model, res.Settings, out); err != nil {
		return err
	}
	return nil
}

// given lists the settings flags the command line set, as "--flag".
func (sf *settingsFlags) given() []string {
	var out []string
	sf.fs.Visit(func(f *flag.Flag) {
		name := strings.ReplaceAll(f.Name, "-", "_")
		if _, ok := sf.values[name]; ok || f.Name == "preset" || f.Name == "no-hadamard" || f.Name == "no-rope-undo" || f.Name == "no-delta" {
			out = append(out, "--"+f.Name)
		}
	})
	return out
}

// printLayerNotes writes, under the stage table, what layer types changed:
// the baseline's sliding windows, the stages' notes, and the bytes per layer
// type when the model has more than one. It writes nothing for a model of
// plain full-attention layers.
func printLayerNotes(w io.Writer, r *eval.Report) {
	if r.SlidingLayers > 0 {
		fmt.Fprintf(w, "fp16 baseline counts what the caches hold: %d sliding-window layers keep their last %d positions (every position: %s)\n",
			r.SlidingLayers, r.SlidingWindow, units.Bytes(r.BaselineAllPositionsBytes))
	}
	for _, st := range r.Stages {
		if st.Note != "" {
			fmt.Fprintf(w, "%s: %s\n", st.Name, st.Note)
		}
	}
	if len(r.LayerKinds) < 2 {
		return
	}
	fmt.Fprintf(w, "\n%-10s %6s %12s %12s %8s\n", "layer type", "layers", "fp16 bytes", "stored", "ratio")
	var stored int64
	for _, k := range r.LayerKinds {
		fmt.Fprintf(w, "%-10s %6d %12s %12s %7.2f×\n", k.Kind, k.Layers, units.Bytes(k.BaselineBytes), units.Bytes(k.StoredBytes), k.Ratio)
		stored += k.StoredBytes
	}
	fmt.Fprintf(w, "%-10s %6s %12s %12s   (positions and header, shared by every type)\n", "shared", "", "", units.Bytes(r.StoredBytes-stored))
}

// printReport writes the human-readable form of an eval report.
func printReport(env *Env, r *eval.Report) {
	w := env.Stdout
	fmt.Fprintf(w, "prefix %d tokens · continuation %d · %d window(s) · method %s\n", r.PrefixTokens, r.ContinuationTokens, len(r.Windows), r.Method)
	const barWidth = 24
	fmt.Fprintf(w, "\n%-10s %-*s %12s %8s %10s %10s %9s\n", "stage", barWidth, "memory", "bytes", "ratio", "rel_err_k", "rel_err_v", "ms")
	fmt.Fprintf(w, "%-10s %s %12s %7.2f×\n", "fp16", units.Bar(1, barWidth), units.Bytes(r.BaselineBytes), 1.0)
	for _, st := range r.Stages {
		frac := float64(st.Bytes) / float64(max(r.BaselineBytes, 1))
		fmt.Fprintf(w, "%-10s %s %12s %7.2f× %10.2e %10.2e %9.1f\n", st.Name, units.Bar(frac, barWidth), units.Bytes(st.Bytes), 1/max(frac, 1e-12), st.RelErrK, st.RelErrV, st.Ms)
	}
	printLayerNotes(w, r)
	fmt.Fprintf(w, "\nratio payload %.2f×   total %.2f×   resident %.2f×   (positions: %s; blocking costs %+.1f%%)\n",
		r.RatioPayload, r.RatioTotal, r.RatioResident, r.PositionEncoding, r.Blocking.CostPct)
	fmt.Fprintf(w, "PPL %.4f → %.4f   ΔPPL %+.2f%% [%+.2f, %+.2f]   KLD %.4f   top-1 %.1f%%\n",
		r.PPLBase, r.PPL, r.DeltaPPLPct, r.DeltaPPLCI[0], r.DeltaPPLCI[1], r.KLD, 100*r.Top1Agree)
	fmt.Fprintf(w, "time: prefill and baseline %.0f ms · pipeline %.0f ms · continuation %.0f ms\n", r.PrefillMs, r.PipelineMs, r.ContinuationMs)
	if r.Rerun != nil {
		stagesOf := func(s []string) string {
			if len(s) == 0 {
				return "nothing re-runs"
			}
			return strings.Join(s, "+")
		}
		fmt.Fprintf(w, "live update: key_bits change re-runs in %.1f ms (%s), eviction_rate change in %.1f ms (%s)\n",
			r.Rerun.KeyBitsMs, stagesOf(r.Rerun.KeyBitsStages), r.Rerun.EvictionRateMs, stagesOf(r.Rerun.EvictionRateStages))
	}
	if t := r.Text; t != nil {
		fmt.Fprintf(w, "\nbase  %q\ncomp  %q\n", t.Base, t.Compressed)
		if t.FirstDiff >= 0 {
			fmt.Fprintf(w, "first difference at continuation token %d\n", t.FirstDiff+1)
		} else {
			fmt.Fprintln(w, "identical greedy continuations")
		}
	}
	if r.NIAH != nil {
		fmt.Fprintf(w, "\nneedle recall:")
		for _, d := range r.NIAH.Depths {
			fmt.Fprintf(w, "  %.0f%% → %d/%d", 100*d.Depth, d.Found, d.Trials)
		}
		fmt.Fprintf(w, "   (overall %.0f%%, baseline %.0f%%)\n", 100*r.NIAH.Recall, 100*r.NIAH.BaselineRecall)
	}
}
