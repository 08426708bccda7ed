package tui

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tui -run Golden -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test ./tui -run Golden -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// screen is the explorer's text without styling, checked to fill w×h exactly.
func screen(t *testing.T, m *Model) string {
	t.Helper()
	s := ansi.Strip(m.render())
	lines := strings.Split(s, "\n")
	if len(lines) != m.height {
		t.Fatalf("screen has %d lines, want %d", len(lines), m.height)
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w != m.width {
			t.Fatalf("line %d is %d cells wide, want %d: %q", i, w, m.width, l)
		}
	}
	return s
}

// sessionModel is the explorer at w×h after three runs (max, asym, balanced):
// the state every golden snapshot starts from.
func sessionModel(t *testing.T, w, h int) *Model {
	m, _ := newTestModel(t, w, h)
	m.st.pieces = pieces(256)
	s := balanced(t)
	mx, _ := applyPreset(s, "max")
	as, _ := applyPreset(s, "asym")
	feedRun(m, mx, 21.3, 2.6)
	feedRun(m, as, 13.9, 0.9)
	feedRun(m, s, 16.8, 1.3)
	m.Update(SessionsMsg{List: savedSessions(s, mx)})
	m.st.sess.marked = []runKey{{"yesterday", 1}, {"yesterday", 2}}
	return m
}

func TestGoldenScreens(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		w, h := size[0], size[1]
		for tab, v := range (&Model{}).tabs() {
			name := strings.ToLower(v.name)
			t.Run(name+"-"+strconv.Itoa(w)+"x"+strconv.Itoa(h), func(t *testing.T) {
				m := sessionModel(t, w, h)
				m.st.tab = tab
				golden(t, name+"-"+strconv.Itoa(w)+"x"+strconv.Itoa(h), screen(t, m))
			})
		}
		t.Run("help-"+strconv.Itoa(w)+"x"+strconv.Itoa(h), func(t *testing.T) {
			m := sessionModel(t, w, h)
			m.Update(keyPress("?"))
			golden(t, "help-"+strconv.Itoa(w)+"x"+strconv.Itoa(h), screen(t, m))
		})
	}
}
