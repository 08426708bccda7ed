package tui

import (
	"nexusquant/engine"
	"nexusquant/eval"
	"nexusquant/stages"
)

// state is everything the panes draw: the root model owns it, Update changes
// it, and panes only read it. Nothing in it does I/O.
type state struct {
	info     modelInfo
	settings stages.Settings
	focus    int // index into rows() of the focused setting

	phase   phase
	loadErr string // why the model or text could not be loaded
	prefill eval.Prefill
	job     uint64 // the run job whose events count
	cur     run    // the run in progress or last finished
	prev    *run   // the run before it, drawn dim until cur's figures arrive
	runs    []runPoint
	pieces  []string // window 0's prefix, one decoded piece per token

	shape  *engine.Shape // the model whose capacity is shown (--shape-of, else the loaded one)
	budget int64         // memory budget of the capacity pane, bytes

	sess    sessionsState // the Sessions view
	session string        // the session `s` saves to

	status    string // last notice (saved, exported, …)
	statusErr bool
	tab       int
	help      bool
	chartKLD  bool // the quality chart plots KLD instead of ΔPPL
	spin      int  // spinner frame
}

// phase is what the explorer is doing.
type phase int

const (
	phaseLoading phase = iota // loading the model and prefilling
	phaseFailed               // loading failed: loadErr says why
	phaseRunning              // a run job is in flight
	phaseIdle                 // the last run finished (or failed: cur.err)
)

// modelInfo is the header's description of the model and text.
type modelInfo struct {
	Name, Arch, WeightType string
	Params                 int64
	Ctx                    int
	Device                 string
	Source                 string // the text: file name, "demo: …" or "prompt"
	Prefix, Continuation   int
	Windows                int
	// SlidingLayers counts the model's sliding-window layers (window
	// SlidingWindow); the settings pane shows the sliding_layers row only
	// when there are some.
	SlidingLayers, SlidingWindow int
}

// run is the state of one run job, filled as its events arrive.
type run struct {
	settings   stages.Settings
	stages     []stages.StageReport // window 0's stages so far
	report     *stages.Report       // window 0's pipeline report, then the summed one
	contDone   int                  // continuation tokens scored (window 0)
	contTot    int
	contWindow int     // the window the continuation figures are of
	nll        float64 // running mean NLL, compressed
	baseNLL    float64 // running mean NLL, baseline
	// keepShare[t] is the share of window 0's (layer, KV head) keep lists
	// that hold prefix token t (1 everywhere when nothing is evicted; 0 or 1
	// with granularity global, unless sliding-window layers hold only their
	// window).
	keepShare []float64
	// heads is window 0's layer × KV-head grid (stages.Report.Heads).
	heads  []stages.HeadFigures
	result *eval.Result
	diff   *eval.TextDiff
	err    string
	saved  bool
}

// runPoint is one finished run of this session, for the quality chart.
type runPoint struct {
	settings   stages.Settings
	ratioTotal float64
	deltaPPL   float64
	kld        float64
	job        uint64
}
