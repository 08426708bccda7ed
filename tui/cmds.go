package tui

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"nexusquant/engine"
	"nexusquant/eval"
	"nexusquant/internal/atomicfile"
	"nexusquant/presets"
	"nexusquant/sessions"
	"nexusquant/stages"
)

// backend is what the explorer drives: eval.Runner, or a fake in tests.
// Load and Submit must not block (newest wins).
type backend interface {
	Load(eval.LoadSpec) uint64
	Submit(stages.Settings, eval.RunOptions) uint64
	Events() <-chan eval.Event
}

// EventMsg wraps one eval event for Update.
type EventMsg struct{ Event eval.Event }

// eventsClosedMsg says the backend's event channel closed.
type eventsClosedMsg struct{}

// waitEvent reads the next event; Update re-arms it after each one.
func waitEvent(ch <-chan eval.Event) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return eventsClosedMsg{}
		}
		return EventMsg{ev}
	}
}

// tickMsg advances the spinner.
type tickMsg struct{}

func tick() tea.Cmd {
	return tea.Tick(120*time.Millisecond, func(time.Time) tea.Msg { return tickMsg{} })
}

// loadedInfoMsg carries what the panes need from a freshly loaded model that
// takes work to compute: the prefix's token pieces and the model's shape.
type loadedInfoMsg struct {
	job    uint64
	info   modelInfo
	pieces []string
	shape  engine.Shape
}

// loadedInfo computes the header, the token pieces and the shape off the UI
// goroutine.
func loadedInfo(job uint64, ex *eval.Explorer, src *eval.Source, sourceName, device string) tea.Cmd {
	return func() tea.Msg {
		m := ex.Model
		c := m.Config
		sh := m.Shape()
		info := modelInfo{Name: filepath.Base(m.Path), Arch: c.Arch, WeightType: sh.WeightType, Params: sh.Params,
			Ctx: c.Ctx, Device: device, Source: sourceName, Prefix: src.Prefix, Continuation: src.Continuation, Windows: src.Windows}
		info.SlidingLayers, info.SlidingWindow = slidingLayers(c)
		return loadedInfoMsg{job: job, info: info, pieces: ex.PrefixPieces(), shape: sh}
	}
}

// slidingLayers counts a model's sliding-window layers and their window.
func slidingLayers(c engine.Config) (n, window int) {
	for l := range c.Layers {
		if w := c.Layer(l).Window; w > 0 {
			n, window = n+1, w
		}
	}
	return n, window
}

// SavedMsg reports a save to the session; Path is for display (~ for the
// home folder).
type SavedMsg struct {
	Session string
	Path    string
	Runs    int
	Err     error
}

// saveRun appends the run to the session (file I/O: a command).
func saveRun(store *sessions.Store, name string, ex *eval.Explorer, src *eval.Source, res *eval.Result, diff *eval.TextDiff) tea.Cmd {
	return func() tea.Msg {
		if store == nil {
			return SavedMsg{Session: name, Err: errNoFolder("session")}
		}
		rep := eval.NewReport(ex, res)
		rep.Text = diff
		sess, err := eval.SaveRun(store, name, ex.Model, src, rep)
		if err != nil {
			return SavedMsg{Session: name, Err: err}
		}
		return SavedMsg{Session: name, Path: tildePath(filepath.Join(store.Dir, name+".json")), Runs: len(sess.Runs)}
	}
}

// ExportedMsg reports a preset export: the full preset and the Python
// library's keyword arguments; the paths are for display (~ for the home
// folder).
type ExportedMsg struct {
	Name             string
	FullPath, PyPath string
	Err              error
}

// exportPreset saves s as a user preset (our full format, loadable with
// --preset NAME) and writes the Python library's kwargs beside the presets
// folder, in exports/NAME.python.json.
func exportPreset(store *presets.Store, s stages.Settings) tea.Cmd {
	return func() tea.Msg {
		name := exportName(s)
		if store == nil {
			return ExportedMsg{Name: name, Err: errNoFolder("preset")}
		}
		p := &presets.Preset{Name: name, Description: "exported from the explorer: " + eval.Describe(s), Settings: s}
		if err := store.Save(p); err != nil {
			return ExportedMsg{Name: name, Err: err}
		}
		py, _, err := presets.ExportPython(s)
		if err != nil {
			return ExportedMsg{Name: name, Err: err}
		}
		dir := filepath.Join(filepath.Dir(store.Dir), "exports")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return ExportedMsg{Name: name, Err: err}
		}
		pyPath := filepath.Join(dir, name+".python.json")
		if err := atomicfile.WriteFile(pyPath, py, 0o644); err != nil {
			return ExportedMsg{Name: name, Err: err}
		}
		return ExportedMsg{Name: name, FullPath: tildePath(filepath.Join(store.Dir, name+".json")), PyPath: tildePath(pyPath)}
	}
}

// exportName names an exported preset after its main settings and a short
// hash of all of them, so equal settings give the same name.
func exportName(s stages.Settings) string {
	b, _ := json.Marshal(s)
	sum := sha256.Sum256(b)
	if s.Method != stages.MethodNexusQuant {
		return fmt.Sprintf("explorer-%s-%s", s.Method, hex.EncodeToString(sum[:2]))
	}
	return fmt.Sprintf("explorer-e%02d-k%dv%d-%s-%s", int(math.Round(s.EvictionRate*100)), s.KeyBits, s.ValueBits, s.Lattice, hex.EncodeToString(sum[:2]))
}

// tildePath writes a path under the home folder as ~/…, so the status line
// can show it whole.
func tildePath(p string) string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" || home == "/" {
		return p
	}
	if rel, err := filepath.Rel(home, p); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
		return filepath.Join("~", rel)
	}
	return p
}

// errNoFolder says that the user's folder of kind (preset, session) could
// not be found.
func errNoFolder(kind string) error {
	return fmt.Errorf("no %s folder: the user config and data folders could not be found (set HOME or XDG_CONFIG_HOME / XDG_DATA_HOME)", kind)
}
