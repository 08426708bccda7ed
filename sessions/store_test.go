package sessions

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

func runWith(settings map[string]any, ratio, dppl float64, ci [2]float64) Run {
	s, _ := json.Marshal(settings)
	r, _ := json.Marshal(map[string]any{"ratio_total": ratio, "delta_ppl_pct": dppl, "delta_ppl_ci": ci, "kld": 0.1})
	return Run{Settings: s, Result: r}
}

func TestDiff(t *testing.T) {
	set := func(rate, kb float64) map[string]any { return map[string]any{"eviction-rate": rate, "key-bits": kb} }
	cases := []struct {
		name string
		a, b []Run
		// want: per row "A-ratio/B-ratio changed-keys" (ratio 0 = no run)
		want []string
	}{
		{"same settings pair, leftovers pair by fewest changes",
			[]Run{runWith(set(0.6, 2), 10, 1, [2]float64{0, 2}), runWith(set(0.8, 2), 20, 2, [2]float64{1, 3})},
			[]Run{runWith(set(0.8, 2), 21, 5, [2]float64{4, 6}), runWith(set(0.6, 3), 7, 1, [2]float64{0, 2})},
			[]string{"10/7 key-bits", "20/21 "}},
		{"unpaired runs come after the pairs",
			[]Run{runWith(set(0.6, 2), 10, 1, [2]float64{}), runWith(set(0.8, 2), 20, 1, [2]float64{})},
			[]Run{runWith(set(0.8, 2), 21, 1, [2]float64{})},
			[]string{"20/21 ", "10/0 "}},
		{"only b",
			nil,
			[]Run{runWith(set(0.8, 2), 21, 1, [2]float64{})},
			[]string{"0/21 "}},
		{"the latest of equal settings counts",
			[]Run{runWith(set(0.6, 2), 10, 1, [2]float64{}), runWith(set(0.6, 2), 11, 1, [2]float64{})},
			[]Run{runWith(set(0.6, 2), 12, 1, [2]float64{})},
			[]string{"11/12 "}},
	}
	ratio := func(r *Run) float64 {
		if r == nil {
			return 0
		}
		f, _ := r.Figures()
		return f.RatioTotal
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows := Diff(&Session{Runs: c.a}, &Session{Runs: c.b})
			var got []string
			for _, r := range rows {
				var keys []string
				for _, ch := range r.Changes {
					keys = append(keys, ch.Key)
				}
				got = append(got, fmt.Sprintf("%g/%g %s", ratio(r.A), ratio(r.B), strings.Join(keys, ",")))
			}
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Errorf("rows %q, want %q", got, c.want)
			}
		})
	}
	// Deltas: B minus A, and whether the ΔPPL intervals overlap.
	rows := Diff(&Session{Runs: cases[0].a}, &Session{Runs: cases[0].b})
	d0, d1 := rows[0].Delta(), rows[1].Delta()
	if d0 == nil || d0.RatioTotal != -3 || d0.DeltaPPLPct != 0 || !d0.CIOverlap {
		t.Errorf("row 0 delta %+v, want ratio -3, ΔPPL 0, overlapping", d0)
	}
	if d1 == nil || d1.RatioTotal != 1 || d1.DeltaPPLPct != 3 || d1.CIOverlap {
		t.Errorf("row 1 delta %+v, want ratio +1, ΔPPL +3, disjoint", d1)
	}
	if ch := rows[0].Changes; len(ch) != 1 || ch[0].A != 2.0 || ch[0].B != 3.0 {
		t.Errorf("row 0 changes %+v, want key-bits 2 → 3", ch)
	}
	if got := VaryingSettings(&Session{Runs: cases[0].a}, &Session{Runs: cases[0].b}); strings.Join(got, ",") != "eviction-rate,key-bits" {
		t.Errorf("varying settings %v", got)
	}
	if got := rows[0].A.Label([]string{"eviction-rate", "nope"}); got != "eviction-rate=0.6 nope=—" {
		t.Errorf("label %q", got)
	}
}

// A version-1 file (no parameter count) still loads, and saving it writes the
// current version.
func TestVersion1Loads(t *testing.T) {
	st := &Store{Dir: t.TempDir()}
	v1 := `{"version":1,"name":"old","created":"2025-01-02T03:04:05Z","updated":"2025-01-02T03:04:05Z",
"model":{"path":"m.gguf","arch":"llama","bytes":10,"header_sha256":"abc"},
"text":{"source":"t.txt","sha256":"def","prefix_tokens":256,"continuation_tokens":128,"windows":1},
"runs":[{"time":"2025-01-02T03:04:05Z","settings":{"eviction-rate":0.6},"result":{"ratio_total":10}}]}`
	if err := os.WriteFile(filepath.Join(st.Dir, "old.json"), []byte(v1), 0o644); err != nil {
		t.Fatal(err)
	}
	sess, err := st.Load("old")
	if err != nil {
		t.Fatal(err)
	}
	if sess.Version != 1 || sess.Model.Params != 0 || len(sess.Runs) != 1 || sess.Model.HeaderHash != "abc" {
		t.Fatalf("version-1 file loaded as %+v", sess)
	}
	if _, err := st.AddRun("old", meta(), run(0.8, 20)); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(st.Path("old"))
	if !strings.Contains(string(data), `"version": 2`) || !strings.Contains(string(data), `"params"`) {
		t.Errorf("rewritten file is not version 2:\n%s", data)
	}
}

// A file whose "name" differs from its file name is listed, shown and saved
// under its file name, with the other name reported.
func TestNameFromFileName(t *testing.T) {
	st := &Store{Dir: t.TempDir()}
	if _, err := st.AddRun("orig", meta(), run(0.6, 10)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(st.Path("orig"), st.Path("copy")); err != nil {
		t.Fatal(err)
	}
	list, errs := st.List()
	if len(errs) != 0 || len(list) != 1 || list[0].Name != "copy" || list[0].NameInFile != "orig" {
		t.Fatalf("List = %+v, %v; want copy with NameInFile orig", list, errs)
	}
	sess, err := st.Load("copy")
	if err != nil || sess.Name != "copy" || sess.NameInFile != "orig" {
		t.Fatalf("Load(copy) = %+v, %v", sess, err)
	}
	if _, err := st.Load("orig"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load(orig) = %v, want ErrNotFound", err)
	}
	if _, err := st.AddRun("copy", meta(), run(0.8, 20)); err != nil {
		t.Fatal(err)
	}
	if sess, _ := st.Load("copy"); sess.NameInFile != "" || len(sess.Runs) != 2 {
		t.Errorf("after a save: NameInFile %q, %d runs", sess.NameInFile, len(sess.Runs))
	}
	// A file whose name is not a session name is an error naming it, not a
	// listed session that cannot be shown.
	os.WriteFile(filepath.Join(st.Dir, "has space.json"), []byte(`{"version":2,"name":"x","runs":[]}`), 0o644)
	if _, errs := st.List(); len(errs) != 1 || !strings.Contains(errs[0].Error(), "has space.json") {
		t.Errorf("List errors %v, want one naming has space.json", errs)
	}
}

func TestCheckAppend(t *testing.T) {
	st := &Store{Dir: t.TempDir()}
	if _, err := st.AddRun("s", meta(), run(0.6, 10)); err != nil {
		t.Fatal(err)
	}
	otherModel := meta()
	otherModel.Model.Path, otherModel.Model.HeaderHash = "other.gguf", "zzz"
	otherText := meta()
	otherText.Text.Source, otherText.Text.SHA256 = "u.txt", "fff"
	otherSplit := meta()
	otherSplit.Text.Prefix = 512
	unknownPrefix := meta()
	unknownPrefix.Text.Prefix = 0 // a prompt not tokenized yet
	cases := []struct {
		name, session string
		meta          Session
		want          []string // substrings of the error; nil: accepted
	}{
		{"new session", "fresh", meta(), nil},
		{"same model and text", "s", meta(), nil},
		{"prefix not known yet", "s", unknownPrefix, nil},
		{"bad name", "a/b", meta(), []string{`"a/b"`}},
		{"other model", "s", otherModel, []string{"m.gguf", "other.gguf"}},
		{"other text", "s", otherText, []string{"t.txt", "u.txt"}},
		{"other split", "s", otherSplit, []string{"256", "512"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := st.CheckAppend(c.session, c.meta)
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	if _, err := os.Stat(st.Path("fresh")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("CheckAppend created a session: %v", err)
	}
}

func TestWriteCSV(t *testing.T) {
	set := func(rate float64) map[string]any { return map[string]any{"eviction-rate": rate, "key-bits": 2} }
	s := &Session{Runs: []Run{
		runWith(set(0.5), 6.5, 1.25, [2]float64{0.5, 2}),
		runWith(set(0.8), 12, 4, [2]float64{3, 5}),
	}}
	s.Runs[0].Time = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	s.Runs[1].Time = s.Runs[0].Time.Add(time.Minute)
	var b strings.Builder
	if err := WriteCSV(&b, s); err != nil {
		t.Fatal(err)
	}
	want := `time,eviction-rate,ratio_total,ratio_payload,ratio_resident,delta_ppl_pct,delta_ppl_ci_lo,delta_ppl_ci_hi,kld,top1_agree
2025-01-02T03:04:05Z,0.5,6.5,0,0,1.25,0.5,2,0.1,0
2025-01-02T03:05:05Z,0.8,12,0,0,4,3,5,0.1,0
`
	if b.String() != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", b.String(), want)
	}
	// One run: nothing varies, so every setting is a column.
	b.Reset()
	WriteCSV(&b, &Session{Runs: s.Runs[:1]})
	if head, _, _ := strings.Cut(b.String(), "\n"); !strings.HasPrefix(head, "time,eviction-rate,key-bits,ratio_total") {
		t.Errorf("single-run CSV header %q", head)
	}
}
