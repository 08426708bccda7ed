package tui

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"nexusquant/eval"
	"nexusquant/presets"
	"nexusquant/sessions"
	"nexusquant/stages"
)

func TestInitLoadsOnce(t *testing.T) {
	m, fb := newTestModel(t, 80, 24)
	if len(fb.loads) != 1 {
		t.Fatalf("Init asked for %d loads, want 1", len(fb.loads))
	}
	if m.loadJob != 1 {
		t.Errorf("load job %d, want 1", m.loadJob)
	}
}

func TestKeysMoveFocusAndChangeSettings(t *testing.T) {
	m, _ := newTestModel(t, 80, 24)
	if settingRows[m.st.focus].field != "eviction_rate" {
		t.Fatalf("initial focus on %q, want eviction_rate", settingRows[m.st.focus].field)
	}
	m.Update(keyPress("right"))
	if got := m.st.settings.EvictionRate; got != 0.65 {
		t.Errorf("→ on eviction: rate %v, want 0.65", got)
	}
	if presetName(m.st.settings) != "custom" {
		t.Errorf("preset %q after a change, want custom", presetName(m.st.settings))
	}
	m.Update(keyPress("left"))
	if m.st.settings.EvictionRate != 0.6 || presetName(m.st.settings) != "balanced" {
		t.Errorf("← back: rate %v preset %q, want 0.6 balanced", m.st.settings.EvictionRate, presetName(m.st.settings))
	}
	m.Update(keyPress("tab"))
	if settingRows[m.st.focus].field != "key_bits" {
		t.Errorf("tab: focus %q, want key_bits", settingRows[m.st.focus].field)
	}
	m.Update(keyPress("right"))
	if m.st.settings.KeyBits != 3 {
		t.Errorf("key bits %d, want 3", m.st.settings.KeyBits)
	}
	m.Update(keyPress("shift+tab"))
	m.Update(keyPress("shift+tab"))
	m.Update(keyPress("shift+tab"))
	if settingRows[m.st.focus].field != "preset" {
		t.Errorf("shift+tab ×3: focus %q, want preset", settingRows[m.st.focus].field)
	}
	m.Update(keyPress("shift+tab"))
	if settingRows[m.st.focus].field != "protect_boundary" {
		t.Errorf("shift+tab wraps to the last row, got %q", settingRows[m.st.focus].field)
	}
}

func TestPresetKeys(t *testing.T) {
	cases := []struct {
		key, preset string
		rate        float64
		kb          int
	}{{"1", "high", 0.35, 3}, {"2", "asym", 0.6, 3}, {"3", "balanced", 0.6, 2}, {"4", "max", 0.8, 2}}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			m, _ := newTestModel(t, 80, 24)
			m.Update(keyPress("1")) // from another preset, so every key changes something
			m.Update(keyPress(c.key))
			s := m.st.settings
			if presetName(m.st.settings) != c.preset || s.EvictionRate != c.rate || s.KeyBits != c.kb {
				t.Errorf("key %s: preset %q ρ %v K%d, want %q ρ %v K%d", c.key, presetName(m.st.settings), s.EvictionRate, s.KeyBits, c.preset, c.rate, c.kb)
			}
			if s.ZstdLevel != ExplorerZstdLevel {
				t.Errorf("zstd %q: presets keep the explorer's level %q", s.ZstdLevel, ExplorerZstdLevel)
			}
		})
	}
}

func TestEveryChoiceIsValid(t *testing.T) {
	for _, r := range settingRows {
		for _, v := range r.choices(32) {
			s := stages.DefaultSettings()
			n, _ := set(r, s, v)
			if err := n.Validate(); err != nil {
				t.Errorf("row %s choice %q: %v", r.label, v, err)
			}
			if r.field != "preset" && rowValue(r, n) != v {
				t.Errorf("row %s: set %q reads back %q", r.label, v, rowValue(r, n))
			}
		}
	}
}

func TestStepClampsAndSnaps(t *testing.T) {
	row := settingRows[2] // eviction
	s := stages.DefaultSettings()
	s.EvictionRate = 0.95
	if _, ok := step(row, s, 4, +1); ok {
		t.Error("→ at 0.95 changed something")
	}
	s.EvictionRate = 0.62 // off the grid (a --eviction-rate flag)
	n, ok := step(row, s, 4, +1)
	if !ok || n.EvictionRate != 0.65 {
		t.Errorf("→ from 0.62: %v, want 0.65", n.EvictionRate)
	}
	n, _ = step(row, s, 4, -1)
	if n.EvictionRate != 0.6 {
		t.Errorf("← from 0.62: %v, want 0.6", n.EvictionRate)
	}
}

func TestQuitKeys(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		m, _ := newTestModel(t, 80, 24)
		_, cmd := m.Update(keyPress(k))
		if cmd == nil {
			t.Fatalf("%s: no command", k)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Errorf("%s: command does not quit", k)
		}
	}
}

func TestHelpTogglesAndShowsEveryBinding(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		m, _ := newTestModel(t, sz[0], sz[1])
		m.Update(keyPress("?"))
		s := ansi.Strip(m.render())
		for _, group := range m.keys.FullHelp() {
			for _, b := range group {
				if !strings.Contains(s, b.Help().Desc) {
					t.Errorf("help at %dx%d lacks %q", sz[0], sz[1], b.Help().Desc)
				}
			}
		}
	}
	m, _ := newTestModel(t, 120, 40)
	m.Update(keyPress("?"))
	if !m.st.help {
		t.Fatal("? did not open help")
	}
	s := ansi.Strip(m.render())
	for _, group := range m.keys.FullHelp() {
		for _, b := range group {
			if !strings.Contains(s, b.Help().Desc) {
				t.Errorf("help lacks %q", b.Help().Desc)
			}
		}
	}
	m.Update(keyPress("x"))
	if m.st.help {
		t.Error("a key did not close help")
	}
}

func TestRunEventsFillPanes(t *testing.T) {
	m, fb := newTestModel(t, 80, 24)
	m.st.settings = balanced(t)
	m.submit()
	if len(fb.submits) != 1 {
		t.Fatalf("%d submits", len(fb.submits))
	}
	job := m.st.job
	res := syntheticResult(m.st.settings, 16.8, 1.3)
	m.Update(EventMsg{eval.StageDone{JobRef: eval.JobRef{Job: job}, Stage: res.Report.Stages[0]}})
	if len(m.st.cur.stages) != 1 {
		t.Fatalf("stage not recorded")
	}
	// An older job's events are ignored.
	m.Update(EventMsg{eval.StageDone{JobRef: eval.JobRef{Job: job - 1}, Stage: res.Report.Stages[1]}})
	if len(m.st.cur.stages) != 1 {
		t.Fatalf("an old job's stage was recorded")
	}
	for _, st := range res.Report.Stages[1:] {
		m.Update(EventMsg{eval.StageDone{JobRef: eval.JobRef{Job: job}, Stage: st}})
	}
	s := ansi.Strip(m.render())
	for _, n := range []string{"score", "evict", "rope undo", "hadamard", "quantize", "entropy"} {
		if !strings.Contains(s, n) {
			t.Errorf("memory pane lacks stage %q", n)
		}
	}
	m.Update(EventMsg{eval.PipelineDone{JobRef: eval.JobRef{Job: job}, Report: res.Report}})
	if s := ansi.Strip(m.render()); !strings.Contains(s, "total 16.8×") {
		t.Errorf("ratios missing after the pipeline report:\n%s", s)
	}
	m.Update(EventMsg{eval.Done{JobRef: eval.JobRef{Job: job}, Result: res}})
	if m.st.phase != phaseIdle || len(m.st.runs) != 1 {
		t.Errorf("phase %v runs %d after Done", m.st.phase, len(m.st.runs))
	}
	if s := ansi.Strip(m.render()); !strings.Contains(s, "PPL 10.76") {
		t.Errorf("quality line missing:\n%s", s)
	}
}

func TestLoadFailureIsShown(t *testing.T) {
	m, _ := newTestModel(t, 80, 24)
	m.st.phase = phaseLoading
	m.Update(EventMsg{eval.Failed{JobRef: eval.JobRef{Job: m.loadJob}, Err: errors.New("gguf: /tmp/x.gguf: not a GGUF file (magic \"PK\\x03\\x04\")")}})
	s := screen(t, m)
	if !strings.Contains(s, "Could not open the model") || !strings.Contains(s, "not a GGUF file") {
		t.Errorf("load failure not shown:\n%s", s)
	}
}

func TestTooSmall(t *testing.T) {
	for _, sz := range [][2]int{{79, 24}, {80, 23}, {20, 5}, {1, 1}} {
		m, _ := newTestModel(t, sz[0], sz[1])
		s := ansi.Strip(m.render())
		if !strings.Contains(strings.Join(strings.Fields(s), " "), "needs at least 80×24") && sz[0] >= 20 {
			t.Errorf("%dx%d: no too-small message:\n%s", sz[0], sz[1], s)
		}
	}
}

func TestEveryTabFitsEverySize(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {100, 30}, {120, 40}, {200, 60}} {
		m := sessionModel(t, sz[0], sz[1])
		for tab := range m.tabs() {
			m.st.tab = tab
			screen(t, m)
		}
		m.Update(keyPress("?"))
		screen(t, m)
	}
}

func TestTabKeysAndClicks(t *testing.T) {
	m, _ := newTestModel(t, 80, 24)
	m.Update(keyPress("]"))
	if m.st.tab != 1 {
		t.Errorf("] → tab %d", m.st.tab)
	}
	m.Update(keyPress("["))
	m.Update(keyPress("["))
	if m.st.tab != len(m.tabs())-1 {
		t.Errorf("[ wraps: tab %d", m.st.tab)
	}
	m.Update(tea.MouseClickMsg{X: 2, Y: 1})
	if m.st.tab != 0 {
		t.Errorf("click on Explore: tab %d", m.st.tab)
	}
	m.Update(tea.MouseClickMsg{X: 5, Y: 3 + 5}) // settings row 5: lattice
	if settingRows[m.st.focus].field != "lattice" {
		t.Errorf("click focus %q, want lattice", settingRows[m.st.focus].field)
	}
}

func TestSaveNeedsAFinishedRun(t *testing.T) {
	m, _ := newTestModel(t, 80, 24)
	if _, cmd := m.Update(keyPress("s")); cmd != nil {
		t.Error("s before any run returned a command")
	}
	if !m.st.statusErr || !strings.Contains(m.st.status, "nothing to save") {
		t.Errorf("status %q", m.st.status)
	}
}

func TestExportWritesBothFormats(t *testing.T) {
	dir := t.TempDir()
	m, _ := newTestModel(t, 80, 24)
	m.cfg.Presets = &presets.Store{Dir: dir + "/presets"}
	m.Update(keyPress("4"))
	_, cmd := m.Update(keyPress("e"))
	if cmd == nil {
		t.Fatal("e returned no command")
	}
	msg, ok := cmd().(ExportedMsg)
	if !ok || msg.Err != nil {
		t.Fatalf("export: %#v", msg)
	}
	m.Update(msg)
	for _, p := range []string{msg.FullPath, msg.PyPath} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("exported file: %v", err)
		}
		if !strings.Contains(m.st.status, p) {
			t.Errorf("status %q does not show %s", m.st.status, p)
		}
	}
	p, err := m.cfg.Presets.Find(msg.Name)
	if err != nil || p.Settings != m.st.settings {
		t.Errorf("exported preset reads back %+v, %v", p, err)
	}
}

func TestLoadingProgressInStatus(t *testing.T) {
	m, _ := newTestModel(t, 80, 24)
	m.st.phase = phaseLoading
	m.Update(EventMsg{eval.Prefill{JobRef: eval.JobRef{Job: m.loadJob}, Phase: "prefill", Windows: 1, Done: 2, Total: 4, ElapsedMillis: 350}})
	if s := ansi.Strip(m.render()); !strings.Contains(s, "prefill · layer 2/4 · 350 ms") {
		t.Errorf("status line lacks the prefill progress:\n%s", s)
	}
}

func TestLongNoticeShowsWhole(t *testing.T) {
	m := sessionModel(t, 80, 24)
	py := "~/.config/nexusquant/exports/explorer-e70-k2v2-relaxed-d2de.python.json"
	m.Update(ExportedMsg{Name: "explorer-e70-k2v2-relaxed-d2de", FullPath: "~/.config/nexusquant/presets/explorer-e70-k2v2-relaxed-d2de.json", PyPath: py})
	s := screen(t, m)
	flat := strings.Join(strings.Fields(s), "")
	if !strings.Contains(flat, strings.ReplaceAll(py, " ", "")) {
		t.Errorf("the exported path is not shown whole:\n%s", s)
	}
}

func TestSavePresetPrompt(t *testing.T) {
	dir := t.TempDir()
	m, _ := newTestModel(t, 80, 24)
	m.cfg.Presets = &presets.Store{Dir: dir}
	m.Update(keyPress("4"))
	m.Update(keyPress("p"))
	if !m.prompt.open {
		t.Fatal("p did not open the name prompt")
	}
	if s := ansi.Strip(m.render()); !strings.Contains(s, "save preset as:") {
		t.Errorf("prompt not on screen:\n%s", s)
	}
	m.prompt.input.SetValue("my-max")
	m.Update(keyPress("x")) // keys go to the prompt, not to the explorer
	if m.prompt.input.Value() != "my-maxx" || m.st.tab != 0 {
		t.Fatalf("typed into the prompt: %q", m.prompt.input.Value())
	}
	_, cmd := m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if cmd == nil || m.prompt.open {
		t.Fatal("enter did not save")
	}
	msg, ok := cmd().(PresetSavedMsg)
	if !ok || msg.Err != nil {
		t.Fatalf("save: %#v", msg)
	}
	m.Update(msg)
	p, err := m.cfg.Presets.Find("my-maxx")
	if err != nil || p.Settings != m.st.settings {
		t.Fatalf("saved preset reads back %+v, %v", p, err)
	}
	if !strings.Contains(m.st.status, "--preset my-maxx") {
		t.Errorf("status %q", m.st.status)
	}
	// The same name again: asked, then replaced on a second enter.
	m.Update(keyPress("p"))
	m.prompt.input.SetValue("my-maxx")
	_, cmd = m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	m.Update(cmd())
	if !m.prompt.open || !strings.Contains(ansi.Strip(m.render()), "exists: enter replaces it") {
		t.Fatalf("an existing name was not asked about:\n%s", ansi.Strip(m.render()))
	}
	_, cmd = m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if msg, ok := cmd().(PresetSavedMsg); !ok || msg.Err != nil || msg.Exists {
		t.Fatalf("confirmed overwrite: %#v", msg)
	}
	// A built-in name is refused in place.
	m.Update(keyPress("p"))
	m.prompt.input.SetValue("balanced")
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if !m.prompt.open || !m.st.statusErr {
		t.Error("a built-in name was not refused")
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
	// esc cancels; a bad name is refused in place.
	m.Update(keyPress("p"))
	m.prompt.input.SetValue("a/b")
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if !m.prompt.open || !m.st.statusErr {
		t.Error("a bad name was not refused in the prompt")
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
	if m.prompt.open {
		t.Error("esc did not close the prompt")
	}
	m.Update(keyPress("p"))
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if _, err := os.Stat(dir + "/" + exportName(m.st.settings) + ".json"); err == nil {
		t.Error("enter ran the save in Update, not as a command")
	}
}

func TestSessionsViewReadsMarksAndCompares(t *testing.T) {
	store := &sessions.Store{Dir: t.TempDir()}
	a, b := balanced(t), balanced(t)
	b.EvictionRate = 0.8
	var runs []sessions.Run
	for i, s := range []stages.Settings{a, b} {
		set, _ := json.Marshal(eval.SettingsByFlag(s))
		res, _ := json.Marshal(map[string]any{"ratio_total": 10.0 + float64(i), "delta_ppl_pct": 1.0 + float64(i), "kld": 0.01})
		runs = append(runs, sessions.Run{Time: time.Now(), Settings: set, Result: res})
	}
	if err := store.Save(&sessions.Session{Name: "old", Model: sessions.Model{Path: "/m/tiny.gguf"}, Runs: runs}); err != nil {
		t.Fatal(err)
	}
	m, _ := newTestModel(t, 100, 30)
	m.cfg.Sessions = store
	var cmd tea.Cmd
	for m.tabs()[m.st.tab].name != "Sessions" {
		_, cmd = m.Update(keyPress("]"))
	}
	if cmd == nil {
		t.Fatal("showing the Sessions view did not read the sessions")
	}
	m.Update(cmd())
	if len(m.st.sess.runs()) != 2 {
		t.Fatalf("sessions view has %d runs, want 2 (errors %v)", len(m.st.sess.runs()), m.st.sess.errs)
	}
	if got := m.st.sess.runs()[1].Settings.EvictionRate; got != 0.8 {
		t.Errorf("saved settings read back with rate %v", got)
	}
	focus := m.st.focus
	m.Update(tea.KeyPressMsg{Code: tea.KeySpace, Text: " "})
	m.Update(keyPress("down"))
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if m.st.focus != focus {
		t.Error("↓ in the Sessions view moved the settings focus")
	}
	if len(m.st.sess.comparePoints()) != 2 {
		t.Fatalf("marked %v, want two runs", m.st.sess.marked)
	}
	s := ansi.Strip(m.render())
	if !strings.Contains(s, "differs: eviction_rate 0.6 → 0.8") || !strings.Contains(s, "[2] old #2") {
		t.Errorf("comparison not shown:\n%s", s)
	}
}

func TestPickerChoosesTheModel(t *testing.T) {
	fb := newFake()
	choices := []Choice{
		{Label: "demo: tiny-llama", Detail: "llama · 3.4M · Q8_0", Input: eval.Input{Source: eval.Source{Kind: "file", Path: "demo.txt"}}, SourceName: "demo: demo.txt"},
		{Label: "broken.gguf (here)", Err: "gguf: broken.gguf: magic: not a GGUF file"},
		{Label: "llama3.2:1b (ollama)", Detail: "llama · 1.2B · Q8_0", Input: eval.Input{Source: eval.Source{Kind: "file", Path: "other.txt"}}, SourceName: "demo: other.txt"},
	}
	m := New(Config{Settings: balanced(t), Choices: choices}, fb)
	m.Init()
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	if len(fb.loads) != 0 || !m.picker.open {
		t.Fatalf("with choices, Init loaded %d models (picker open %v)", len(fb.loads), m.picker.open)
	}
	s := screen(t, m)
	for _, c := range choices {
		if !strings.Contains(s, c.Label) {
			t.Errorf("picker lacks %q:\n%s", c.Label, s)
		}
	}
	m.Update(keyPress("down"))
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if len(fb.loads) != 0 || !m.st.statusErr || !strings.Contains(m.st.status, "not a GGUF file") {
		t.Errorf("a broken file was opened or not explained: loads %d, status %q", len(fb.loads), m.st.status)
	}
	m.Update(keyPress("down"))
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if len(fb.loads) != 1 || fb.loads[0].Input.Path != "other.txt" || m.picker.open {
		t.Fatalf("enter did not load the chosen model: %+v", fb.loads)
	}
	if m.st.info.Source != "demo: other.txt" {
		t.Errorf("header source %q", m.st.info.Source)
	}
}

func TestChartOverlaysMarkedSavedRuns(t *testing.T) {
	for _, ownRuns := range []int{0, 1} {
		m, _ := newTestModel(t, 120, 40)
		s := balanced(t)
		mx, _ := applyPreset(s, "max")
		if ownRuns == 1 {
			feedRun(m, s, 16.8, 1.3)
		}
		m.Update(SessionsMsg{List: savedSessions(s, mx)})
		m.st.sess.marked = []runKey{{"yesterday", 1}, {"yesterday", 2}}
		lines := qualityChart(&m.st, m.sty, 100, 20)
		out := ansi.Strip(strings.Join(lines, "\n"))
		if n := strings.Count(out, "◆"); n != 3 { // two points and the legend
			t.Errorf("%d own runs: %d ◆ in the chart, want 2 points + legend:\n%s", ownRuns, n, out)
		}
		if got := strings.Count(out, "●"); got != 2*ownRuns { // the current run and its legend
			t.Errorf("%d own runs: %d ●:\n%s", ownRuns, got, out)
		}
	}
}
