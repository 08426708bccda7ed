package tui

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"nexusquant/sessions"
	"nexusquant/stages"
)

// sessionsState is the Sessions view: the saved sessions and their runs, a
// cursor over the runs, and up to two runs marked for comparison (shown side
// by side and overlaid on the quality chart).
type sessionsState struct {
	loaded bool
	errs   []string // files that could not be read, named
	list   []savedSession
	cursor int      // index into runs()
	marked []runKey // at most two, oldest first
}

// savedSession is one session file as the view needs it.
type savedSession struct {
	Name, Model string
	Runs        []savedRun
}

// savedRun is one run of a saved session.
type savedRun struct {
	Session  string
	Index    int // 1-based, as `sessions show` numbers runs
	Time     time.Time
	Settings stages.Settings
	Fig      sessions.Figures
}

// runKey names a run of a session.
type runKey struct {
	session string
	index   int
}

func (r savedRun) key() runKey { return runKey{r.Session, r.Index} }

// runs is every run of every session, in list order.
func (s *sessionsState) runs() []savedRun {
	var out []savedRun
	for _, ss := range s.list {
		out = append(out, ss.Runs...)
	}
	return out
}

// markedRuns are the marked runs that still exist.
func (s *sessionsState) markedRuns() []savedRun {
	var out []savedRun
	for _, k := range s.marked {
		for _, r := range s.runs() {
			if r.key() == k {
				out = append(out, r)
			}
		}
	}
	return out
}

// move moves the cursor by d runs.
func (s *sessionsState) move(d int) {
	n := len(s.runs())
	if n == 0 {
		return
	}
	s.cursor = min(max(s.cursor+d, 0), n-1)
}

// toggle marks or unmarks the run under the cursor; a third mark replaces
// the oldest.
func (s *sessionsState) toggle() {
	rs := s.runs()
	if s.cursor >= len(rs) {
		return
	}
	k := rs[s.cursor].key()
	if i := slices.Index(s.marked, k); i >= 0 {
		s.marked = slices.Delete(s.marked, i, i+1)
		return
	}
	s.marked = append(s.marked, k)
	if len(s.marked) > 2 {
		s.marked = s.marked[1:]
	}
}

// comparePoints are the marked runs as chart points.
func (s *sessionsState) comparePoints() []runPoint {
	var out []runPoint
	for _, r := range s.markedRuns() {
		out = append(out, runPoint{settings: r.Settings, ratioTotal: r.Fig.RatioTotal, deltaPPL: r.Fig.DeltaPPLPct, kld: r.Fig.KLD})
	}
	return out
}

// SessionsMsg carries the saved sessions, read by a command.
type SessionsMsg struct {
	List []savedSession
	Errs []string
}

// loadSessions reads every session (file I/O: a command).
func loadSessions(store *sessions.Store) tea.Cmd {
	return func() tea.Msg {
		if store == nil {
			return SessionsMsg{Errs: []string{errNoFolder("session").Error()}}
		}
		list, errs := store.List()
		msg := SessionsMsg{}
		for _, e := range errs {
			msg.Errs = append(msg.Errs, e.Error())
		}
		for _, s := range list {
			ss := savedSession{Name: s.Name, Model: filepath.Base(s.Model.Path)}
			for i := range s.Runs {
				r := &s.Runs[i]
				fig, err := r.Figures()
				if err != nil {
					msg.Errs = append(msg.Errs, fmt.Sprintf("session %s run %d: %v", s.Name, i+1, err))
					continue
				}
				ss.Runs = append(ss.Runs, savedRun{Session: s.Name, Index: i + 1, Time: r.Time, Settings: settingsOf(r.SettingsMap()), Fig: fig})
			}
			msg.List = append(msg.List, ss)
		}
		return msg
	}
}

// settingsOf reads a run's saved settings (keys are setting or flag names)
// over the defaults; keys it does not know are skipped.
func settingsOf(m map[string]any) stages.Settings {
	s := stages.DefaultSettings()
	for k, v := range m {
		_ = s.Set(k, fmt.Sprint(v))
	}
	return s
}

// sessionsPane lists the sessions and their runs and compares the marked
// runs side by side.
type sessionsPane struct{}

func (sessionsPane) Title() string { return "Sessions" }

func (sessionsPane) Render(st *state, sty *Styles, w, h int) string {
	ss := &st.sess
	if !ss.loaded {
		return sty.Dim.Render("reading the saved sessions…")
	}
	var lines []string
	for _, e := range ss.errs {
		lines = append(lines, sty.Warn.Render("! "+e))
	}
	if len(ss.list) == 0 {
		lines = append(lines, sty.Dim.Render("no saved sessions yet: press s after a run to save it (to session "+st.session+")"))
		return strings.Join(lines, "\n")
	}
	cmp := compareLines(ss.markedRuns(), sty, w)
	listH := max(h-len(lines)-len(cmp)-1, 3)
	var rows []string
	cursorRow := 0
	i := 0
	for _, s := range ss.list {
		rows = append(rows, sty.Title.Render(s.Name)+sty.Dim.Render(fmt.Sprintf(" · %s · %d runs", s.Model, len(s.Runs))))
		for _, r := range s.Runs {
			mark := "   "
			if j := slices.Index(ss.marked, r.key()); j >= 0 {
				mark = sty.Mark.Render(fmt.Sprintf("[%d]", j+1))
			}
			line := fmt.Sprintf("%s %3d  %-28s %8s  ΔPPL %+6.2f%%  KLD %.4f", mark, r.Index, describeRun(r.Settings), timesNum(r.Fig.RatioTotal), r.Fig.DeltaPPLPct, r.Fig.KLD)
			if i == ss.cursor {
				line = sty.Focused.Render("▸") + line
				cursorRow = len(rows)
			} else {
				line = " " + line
			}
			rows = append(rows, line)
			i++
		}
	}
	start := min(max(cursorRow-listH/2, 0), max(len(rows)-listH, 0))
	lines = append(lines, rows[start:min(len(rows), start+listH)]...)
	lines = append(lines, "")
	lines = append(lines, cmp...)
	return strings.Join(lines, "\n")
}

// compareLines set two marked runs side by side: figures and the settings
// that differ.
func compareLines(rs []savedRun, sty *Styles, w int) []string {
	switch len(rs) {
	case 0:
		return []string{sty.Dim.Render("↑/↓ choose a run · space marks it · mark two to compare them (they also show on the quality chart as ◆)")}
	case 1:
		return []string{sty.Dim.Render(fmt.Sprintf("[1] %s run %d marked · mark a second run to compare", rs[0].Session, rs[0].Index))}
	}
	a, b := rs[0], rs[1]
	colW := max((w-17)/2, 12)
	row := func(label, x, y string) string {
		return fmt.Sprintf("%-14s %s  %s", label, padRight(x, colW), padRight(y, colW))
	}
	f := func(r savedRun) sessions.Figures { return r.Fig }
	out := []string{
		row("", sty.Mark.Render(fmt.Sprintf("[1] %s #%d", a.Session, a.Index)), sty.Mark.Render(fmt.Sprintf("[2] %s #%d", b.Session, b.Index))),
		row("settings", describeRun(a.Settings), describeRun(b.Settings)),
		row("ratio total", timesNum(f(a).RatioTotal), timesNum(f(b).RatioTotal)),
		row("payload/res.", timesNum(f(a).RatioPayload)+" / "+timesNum(f(a).RatioResident), timesNum(f(b).RatioPayload)+" / "+timesNum(f(b).RatioResident)),
		row("ΔPPL [95%]", fmt.Sprintf("%+.2f%% [%+.2f, %+.2f]", f(a).DeltaPPLPct, f(a).DeltaPPLCI[0], f(a).DeltaPPLCI[1]), fmt.Sprintf("%+.2f%% [%+.2f, %+.2f]", f(b).DeltaPPLPct, f(b).DeltaPPLCI[0], f(b).DeltaPPLCI[1])),
		row("KLD · top-1", fmt.Sprintf("%.4f · %.1f%%", f(a).KLD, 100*f(a).Top1Agree), fmt.Sprintf("%.4f · %.1f%%", f(b).KLD, 100*f(b).Top1Agree)),
	}
	var diff []string
	for _, fd := range stages.Fields() {
		va, _ := a.Settings.Get(fd.Name)
		vb, _ := b.Settings.Get(fd.Name)
		if va != vb {
			diff = append(diff, fmt.Sprintf("%s %s → %s", fd.Name, va, vb))
		}
	}
	if len(diff) == 0 {
		diff = []string{"same settings"}
	}
	out = append(out, wrap(sty.Dim.Render("differs: ")+strings.Join(diff, ", "), w)...)
	return out
}
