package tui

import (
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"nexusquant/eval"
	"nexusquant/internal/demo"
)

// TestSoak drives the explorer on the demo model with random key presses
// (a real Runner; events go through Update as in the program) and samples
// the heap and the goroutines. It runs 10 s by default; NEXUSQUANT_SOAK=30m
// runs it for 30 minutes:
//
//	NEXUSQUANT_SOAK=30m go test ./tui -run Soak -v -timeout 40m
//
// Bounds: after a warm-up (one run at each zstd level, which makes the
// process-wide encoders), the live heap may grow by at most 64 MiB and the
// goroutines by at most 8; after Close every goroutine the explorer started
// has ended.
func TestSoak(t *testing.T) {
	dur := 10 * time.Second
	if v := os.Getenv("NEXUSQUANT_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("NEXUSQUANT_SOAK=%q: %v", v, err)
		}
		dur = d
	}
	d, err := demo.Get("")
	if err != nil {
		t.Fatal(err)
	}
	// The engine keeps one pool of helper goroutines for the process: start
	// it before counting, so only what the explorer starts is counted.
	warmModel, err := d.Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := eval.Prepare(context.Background(), warmModel, eval.Input{Source: eval.Source{Kind: "prompt", Text: "A", Continuation: 2}, ObsWindow: 1}, nil); err != nil {
		t.Fatal(err)
	}
	warmModel.Close()
	before := runtime.NumGoroutine()
	r := eval.NewRunner()
	in := eval.Input{Source: eval.Source{Kind: "file", Path: d.TextName, Text: d.Text, Prefix: 256, Continuation: 128, Windows: 1}, ObsWindow: 32}
	m := New(Config{Open: d.Load, Input: in, Settings: balanced(t)}, r)
	m.Init()
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})

	keys := []string{"left", "right", "right", "tab", "shift+tab", "up", "down", "1", "2", "3", "4", "]", "[", "c", "+", "-", "r", "?", "x"}
	rng := rand.New(rand.NewPCG(1, 2))
	pump := func(wait time.Duration) {
		deadline := time.After(wait)
		for {
			select {
			case ev := <-r.Events():
				m.Update(EventMsg{ev})
			case <-deadline:
				return
			}
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	// Warm up: one run at each zstd level, so the process-wide encoders (tens
	// of MiB each, made once) exist before the baseline is taken.
	for _, level := range []string{"fastest", "default", "better", "best"} {
		st := balanced(t)
		st.ZstdLevel = level
		deadline := time.Now().Add(2 * time.Minute)
		for m.ex == nil && m.st.phase != phaseFailed && time.Now().Before(deadline) {
			pump(50 * time.Millisecond)
		}
		m.apply(st, true)
		job := m.st.job
		for (m.st.job != job || m.st.cur.result == nil && m.st.cur.err == "") && m.st.phase != phaseFailed && time.Now().Before(deadline) {
			pump(50 * time.Millisecond)
		}
	}
	start := time.Now()
	baseHeap, baseG := heap(), runtime.NumGoroutine()
	maxHeap, maxG := baseHeap, baseG
	presses, runs := 0, 0
	nextSample := start.Add(max(dur/20, time.Second))
	for time.Since(start) < dur {
		k := keys[rng.IntN(len(keys))]
		m.Update(keyPress(k))
		presses++
		m.View() // draw, as the program does after each message
		pump(time.Duration(20+rng.IntN(200)) * time.Millisecond)
		if time.Now().After(nextSample) {
			h, g := heap(), runtime.NumGoroutine()
			maxHeap, maxG = max(maxHeap, h), max(maxG, g)
			runs = len(m.st.runs)
			nextSample = time.Now().Add(max(dur/20, time.Second))
		}
	}
	pump(2 * time.Second)
	if m.st.phase == phaseFailed {
		t.Fatalf("the explorer failed: %s", m.st.loadErr)
	}
	t.Logf("%s: %d key presses, %d distinct runs charted; live heap %.1f MiB after warm-up, at most %.1f MiB; goroutines %d, at most %d",
		dur, presses, runs, float64(baseHeap)/(1<<20), float64(maxHeap)/(1<<20), baseG, maxG)
	if maxHeap > baseHeap+64<<20 {
		t.Errorf("live heap grew from %.1f MiB to %.1f MiB (bound: +64 MiB)", float64(baseHeap)/(1<<20), float64(maxHeap)/(1<<20))
	}
	if maxG > baseG+8 {
		t.Errorf("goroutines grew from %d to %d (bound: +8)", baseG, maxG)
	}
	r.Close()
	<-waitClosed(r)
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines left after Close (%d before):\n%s", g, before, buf[:runtime.Stack(buf, true)])
	}
}

// waitClosed drains the runner's events until the channel closes.
func waitClosed(r *eval.Runner) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for range r.Events() {
		}
		close(done)
	}()
	return done
}
