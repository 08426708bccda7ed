package eval

import (
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"nexusquant/engine"
	"nexusquant/internal/demo"
	"nexusquant/stages"
)

// demoLoad is a load job on the embedded tiny-llama demo, 128+64 tokens.
func demoLoad(t *testing.T) LoadSpec {
	t.Helper()
	d, err := demo.Get("")
	if err != nil {
		t.Fatal(err)
	}
	return LoadSpec{Open: d.Load, Input: Input{Source: Source{Kind: "file", Path: d.TextName, Text: d.Text, Prefix: 128, Continuation: 64, Windows: 1}, ObsWindow: 32}, Seed: 1}
}

// collect reads events until job id ends (or 60 s pass).
func collect(t *testing.T, r *Runner, id uint64) []Event {
	t.Helper()
	var out []Event
	timeout := time.After(60 * time.Second)
	for {
		select {
		case ev, ok := <-r.Events():
			if !ok {
				t.Fatalf("events closed before job %d ended", id)
			}
			out = append(out, ev)
			if ev.JobID() == id && terminal(ev) {
				return out
			}
		case <-timeout:
			t.Fatalf("job %d did not end in 60 s; got %d events", id, len(out))
		}
	}
}

func ofJob(evs []Event, id uint64) []Event {
	var out []Event
	for _, e := range evs {
		if e.JobID() == id {
			out = append(out, e)
		}
	}
	return out
}

func TestRunnerLoadAndRun(t *testing.T) {
	r := NewRunner()
	defer r.Close()
	id := r.Load(demoLoad(t))
	evs := collect(t, r, id)
	last := evs[len(evs)-1]
	ld, ok := last.(Loaded)
	if !ok {
		t.Fatalf("load ended with %#v", last)
	}
	if ld.Explorer.Prefix != 128 || ld.Source.Continuation != 64 {
		t.Errorf("explorer prefix %d continuation %d", ld.Explorer.Prefix, ld.Source.Continuation)
	}
	var sawPrefill bool
	for _, e := range evs {
		if _, ok := e.(Prefill); ok {
			sawPrefill = true
		}
	}
	if !sawPrefill {
		t.Error("no Prefill progress during the load")
	}

	s := stages.DefaultSettings()
	s.ZstdLevel = "fastest"
	id = r.Submit(s, RunOptions{Greedy: true})
	evs = ofJob(collect(t, r, id), id)
	// Order: six StageDone, PipelineDone, ContinuationProgress…, WindowDone, Scored, GreedyDone, Done.
	var names []string
	i := 0
	for ; i < len(evs); i++ {
		sd, ok := evs[i].(StageDone)
		if !ok {
			break
		}
		names = append(names, sd.Stage.Name)
	}
	if len(names) != 6 || names[0] != stages.StageScore || names[5] != stages.StageEntropy {
		t.Fatalf("stage events %v", names)
	}
	pd, ok := evs[i].(PipelineDone)
	if !ok {
		t.Fatalf("after the stages: %#v", evs[i])
	}
	if pd.Report.RatioTotal <= 1 || pd.Packed == nil {
		t.Errorf("pipeline report ratio %v packed %v", pd.Report.RatioTotal, pd.Packed)
	}
	var prog []ContinuationProgress
	var greedy *TextDiff
	for _, e := range evs[i+1:] {
		switch e := e.(type) {
		case ContinuationProgress:
			prog = append(prog, e)
		case GreedyDone:
			greedy = e.Diff
		}
	}
	if len(prog) == 0 || prog[len(prog)-1].Done != prog[len(prog)-1].Total || prog[len(prog)-1].Total != 63 {
		t.Errorf("continuation progress %+v", prog)
	}
	done, ok := evs[len(evs)-1].(Done)
	if !ok {
		t.Fatalf("run ended with %#v", evs[len(evs)-1])
	}
	if greedy == nil || len(greedy.BaseIDs) == 0 || len(greedy.CompIDs) == 0 {
		t.Errorf("greedy diff %+v", greedy)
	}
	// The streamed NLL over all tokens is the run's: exp(nll−base) − 1 = ΔPPL.
	p := prog[len(prog)-1]
	m := done.Result.Metrics
	if got := 100 * (math.Expm1(p.NLL - p.BaseNLL)); math.Abs(got-m.DeltaPPLPct) > 1e-6*max(1, math.Abs(m.DeltaPPLPct)) {
		t.Errorf("streamed ΔPPL %v, result %v", got, m.DeltaPPLPct)
	}

	// The same settings again: every stage comes from the memo.
	id = r.Submit(s, RunOptions{})
	for _, e := range ofJob(collect(t, r, id), id) {
		if sd, ok := e.(StageDone); ok && !sd.Stage.Cached {
			t.Errorf("stage %s re-ran for unchanged settings", sd.Stage.Name)
		}
	}
}

func TestRunnerNewestWins(t *testing.T) {
	r := NewRunner()
	defer r.Close()
	collect(t, r, r.Load(demoLoad(t)))
	s := stages.DefaultSettings()
	s.ZstdLevel = "fastest"
	var ids []uint64
	for _, rate := range []float64{0.1, 0.2, 0.3, 0.4} {
		s.EvictionRate = rate
		ids = append(ids, r.Submit(s, RunOptions{}))
	}
	evs := collect(t, r, ids[3])
	ends := map[uint64]Event{}
	for _, e := range evs {
		if terminal(e) {
			ends[e.JobID()] = e
		}
	}
	for _, id := range ids[:3] {
		switch ends[id].(type) {
		case Cancelled, Done: // a job may finish before the next cancels it
		default:
			t.Errorf("job %d ended with %#v", id, ends[id])
		}
	}
	d, ok := ends[ids[3]].(Done)
	if !ok {
		t.Fatalf("newest job ended with %#v", ends[ids[3]])
	}
	if d.Result.Settings.EvictionRate != 0.4 {
		t.Errorf("newest result has rate %v", d.Result.Settings.EvictionRate)
	}
	cancelled := 0
	for _, id := range ids[1:3] { // the middle ones were replaced before starting
		if _, ok := ends[id].(Cancelled); ok {
			cancelled++
		}
	}
	if cancelled == 0 {
		t.Error("no superseded job was cancelled")
	}
}

func TestRunnerFailures(t *testing.T) {
	r := NewRunner()
	defer r.Close()
	id := r.Submit(stages.DefaultSettings(), RunOptions{})
	if f, ok := collect(t, r, id)[0].(Failed); !ok || f.Err == nil {
		t.Errorf("run before load: want Failed")
	}
	want := errors.New("model /x.gguf: no such file")
	id = r.Load(LoadSpec{Open: func() (*engine.Model, error) { return nil, want }})
	evs := collect(t, r, id)
	if f, ok := evs[len(evs)-1].(Failed); !ok || !errors.Is(f.Err, want) {
		t.Errorf("failed load ended with %#v", evs[len(evs)-1])
	}
	spec := demoLoad(t)
	spec.Input.Prefix = 4000 // longer than the context
	evs = collect(t, r, r.Load(spec))
	if f, ok := evs[len(evs)-1].(Failed); !ok || f.Err == nil {
		t.Errorf("a prefix beyond the context ended with %#v", evs[len(evs)-1])
	}
}

func TestRunnerCoalescesProgress(t *testing.T) {
	r := &Runner{}
	r.wake = sync.NewCond(&r.mu)
	for i := range 5 {
		r.emitLocked(ContinuationProgress{JobRef: JobRef{1}, Done: i})
	}
	r.emitLocked(StageDone{JobRef: JobRef{1}})
	r.emitLocked(StageDone{JobRef: JobRef{1}})
	r.emitLocked(Prefill{JobRef: JobRef{1}, Done: 1})
	r.emitLocked(Prefill{JobRef: JobRef{2}, Done: 2}) // another job: kept
	r.emitLocked(Done{JobRef: JobRef{2}})
	if len(r.queue) != 6 {
		t.Fatalf("queue %d events, want 6: %#v", len(r.queue), r.queue)
	}
	if p := r.queue[0].(ContinuationProgress); p.Done != 4 {
		t.Errorf("coalesced progress kept Done %d, want the newest (4)", p.Done)
	}
}

func TestRunnerCloseClosesEvents(t *testing.T) {
	r := NewRunner()
	r.Load(demoLoad(t))
	r.Close()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case _, ok := <-r.Events():
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("Events not closed after Close")
		}
	}
}

func TestRunnerCancelThenRunAgain(t *testing.T) {
	r := NewRunner()
	defer r.Close()
	collect(t, r, r.Load(demoLoad(t)))
	s := stages.DefaultSettings()
	s.ZstdLevel = "fastest"
	id := r.Submit(s, RunOptions{})
	r.Cancel()
	evs := collect(t, r, id)
	switch evs[len(evs)-1].(type) {
	case Cancelled, Done: // Done when it finished before Cancel
	default:
		t.Errorf("cancelled job ended with %#v", evs[len(evs)-1])
	}
	id = r.Submit(s, RunOptions{})
	evs = collect(t, r, id)
	if _, ok := evs[len(evs)-1].(Done); !ok {
		t.Errorf("a run after Cancel ended with %#v", evs[len(evs)-1])
	}
}
