package tui

import (
	"fmt"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"nexusquant/engine"
	"nexusquant/eval"
	"nexusquant/sessions"
	"nexusquant/stages"
)

// fakeBackend records what the explorer asks for; tests feed events by hand.
type fakeBackend struct {
	mu      sync.Mutex
	loads   []eval.LoadSpec
	submits []stages.Settings
	next    uint64
	events  chan eval.Event
}

func newFake() *fakeBackend { return &fakeBackend{events: make(chan eval.Event, 64)} }

func (f *fakeBackend) Load(s eval.LoadSpec) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	f.loads = append(f.loads, s)
	return f.next
}

func (f *fakeBackend) Submit(s stages.Settings, _ eval.RunOptions) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	f.submits = append(f.submits, s)
	return f.next
}

func (f *fakeBackend) Events() <-chan eval.Event { return f.events }

// balanced is the explorer's default first run.
func balanced(t testing.TB) stages.Settings {
	t.Helper()
	s, ok := applyPreset(stages.DefaultSettings(), "balanced")
	if !ok {
		t.Fatal("no balanced preset")
	}
	s.ZstdLevel = ExplorerZstdLevel
	return s
}

// newTestModel is an explorer at w×h over a fake backend, loaded with a
// synthetic model description (no explorer: nothing is submitted).
func newTestModel(t testing.TB, w, h int) (*Model, *fakeBackend) {
	t.Helper()
	fb := newFake()
	m := New(Config{Settings: balanced(t), SourceName: "demo: devils-dictionary.txt", Device: "cpu · 2 threads"}, fb)
	m.Init()
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.st.info = modelInfo{Name: "tiny-llama-hd64.Q8_0.gguf", Arch: "llama", WeightType: "Q8_0", Params: 3_410_000, Ctx: 512,
		Device: "cpu · 2 threads", Source: "demo: devils-dictionary.txt", Prefix: 256, Continuation: 128, Windows: 1}
	sh := engine.Shape{Name: "tiny-llama-hd64", Arch: "llama", Layers: 4, KVHeads: 2, HeadDim: 64, Ctx: 512, Params: 3_410_000, WeightBytes: 3_600_000, WeightType: "Q8_0"}
	m.st.shape = &sh
	m.st.phase = phaseIdle
	return m, fb
}

// syntheticReport is a plausible pipeline report for ratio r.
func syntheticReport(ratio float64) stages.Report {
	base := int64(524288)
	kept := int64(float64(base) * 0.476)
	quant := int64(float64(base) / ratio * 1.33)
	total := int64(float64(base) / ratio)
	names := stages.StageNames
	bytes := []int64{base, kept, kept, kept, quant, total}
	rep := stages.Report{Method: "nexusquant", BaselineBytes: base, RatioTotal: ratio, RatioPayload: ratio * 1.09,
		RatioResident: ratio * 0.79, PositionEncoding: "gaps+zstd", ScalesEncoding: "zstd",
		Stored: stages.StoredSizes{Codes: total - 6000, Scales: 4000, Positions: 1500, Header: 500}}
	for i, n := range names {
		rep.Stages = append(rep.Stages, stages.StageReport{Name: n, Bytes: bytes[i], RelErrK: 0.1 * float64(i), RelErrV: 0.1 * float64(i), Ms: float64(i + 1)})
	}
	for l := range 4 {
		for h := range 2 {
			rep.Heads = append(rep.Heads, stages.HeadFigures{Layer: l, Head: h, Kept: 101, RelErrK: 0.3 + 0.02*float64(l*2+h), RelErrV: 0.32 + 0.01*float64(l)})
		}
	}
	return rep
}

// syntheticResult is a finished run with fixed figures.
func syntheticResult(s stages.Settings, ratio, dppl float64) *eval.Result {
	rep := syntheticReport(ratio)
	return &eval.Result{Settings: s, Report: rep,
		Metrics: engine.Metrics{PPLBase: 10.7624, PPL: 10.7624 * (1 + dppl/100), DeltaPPLPct: dppl, DeltaPPLCI: [2]float64{dppl - 1.1, dppl + 1.3}, KLD: 0.0031 * (1 + dppl), Top1Agree: 0.953, N: 127},
		Timing:  eval.Timing{Pipeline: 12 * time.Millisecond, Continuation: 380 * time.Millisecond}}
}

// feedRun plays a whole run of s through Update as the Runner would send it.
func feedRun(m *Model, s stages.Settings, ratio, dppl float64) {
	feedResult(m, syntheticResult(s, ratio, dppl))
}

// feedResult plays a whole run with the figures of res.
func feedResult(m *Model, res *eval.Result) {
	s := res.Settings
	m.st.settings = s
	m.submit()
	job := m.st.job
	send := func(ev eval.Event) { m.Update(EventMsg{ev}) }
	for _, st := range res.Report.Stages {
		send(eval.StageDone{JobRef: eval.JobRef{Job: job}, Stage: st})
	}
	send(eval.PipelineDone{JobRef: eval.JobRef{Job: job}, Report: res.Report})
	m.st.cur.keepShare = keepPattern(256, s.EvictionRate)
	send(eval.ContinuationProgress{JobRef: eval.JobRef{Job: job}, Done: 127, Total: 127, NLL: 2.38, BaseNLL: 2.376})
	send(eval.GreedyDone{JobRef: eval.JobRef{Job: job}, Diff: &eval.TextDiff{
		Base: " a person who talks when you wish him to listen.", Compressed: " a person who talks when you wish him to be silent.",
		BasePieces: []string{" a", " person", " who", " talks", " when", " you", " wish", " him", " to", " listen", "."},
		CompPieces: []string{" a", " person", " who", " talks", " when", " you", " wish", " him", " to", " be", " silent", "."},
		FirstDiff:  9}})
	send(eval.Done{JobRef: eval.JobRef{Job: job}, Result: res})
}

// pieces is a fake tokenized prefix of n tokens.
func pieces(n int) []string {
	out := make([]string, n)
	words := []string{" BORE", ",", " n", ".", " A", " person", " who", " talks", " when", " you", " wish", " him", " to", " listen", ".", "\n"}
	for i := range out {
		out[i] = words[i%len(words)]
	}
	out[0] = "<s>"
	return out
}

func keyPress(s string) tea.KeyPressMsg {
	switch s {
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(s)
	if len(r) != 1 {
		panic(fmt.Sprintf("keyPress %q", s))
	}
	return tea.KeyPressMsg{Code: r[0], Text: s}
}

// keepPattern is a deterministic keep set over T tokens: BOS, the last 32,
// and every token whose index hashes under 1−rate.
func keepPattern(T int, rate float64) []float64 {
	out := make([]float64, T)
	for t := range out {
		if t == 0 || t >= T-32 || float64((t*37)%100)/100 >= rate {
			out[t] = 1
		}
	}
	return out
}

// savedSessions is a session of two saved runs (a and b), as the Sessions
// view reads them.
func savedSessions(a, b stages.Settings) []savedSession {
	fig := func(r *eval.Result) sessions.Figures {
		return sessions.Figures{RatioTotal: r.Report.RatioTotal, RatioPayload: r.Report.RatioPayload, RatioResident: r.Report.RatioResident,
			DeltaPPLPct: r.Metrics.DeltaPPLPct, DeltaPPLCI: r.Metrics.DeltaPPLCI, KLD: r.Metrics.KLD, Top1Agree: r.Metrics.Top1Agree}
	}
	t0 := time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC)
	return []savedSession{{Name: "yesterday", Model: "tiny-llama-hd64.Q8_0.gguf", Runs: []savedRun{
		{Session: "yesterday", Index: 1, Time: t0, Settings: a, Fig: fig(syntheticResult(a, 15.9, 1.1))},
		{Session: "yesterday", Index: 2, Time: t0.Add(time.Minute), Settings: b, Fig: fig(syntheticResult(b, 20.7, 2.9))},
	}}}
}
