package sessions

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func meta() Session {
	return Session{
		Model: Model{Path: "m.gguf", Arch: "llama", Bytes: 10, HeaderHash: "abc"},
		Text:  Text{Source: "t.txt", SHA256: "def", Prefix: 256, Continuation: 128, Windows: 1},
	}
}

func run(rate float64, ratio float64) Run {
	s, _ := json.Marshal(map[string]any{"eviction_rate": rate, "key_bits": 2})
	r, _ := json.Marshal(map[string]any{"ratio_total": ratio, "delta_ppl_pct": 1.5, "kld": 0.1})
	return Run{Settings: s, Result: r}
}

func TestSaveLoadAddRun(t *testing.T) {
	st := &Store{Dir: t.TempDir()}
	if _, err := st.AddRun("exp1", meta(), run(0.6, 10)); err != nil {
		t.Fatal(err)
	}
	sess, err := st.AddRun("exp1", meta(), run(0.8, 20))
	if err != nil {
		t.Fatal(err)
	}
	if len(sess.Runs) != 2 {
		t.Fatalf("runs = %d, want 2", len(sess.Runs))
	}
	got, err := st.Load("exp1")
	if err != nil {
		t.Fatal(err)
	}
	f, err := got.Runs[1].Figures()
	if err != nil || f.RatioTotal != 20 {
		t.Fatalf("figures = %+v, %v; want ratio_total 20", f, err)
	}
	// A run on another model is refused and the saved file is unchanged.
	other := meta()
	other.Model.HeaderHash = "zzz"
	if _, err := st.AddRun("exp1", other, run(0.3, 5)); err == nil {
		t.Fatal("run on another model accepted")
	}
	again, _ := st.Load("exp1")
	if len(again.Runs) != 2 {
		t.Fatalf("refused run changed the session: %d runs", len(again.Runs))
	}
}

func TestCorruptFileIsNamedOthersLoad(t *testing.T) {
	st := &Store{Dir: t.TempDir()}
	if _, err := st.AddRun("good", meta(), run(0.6, 10)); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"trunc.json":   `{"version":1,"name":"trunc","runs":[`,
		"version.json": `{"version":99,"name":"version","runs":[]}`,
		"garbage.json": "\x00\x01\x02",
	}
	for name, body := range cases {
		if err := os.WriteFile(filepath.Join(st.Dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	list, errs := st.List()
	if len(list) != 1 || list[0].Name != "good" {
		t.Fatalf("listed %d sessions, want only good", len(list))
	}
	if len(errs) != len(cases) {
		t.Fatalf("got %d errors, want %d: %v", len(errs), len(cases), errs)
	}
	for _, e := range errs {
		found := false
		for name := range cases {
			if strings.Contains(e.Error(), name) {
				found = true
			}
		}
		if !found {
			t.Errorf("error does not name the file: %v", e)
		}
	}
	if _, err := st.Load("trunc"); err == nil || !strings.Contains(err.Error(), "trunc.json") {
		t.Errorf("Load(trunc) = %v, want an error naming trunc.json", err)
	}
}

func TestNamesAndRemove(t *testing.T) {
	st := &Store{Dir: t.TempDir()}
	for _, bad := range []string{"", "../x", "a/b", ".hidden", strings.Repeat("x", 101)} {
		if err := CheckName(bad); err == nil {
			t.Errorf("CheckName(%q) accepted", bad)
		}
	}
	if err := st.Remove("nothing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove(missing) = %v, want ErrNotFound", err)
	}
	if _, err := st.AddRun("x1", meta(), run(0.6, 10)); err != nil {
		t.Fatal(err)
	}
	if err := st.Remove("x1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load("x1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load after Remove = %v", err)
	}
	// No temp files are left behind.
	entries, _ := os.ReadDir(st.Dir)
	for _, e := range entries {
		t.Errorf("left behind: %s", e.Name())
	}
}

func TestDiff(t *testing.T) {
	a := &Session{Runs: []Run{run(0.6, 10), run(0.8, 20)}}
	b := &Session{Runs: []Run{run(0.8, 21), run(0.35, 7)}}
	rows := Diff(a, b)
	if len(rows) != 3 {
		t.Fatalf("rows = %d, want 3", len(rows))
	}
	if rows[0].A == nil || rows[0].B != nil {
		t.Errorf("row 0 should be only in a")
	}
	fa, _ := rows[1].A.Figures()
	fb, _ := rows[1].B.Figures()
	if fa.RatioTotal != 20 || fb.RatioTotal != 21 {
		t.Errorf("row 1 pairs %v with %v, want 20 with 21", fa.RatioTotal, fb.RatioTotal)
	}
	if rows[2].A != nil || rows[2].B == nil {
		t.Errorf("row 2 should be only in b")
	}
}
