package eval

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"nexusquant/engine"
	"nexusquant/stages"
	"nexusquant/stages/baselines" // registers q8_0, q4_0, kivi2, kivi4
)

// Progress reports where a long operation is; Done counts units of Total.
type Progress struct {
	Phase       string // "prefill", "baseline", "pipeline", "continuation"
	Window      int
	Done, Total int
}

// Explorer holds the settings-independent part of an evaluation: per window,
// the prefix cache handed to the pipeline, the attention statistics and the
// baseline logits of the continuation. It is not safe for concurrent Runs.
type Explorer struct {
	// Model is the model the windows ran on: the caller's, or for a
	// LongRoPE model and windows beyond its original context, a copy
	// sharing its weights (engine.Model.ForContext); close only the
	// caller's.
	Model        *engine.Model
	Prefix       int // prefix tokens per window (T)
	Continuation int // continuation tokens per window (C)
	Windows      []*Window
	// Bootstrap resamples and seed for the ΔPPL interval.
	Bootstrap int
	Seed      int64
	// OnProgress, when set, receives progress; it must not block.
	OnProgress func(Progress)
	// PrefillTime is the prefill of every window's prefix (with attention
	// statistics) and their float baseline continuations, once per
	// Explorer: the work every run of settings reuses.
	PrefillTime time.Duration
}

// Window is one prefix + continuation.
type Window struct {
	IDs         []int32 // prefix then continuation
	kv          *stages.KV
	stats       *stages.AttnStats
	statsWindow int
	pipe        *stages.Pipeline
	base        []float32 // (C−1)×vocab baseline logits, row i predicts IDs[Prefix+1+i]
	first       []float32 // the prefill's last logits (predict IDs[Prefix])
	greedyBase  []int32   // the baseline's greedy continuation, once known
}

// Targets are the scored tokens: continuation tokens 2..C.
func (w *Window) Targets(prefix int) []int32 { return w.IDs[prefix+1:] }

// Pipeline is the window's compression pipeline.
func (w *Window) Pipeline() *stages.Pipeline { return w.pipe }

// NewExplorer prefills every window's prefix once and computes its baseline
// continuation. obsWindow is the observer window of the attention statistics
// captured during prefill (a later run with another obs_window and an
// attention-based scorer prefills again).
func NewExplorer(ctx context.Context, m *engine.Model, windows [][]int32, prefix, obsWindow int, onProgress func(Progress)) (*Explorer, error) {
	if len(windows) == 0 {
		return nil, fmt.Errorf("no windows to evaluate")
	}
	n := len(windows[0])
	cont := n - prefix
	if prefix < 1 || cont < 2 {
		return nil, fmt.Errorf("window of %d tokens with prefix %d leaves continuation %d: need ≥ 2", n, prefix, cont)
	}
	if n > m.Config.Ctx {
		return nil, fmt.Errorf("prefix %d + continuation %d = %d tokens exceeds the model's context of %d", prefix, cont, n, m.Config.Ctx)
	}
	// A LongRoPE model (phi3) rotates with the factors llama.cpp uses for a
	// context of n; every later use of the model goes through e.Model.
	m = m.ForContext(n)
	e := &Explorer{Model: m, Prefix: prefix, Continuation: cont, Bootstrap: engine.DefaultBootstrap, OnProgress: onProgress}
	for i, ids := range windows {
		if len(ids) != n {
			return nil, fmt.Errorf("window %d has %d tokens, window 0 has %d", i, len(ids), n)
		}
		w := &Window{IDs: ids}
		t0 := time.Now()
		if err := e.prefill(ctx, i, w, obsWindow); err != nil {
			return nil, err
		}
		e.PrefillTime += time.Since(t0)
		e.Windows = append(e.Windows, w)
	}
	return e, nil
}

func (e *Explorer) progress(p Progress) {
	if e.OnProgress != nil {
		e.OnProgress(p)
	}
}

// prefill runs the prefix, captures statistics, exports the cache for the
// pipeline and computes the baseline continuation logits.
func (e *Explorer) prefill(ctx context.Context, wi int, w *Window, obsWindow int) error {
	onLayer := func(done, total int) { e.progress(Progress{Phase: "prefill", Window: wi, Done: done, Total: total}) }
	pf, err := prefillFor(ctx, e.Model, w.IDs[:e.Prefix], obsWindow, onLayer)
	if err != nil {
		return err
	}
	w.kv, w.stats, w.pipe, w.first = pf.kv, pf.stats, pf.pipe, pf.first
	w.statsWindow = obsWindow
	if w.base == nil {
		onLayer := func(done, total int) { e.progress(Progress{Phase: "baseline", Window: wi, Done: done, Total: total}) }
		w.base, err = e.continueFrom(ctx, pf.cache, w, onLayer, nil)
	}
	return err
}

// continueFrom runs the teacher-forced continuation over a prefix cache and
// returns its logits: rows predicting continuation tokens 2..C. It runs in
// chunks of continuationChunk tokens (the baseline and every compressed run
// alike, so their logits come from the same arithmetic) and calls onChunk,
// when set, after each chunk with the rows computed so far.
func (e *Explorer) continueFrom(ctx context.Context, prefix BlockSource, w *Window, onLayer func(int, int), onChunk func(rows []float32, done, total int)) ([]float32, error) {
	ov := NewOverlay(prefix)
	ids := w.IDs[e.Prefix : len(w.IDs)-1]
	V := e.Model.Config.Vocab
	chunk := continuationChunk(len(ids))
	logits := make([]float32, 0, len(ids)*V)
	for i := 0; i < len(ids); i += chunk {
		part := ids[i:min(len(ids), i+chunk)]
		l, _, err := e.Model.Forward(ctx, ov, part, e.Prefix+i, engine.ForwardOptions{Logits: engine.LogitsAll, Progress: onLayer})
		if err != nil {
			return nil, err
		}
		logits = append(logits, l...)
		if onChunk != nil {
			onChunk(logits, i+len(part), len(ids))
		}
	}
	return logits, nil
}

// continuationChunk is the number of continuation tokens per forward pass:
// about eight progress steps, at least 16 tokens a pass.
func continuationChunk(n int) int { return max(16, (n+7)/8) }

// needsStats reports whether the scorer reads attention statistics.
func needsStats(s stages.Settings) bool {
	return s.Method == stages.MethodNexusQuant && slices.Contains([]string{"attention", "h2o", "tova"}, s.Scorer)
}

// Result is one evaluation: the pipeline's report summed over windows and the
// quality metrics (SPEC §7, §8).
type Result struct {
	Settings stages.Settings
	Report   stages.Report      // window 0's report, with byte figures summed over windows
	Windows  []WindowResult     // per window
	Metrics  engine.Metrics     // means over windows; DeltaPPLCI pools all scored positions
	Pooled   engine.Metrics     // every figure over all scored positions
	Packed   *stages.Compressed // the last window's packed cache
	Timing   Timing
}

// WindowResult is one window's figures.
type WindowResult struct {
	Report  stages.Report
	Metrics engine.Metrics
}

// Timing is where a run's time went.
type Timing struct {
	Pipeline, Continuation time.Duration
}

// Hooks receive a run's results as they come, on the Run goroutine; each
// must return quickly. Window is the window's index.
type Hooks struct {
	// OnStage is called for each pipeline stage as it finishes (or is served
	// from the pipeline's memo).
	OnStage func(window int, st stages.StageReport)
	// OnPipeline is called with the window's pipeline report and packed
	// cache before its continuation starts.
	OnPipeline func(window int, rep stages.Report, packed *stages.Compressed)
	// OnContinuation is called after each chunk of the continuation with
	// the tokens scored so far and the running mean NLL of the compressed
	// and the baseline run over them (nats).
	OnContinuation func(window, done, total int, nll, baseNLL float64)
	// OnWindow is called with each window's figures.
	OnWindow func(window int, r WindowResult)
}

// Run compresses every window's prefix with s, continues from the packed
// caches and compares with the baselines.
func (e *Explorer) Run(ctx context.Context, s stages.Settings) (*Result, error) {
	return e.RunWith(ctx, s, Hooks{})
}

// RunWith is Run with hooks that see stage, pipeline and continuation results
// as they come.
func (e *Explorer) RunWith(ctx context.Context, s stages.Settings, h Hooks) (*Result, error) {
	if err := e.Check(s); err != nil {
		return nil, err
	}
	res := &Result{Settings: s}
	V := e.Model.Config.Vocab
	var pooledBase, pooledComp []float32
	var pooledTargets []int32
	for wi, w := range e.Windows {
		if needsStats(s) && s.ObsWindow != w.statsWindow {
			if err := e.prefill(ctx, wi, w, s.ObsWindow); err != nil {
				return nil, err
			}
		}
		e.progress(Progress{Phase: "pipeline", Window: wi})
		t0 := time.Now()
		var opts stages.RunOptions
		if h.OnStage != nil {
			opts.OnStage = func(st stages.StageReport) { h.OnStage(wi, st) }
		}
		pr, err := w.pipe.RunWith(ctx, s, opts)
		if err != nil {
			return nil, err
		}
		res.Timing.Pipeline += time.Since(t0)
		if h.OnPipeline != nil {
			h.OnPipeline(wi, pr.Report, pr.Compressed)
		}
		t0 = time.Now()
		onLayer := func(done, total int) {
			e.progress(Progress{Phase: "continuation", Window: wi, Done: done, Total: total})
		}
		targets := w.Targets(e.Prefix)
		var onChunk func([]float32, int, int)
		if h.OnContinuation != nil {
			var seen int                 // rows already summed
			var sumComp, sumBase float64 // NLL sums over them
			onChunk = func(rows []float32, done, total int) {
				n := len(rows) / V
				sumComp += sumNLL(rows[seen*V:], V, targets[seen:n])
				sumBase += sumNLL(w.base[seen*V:n*V], V, targets[seen:n])
				seen = n
				h.OnContinuation(wi, done, total, sumComp/float64(max(n, 1)), sumBase/float64(max(n, 1)))
			}
		}
		comp, err := e.continueFrom(ctx, Packed(pr.Compressed), w, onLayer, onChunk)
		if err != nil {
			return nil, err
		}
		res.Timing.Continuation += time.Since(t0)
		wm := engine.CompareLogits(w.base, comp, V, targets, e.Bootstrap, e.Seed)
		wr := WindowResult{Report: pr.Report, Metrics: wm}
		if h.OnWindow != nil {
			h.OnWindow(wi, wr)
		}
		res.Windows = append(res.Windows, wr)
		res.Packed = pr.Compressed
		pooledBase = append(pooledBase, w.base...)
		pooledComp = append(pooledComp, comp...)
		pooledTargets = append(pooledTargets, targets...)
	}
	res.Pooled = engine.CompareLogits(pooledBase, pooledComp, V, pooledTargets, e.Bootstrap, e.Seed)
	res.Metrics = meanMetrics(res.Windows)
	res.Metrics.DeltaPPLCI = res.Pooled.DeltaPPLCI
	res.Report = sumReports(res.Windows)
	return res, nil
}

// sumNLL is the summed negative log-likelihood of targets under rows of
// vocab logits (row i predicts targets[i]).
func sumNLL(rows []float32, vocab int, targets []int32) float64 {
	var sum float64
	for i, t := range targets {
		row := rows[i*vocab : (i+1)*vocab]
		mx := row[0]
		for _, v := range row {
			mx = max(mx, v)
		}
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v - mx))
		}
		sum += math.Log(z) - float64(row[t]-mx)
	}
	return sum
}

// checkMethod refuses methods the model's shape does not allow.
func checkMethod(s stages.Settings, m *engine.Model) error {
	if err := baselines.Supported(s.Method, m.Config.HeadDim); err != nil {
		return fmt.Errorf("%s: %w", m.Path, err)
	}
	return nil
}

func meanMetrics(ws []WindowResult) engine.Metrics {
	var m engine.Metrics
	n := float64(len(ws))
	for _, w := range ws {
		m.PPLBase += w.Metrics.PPLBase / n
		m.PPL += w.Metrics.PPL / n
		m.DeltaPPLPct += w.Metrics.DeltaPPLPct / n
		m.KLD += w.Metrics.KLD / n
		m.Top1Agree += w.Metrics.Top1Agree / n
		m.N += w.Metrics.N
	}
	return m
}

// sumReports adds the byte figures of every window's report to window 0's and
// recomputes the ratios from the sums; errors are averaged, times summed.
func sumReports(ws []WindowResult) stages.Report {
	r := ws[0].Report
	r.Stages = slices.Clone(r.Stages)
	r.Layers = slices.Clone(r.Layers)
	if len(ws) == 1 {
		return r
	}
	n := float64(len(ws))
	for i := range r.Stages {
		r.Stages[i].RelErrK /= n
		r.Stages[i].RelErrV /= n
	}
	for i := range r.Layers {
		r.Layers[i].RelErrK /= n
		r.Layers[i].RelErrV /= n
	}
	for _, w := range ws[1:] {
		o := w.Report
		r.BaselineBytes += o.BaselineBytes
		r.BaselineAllPositionsBytes += o.BaselineAllPositionsBytes
		for i := range min(len(r.Layers), len(o.Layers)) {
			l, ol := &r.Layers[i], o.Layers[i]
			l.Kept += ol.Kept
			l.BaselineBytes += ol.BaselineBytes
			l.StoredBytes += ol.StoredBytes
			l.RelErrK += ol.RelErrK / n
			l.RelErrV += ol.RelErrV / n
		}
		r.KeptRows += o.KeptRows
		r.ResidentBytes += o.ResidentBytes
		r.DecodeFormBytes += o.DecodeFormBytes
		r.Stored.Codes += o.Stored.Codes
		r.Stored.Scales += o.Stored.Scales
		r.Stored.Positions += o.Stored.Positions
		r.Stored.Header += o.Stored.Header
		r.Stored.FP16Layers += o.Stored.FP16Layers
		r.Blocking.BlockedBytes += o.Blocking.BlockedBytes
		r.Blocking.UnblockedBytes += o.Blocking.UnblockedBytes
		for i := range r.Stages {
			r.Stages[i].Bytes += o.Stages[i].Bytes
			r.Stages[i].RelErrK += o.Stages[i].RelErrK / n
			r.Stages[i].RelErrV += o.Stages[i].RelErrV / n
			r.Stages[i].Ms += o.Stages[i].Ms
			r.Stages[i].Duration += o.Stages[i].Duration
		}
	}
	r.Kinds = stages.SumKinds(r.Layers)
	total := r.Stored.Total()
	r.RatioPayload = ratio(r.BaselineBytes, r.Stored.Codes+r.Stored.FP16Layers)
	r.RatioTotal = ratio(r.BaselineBytes, total)
	r.RatioResident = ratio(r.BaselineBytes, r.ResidentBytes)
	if r.Blocking.UnblockedBytes > 0 {
		r.Blocking.CostPct = 100 * (float64(r.Blocking.BlockedBytes)/float64(r.Blocking.UnblockedBytes) - 1)
		r.Blocking.RatioTotalUnblocked = ratio(r.BaselineBytes, total-r.Blocking.BlockedBytes+r.Blocking.UnblockedBytes)
	}
	return r
}

func ratio(a, b int64) float64 {
	if b <= 0 {
		return math.Inf(1)
	}
	return float64(a) / float64(b)
}

// Check reports whether settings s can run on this explorer's model.
func (e *Explorer) Check(s stages.Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	return checkMethod(s, e.Model)
}
