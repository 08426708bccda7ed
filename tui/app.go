package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"nexusquant/engine"
	"nexusquant/eval"
	"nexusquant/presets"
	"nexusquant/sessions"
	"nexusquant/stages"
)

// Config is what the explorer opens on.
type Config struct {
	// Open loads the model; the backend owns what it returns.
	Open func() (*engine.Model, error)
	// Input is the text or prompt (eval.Prepare).
	Input eval.Input
	// SourceName describes the text in the header ("demo: …", a file name, "prompt").
	SourceName string
	// Settings are the first run's; Device describes where the model runs.
	Settings stages.Settings
	Device   string
	// Shape, when set, is the model the capacity pane describes (--shape-of);
	// else the loaded model. Budget is the capacity pane's memory budget.
	Shape  *engine.Shape
	Budget int64
	// Session names the session `s` saves runs to; Sessions and Presets are
	// where sessions and exported presets go (nil: saving says why not).
	Session  string
	Sessions *sessions.Store
	Presets  *presets.Store
	// Seed of the paired bootstrap.
	Seed int64
	// Choices, when not empty, are offered in a picker before anything is
	// loaded (models found on disk, and the demos); Open and Input are then
	// the chosen one's.
	Choices []Choice
}

// Model is the explorer's root Bubble Tea model. It handles global keys,
// resizing and backend events, and draws the panes of the active view.
type Model struct {
	cfg     Config
	be      backend
	st      state
	sty     *Styles
	keys    *KeyMap
	width   int
	height  int
	loadJob uint64
	ex      *eval.Explorer
	src     *eval.Source
	prompt  namePrompt
	picker  pickerState
}

// New returns the explorer over backend be (usually an eval.Runner).
func New(cfg Config, be backend) *Model {
	if cfg.Budget <= 0 {
		cfg.Budget = eval.DefaultBudget
	}
	m := &Model{cfg: cfg, be: be, sty: DefaultStyles(true), keys: DefaultKeyMap()}
	m.st.settings = cfg.Settings
	m.st.budget = cfg.Budget
	m.st.shape = cfg.Shape
	m.st.info.Source = cfg.SourceName
	m.st.info.Device = cfg.Device
	m.st.session = cfg.Session
	m.st.focus = 2 // eviction
	return m
}

// Init starts listening to the backend and loading the model, or opens the
// picker when there are choices.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{waitEvent(m.be.Events()), tick()}
	m.st.phase = phaseLoading
	if len(m.cfg.Choices) > 0 {
		m.picker.open = true
		return tea.Batch(cmds...)
	}
	m.load()
	return tea.Batch(cmds...)
}

// load starts the load job of the configured model and input (the backend
// never blocks).
func (m *Model) load() {
	m.loadJob = m.be.Load(eval.LoadSpec{Open: m.cfg.Open, Input: m.cfg.Input, Seed: m.cfg.Seed})
	m.st.phase = phaseLoading
}

// Update handles one message. It does no I/O: saving, exporting and model
// work are commands or backend jobs.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case tea.KeyPressMsg:
		return m, m.onKey(msg)
	case tea.MouseClickMsg:
		return m, m.onClick(msg.Mouse())
	case EventMsg:
		cmd := m.onEvent(msg.Event)
		return m, tea.Batch(cmd, waitEvent(m.be.Events()))
	case eventsClosedMsg:
		return m, nil
	case tickMsg:
		m.st.spin++
		return m, tick()
	case loadedInfoMsg:
		if msg.job == m.loadJob {
			src, dev := m.st.info.Source, m.st.info.Device
			m.st.info = msg.info
			m.st.info.Source, m.st.info.Device = src, dev
			m.st.pieces = msg.pieces
			if m.st.shape == nil {
				sh := msg.shape
				m.st.shape = &sh
			}
		}
		return m, nil
	case SavedMsg:
		if msg.Err != nil {
			m.notify(true, "could not save: %v", msg.Err)
		} else {
			m.st.cur.saved = true
			m.notify(false, "saved run %d to session %s (%s)", msg.Runs, msg.Session, msg.Path)
			if m.st.sess.loaded {
				return m, loadSessions(m.cfg.Sessions)
			}
		}
		return m, nil
	case SessionsMsg:
		m.st.sess.loaded, m.st.sess.list, m.st.sess.errs = true, msg.List, msg.Errs
		m.st.sess.move(0)
		return m, nil
	case PresetSavedMsg:
		if msg.Exists { // ask again: enter overwrites
			cmd := m.openPresetPrompt()
			m.prompt.input.SetValue(msg.Name)
			m.prompt.input.CursorEnd()
			m.prompt.overwrite = msg.Name
			m.notify(true, "%s exists: enter replaces it, esc keeps it", msg.Name)
			return m, cmd
		}
		if msg.Err != nil {
			m.notify(true, "could not save preset %s: %v", msg.Name, msg.Err)
		} else {
			m.notify(false, "saved preset %s → %s (use it with --preset %s)", msg.Name, msg.Path, msg.Name)
		}
		return m, nil
	case ExportedMsg:
		if msg.Err != nil {
			m.notify(true, "could not export %s: %v", msg.Name, msg.Err)
		} else {
			m.notify(false, "exported %s → %s + %s", msg.Name, msg.FullPath, msg.PyPath)
		}
		return m, nil
	}
	return m, nil
}

func (m *Model) notify(isErr bool, format string, args ...any) {
	m.st.status = fmt.Sprintf(format, args...)
	m.st.statusErr = isErr
}

// showTab switches to tab i (modulo the tabs); the Sessions view reads the
// saved sessions when it is first shown.
func (m *Model) showTab(i int) tea.Cmd {
	m.st.tab = i % len(m.tabs())
	if m.onSessionsTab() && !m.st.sess.loaded {
		return loadSessions(m.cfg.Sessions)
	}
	return nil
}

func (m *Model) onSessionsTab() bool { return m.tabs()[m.st.tab%len(m.tabs())].name == "Sessions" }

// onClick focuses a clicked setting or switches to a clicked tab.
func (m *Model) onClick(ms tea.Mouse) tea.Cmd {
	switch {
	case ms.Y == 1: // the tab bar
		x := 1
		for i, t := range m.tabs() {
			wd := len([]rune(t.name)) + 2
			if ms.X >= x && ms.X < x+wd {
				return m.showTab(i)
			}
			x += wd + 1
		}
	case m.st.tab == 0 && !m.st.help && ms.X < settingsWidth(m.width):
		row := ms.Y - 3 // header, tab bar, top border
		if row >= 0 && row < len(m.st.rows()) {
			if row == m.st.focus {
				m.change(+1) // a click on the focused row steps it
			}
			m.st.focus = row
		}
	}
	return nil
}

// onKey handles a key press.
func (m *Model) onKey(k tea.KeyPressMsg) tea.Cmd {
	km := m.keys
	if m.prompt.open {
		return m.onPromptKey(k)
	}
	if m.picker.open {
		return m.onPickerKey(k)
	}
	if m.st.help {
		if key.Matches(k, km.Quit) {
			return tea.Quit
		}
		m.st.help = false // any other key closes the help
		return nil
	}
	switch {
	case key.Matches(k, km.Quit):
		return tea.Quit
	case key.Matches(k, km.Help):
		m.st.help = true
	case m.onSessionsTab() && key.Matches(k, km.Up, km.Down, km.Mark):
		switch {
		case key.Matches(k, km.Up):
			m.st.sess.move(-1)
		case key.Matches(k, km.Down):
			m.st.sess.move(+1)
		default:
			m.st.sess.toggle()
		}
	case key.Matches(k, km.Next, km.Down):
		m.st.focus = (m.st.focus + 1) % len(m.st.rows())
	case key.Matches(k, km.Prev, km.Up):
		m.st.focus = (m.st.focus + len(m.st.rows()) - 1) % len(m.st.rows())
	case key.Matches(k, km.Inc):
		m.change(+1)
	case key.Matches(k, km.Dec):
		m.change(-1)
	case key.Matches(k, km.Preset1, km.Preset2, km.Preset3, km.Preset4):
		name := presetKeys[strings.IndexByte("1234", k.String()[0])]
		if s, ok := applyPreset(m.st.settings, name); ok {
			m.apply(s, false)
		}
	case key.Matches(k, km.Rerun):
		m.apply(m.st.settings, true)
	case key.Matches(k, km.NextTab):
		return m.showTab(m.st.tab + 1)
	case key.Matches(k, km.PrevTab):
		return m.showTab(m.st.tab + len(m.tabs()) - 1)
	case key.Matches(k, km.ChartMetric):
		m.st.chartKLD = !m.st.chartKLD
	case key.Matches(k, km.BudgetUp):
		m.st.budget += 1_000_000_000
	case key.Matches(k, km.BudgetDn):
		m.st.budget = max(m.st.budget-1_000_000_000, 1_000_000_000)
	case key.Matches(k, km.Save):
		return m.save()
	case key.Matches(k, km.Export):
		return exportPreset(m.cfg.Presets, m.st.settings)
	case key.Matches(k, km.SavePreset):
		return m.openPresetPrompt()
	}
	return nil
}

// change steps the focused setting.
func (m *Model) change(delta int) {
	s, ok := step(m.st.focusedRow(), m.st.settings, m.layers(), delta)
	if ok {
		m.apply(s, false)
	}
}

func (m *Model) layers() int {
	if m.ex != nil {
		return m.ex.Model.Config.Layers
	}
	return 0
}

// apply makes s the current settings and starts a run (newest wins), unless
// nothing changed and force is false.
func (m *Model) apply(s stages.Settings, force bool) {
	if s == m.st.settings && !force {
		return
	}
	m.st.settings = s
	if m.ex == nil { // still loading: the first run uses these settings
		return
	}
	if err := m.ex.Check(s); err != nil {
		m.notify(true, "%v", err)
		return
	}
	m.submit()
}

// submit starts a run of the current settings.
func (m *Model) submit() {
	if m.st.cur.report != nil {
		prev := m.st.cur
		m.st.prev = &prev
	}
	m.st.cur = run{settings: m.st.settings}
	m.st.job = m.be.Submit(m.st.settings, eval.RunOptions{Greedy: true})
	m.st.phase = phaseRunning
	m.st.status, m.st.statusErr = "", false
}

// save appends the finished run to the session.
func (m *Model) save() tea.Cmd {
	if m.st.cur.result == nil || m.ex == nil {
		m.notify(true, "nothing to save yet: wait for the run to finish")
		return nil
	}
	return saveRun(m.cfg.Sessions, m.cfg.Session, m.ex, m.src, m.st.cur.result, m.st.cur.diff)
}

// onEvent folds one backend event into the state.
func (m *Model) onEvent(ev eval.Event) tea.Cmd {
	if ev.JobID() == m.loadJob {
		switch e := ev.(type) {
		case eval.Prefill:
			m.st.prefill = e
		case eval.Loaded:
			m.ex, m.src = e.Explorer, e.Source
			m.st.info.Prefix, m.st.info.Continuation, m.st.info.Windows = e.Source.Prefix, e.Source.Continuation, e.Source.Windows
			m.st.info.SlidingLayers, m.st.info.SlidingWindow = slidingLayers(e.Explorer.Model.Config)
			if err := m.ex.Check(m.st.settings); err != nil {
				m.st.phase = phaseIdle
				m.notify(true, "%v", err)
			} else {
				m.submit()
			}
			return loadedInfo(m.loadJob, e.Explorer, e.Source, m.st.info.Source, m.st.info.Device)
		case eval.Failed:
			m.st.phase = phaseFailed
			m.st.loadErr = e.Err.Error()
		}
		return nil
	}
	if ev.JobID() != m.st.job {
		return nil // an older run's events
	}
	cur := &m.st.cur
	switch e := ev.(type) {
	case eval.StageDone:
		if e.Window == 0 {
			cur.stages = append(cur.stages, e.Stage)
		}
	case eval.PipelineDone:
		if e.Window == 0 {
			rep := e.Report
			cur.report = &rep
			cur.keepShare, cur.heads = windowViews(&rep, e.Packed)
		}
	case eval.ContinuationProgress:
		cur.contDone, cur.contTot, cur.nll, cur.baseNLL = e.Done, e.Total, e.NLL, e.BaseNLL
		cur.contWindow = e.Window
	case eval.GreedyDone:
		cur.diff = e.Diff
	case eval.Scored:
		m.scored(e.Result)
	case eval.Done:
		if cur.result == nil {
			m.scored(e.Result)
		}
		m.st.phase = phaseIdle
	case eval.Failed:
		cur.err = e.Err.Error()
		m.st.phase = phaseIdle
		m.notify(true, "run failed: %v", e.Err)
	}
	return nil
}

// scored records a run's final figures.
func (m *Model) scored(r *eval.Result) {
	m.st.cur.result = r
	sum := r.Report
	m.st.cur.report = &sum
	m.addPoint(r)
}

// addPoint records a finished run for the quality chart; a run of settings
// already plotted replaces its point.
func (m *Model) addPoint(r *eval.Result) {
	p := runPoint{settings: r.Settings, ratioTotal: r.Report.RatioTotal, deltaPPL: r.Metrics.DeltaPPLPct, kld: r.Metrics.KLD, job: m.st.job}
	for i := range m.st.runs {
		if m.st.runs[i].settings == p.settings {
			m.st.runs[i] = p
			return
		}
	}
	m.st.runs = append(m.st.runs, p)
}
