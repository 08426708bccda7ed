package tui

import (
	"os"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"nexusquant/engine"
	"nexusquant/eval"
	"nexusquant/internal/demo"
	"nexusquant/internal/testfiles"
)

// BenchmarkKeyToPanes measures what a user feels: from a key press that
// changes the eviction rate to (1) the memory pane showing the new run's
// pipeline report and (2) the quality line showing its final figures. The
// explorer runs on a real eval.Runner; events go through Update as in the
// program. The key walks the eviction rate up and down 0.05…0.95, so most
// presses re-run evict onward (the pipeline's memo serves recent values).
//
//	go test ./tui -run '^$' -bench KeyToPanes -benchtime 20x
func BenchmarkKeyToPanes(b *testing.B) {
	cases := []struct {
		name string
		open func(b *testing.B) (func() (*engine.Model, error), eval.Input)
	}{
		{"demo", func(b *testing.B) (func() (*engine.Model, error), eval.Input) {
			d, err := demo.Get("")
			if err != nil {
				b.Fatal(err)
			}
			return d.Load, eval.Input{Source: eval.Source{Kind: "file", Path: d.TextName, Text: d.Text, Prefix: 256, Continuation: 128, Windows: 1}, ObsWindow: 32}
		}},
		{"syn-llama.Q8_0-prefix1024", func(b *testing.B) (func() (*engine.Model, error), eval.Input) {
			path := testfiles.Path(b, "models/syn-llama.Q8_0.gguf")
			text, err := os.ReadFile(testfiles.Path(b, "text/tinystories-sample.txt"))
			if err != nil {
				b.Fatal(err)
			}
			return func() (*engine.Model, error) { return engine.Load(path) },
				eval.Input{Source: eval.Source{Kind: "file", Path: "tinystories-sample.txt", Text: string(text), Prefix: 1024, Continuation: 128, Windows: 1}, ObsWindow: 32}
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			open, in := c.open(b)
			r := eval.NewRunner()
			defer r.Close()
			m := New(Config{Open: open, Input: in, Settings: balanced(b)}, r)
			m.Init()
			m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
			pump := func(until func() bool) {
				for !until() {
					select {
					case ev := <-r.Events():
						m.Update(EventMsg{ev})
					case <-time.After(5 * time.Minute):
						b.Fatal("no event in 5 minutes")
					}
				}
			}
			pump(func() bool { return m.st.phase == phaseFailed || m.st.cur.result != nil })
			if m.st.phase == phaseFailed {
				b.Fatal(m.st.loadErr)
			}
			var memory, quality time.Duration
			dir := "right"
			b.ResetTimer()
			for range b.N {
				if m.st.settings.EvictionRate >= 0.95 {
					dir = "left"
				} else if m.st.settings.EvictionRate <= 0.05 {
					dir = "right"
				}
				t0 := time.Now()
				m.Update(keyPress(dir))
				job := m.st.job
				pump(func() bool { return m.st.job == job && m.st.cur.report != nil })
				memory += time.Since(t0)
				pump(func() bool { return m.st.job == job && (m.st.cur.result != nil || m.st.cur.err != "") })
				quality += time.Since(t0)
				if m.st.cur.err != "" {
					b.Fatal(m.st.cur.err)
				}
			}
			b.ReportMetric(float64(memory.Microseconds())/1000/float64(b.N), "ms/memory-pane")
			b.ReportMetric(float64(quality.Microseconds())/1000/float64(b.N), "ms/quality-line")
		})
	}
}
