package cli

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"nexusquant/sessions"
)

const storyPrompt = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. One day"

// The eval command refuses a bad session name, a session of another model
// and --cache with settings flags before any work; when saving fails after
// the evaluation anyway, the results are printed first.
func TestEvalSessionChecksFirst(t *testing.T) {
	isolate(t)
	stories, _ := demoFiles(t, "stories")
	tiny, _ := demoFiles(t, "tiny-llama")
	base := []string{"eval", "--prompt", storyPrompt, "--continuation", "8"}
	out, errs, code := run(t, append(base, "--model", stories, "--save-session", "s1", "--json")...)
	if code != 0 {
		t.Fatalf("eval: %d %s", code, errs)
	}
	var rep struct {
		Model sessions.Model `json:"model"`
		Input sessions.Text  `json:"input"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Model.Path != stories || rep.Model.Arch != "llama" || rep.Model.Params <= 0 || rep.Model.Bytes <= 0 ||
		len(rep.Model.HeaderHash) != 64 || rep.Input.Source != "prompt" || len(rep.Input.SHA256) != 64 ||
		rep.Input.Prefix <= 0 || rep.Input.Continuation != 8 || rep.Input.Windows != 1 {
		t.Errorf("eval --json does not say what it measured: model %+v input %+v", rep.Model, rep.Input)
	}

	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"bad session name", []string{"--model", stories, "--save-session", "a/b"}, 2, []string{`"a/b"`}},
		// Refused before the evaluation: not the error of a save after it ("saving session …").
		{"session of another model", []string{"--model", tiny, "--save-session", "s1"}, 1, []string{"--save-session: session \"s1\"", stories, tiny}},
		{"--cache with settings", []string{"--model", stories, "--cache", "c.nqkv", "--key-bits", "3", "--no-delta"}, 2,
			[]string{"--cache continues from a packed cache", "--key-bits", "--no-delta"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errs, code := run(t, append(base, c.args...)...)
			if code != c.code {
				t.Fatalf("status %d, want %d (%s)", code, c.code, errs)
			}
			for _, w := range c.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q does not say %q", errs, w)
				}
			}
			if out != "" {
				t.Errorf("refused run printed %q", out)
			}
		})
	}
	if s, err := mustStore(t).Load("s1"); err != nil || len(s.Runs) != 1 {
		t.Errorf("session s1 after refusals: %v, %v", s, err)
	}

	// The session's lock file is a folder: the save fails after the run.
	st := mustStore(t)
	if err := os.MkdirAll(st.Path("locked")+".lock", 0o755); err != nil {
		t.Fatal(err)
	}
	out, errs, code = run(t, append(base, "--model", stories, "--save-session", "locked")...)
	if code != 1 || !strings.Contains(out, "ΔPPL") || !strings.Contains(errs, "lock") {
		t.Errorf("failed save: status %d, stdout %q, stderr %q; want the results then the error", code, out, errs)
	}
}

func mustStore(t *testing.T) *sessions.Store {
	t.Helper()
	st, err := sessions.Open()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// fakeRun is a run with the given settings and figures.
func fakeRun(t *testing.T, settings map[string]any, ratio, dppl float64) sessions.Run {
	t.Helper()
	s, _ := json.Marshal(settings)
	r, _ := json.Marshal(map[string]any{"ratio_total": ratio, "ratio_payload": ratio * 1.5, "ratio_resident": ratio / 2,
		"delta_ppl_pct": dppl, "delta_ppl_ci": []float64{dppl - 1, dppl + 1}, "kld": dppl / 100, "top1_agree": 0.9})
	return sessions.Run{Settings: s, Result: r}
}

// fakeSessions saves two sessions: A at key-bits 2 with eviction rates 0.5,
// 0.6, 0.7, B at 0.5 and 0.6 with key-bits 2 then 3, on the same model.
func fakeSessions(t *testing.T) *sessions.Store {
	t.Helper()
	st := mustStore(t)
	meta := sessions.Session{
		Model: sessions.Model{Path: "/models/a-rather-long-model-file-name.Q4_K_M.gguf", Arch: "llama", HeaderHash: "abc"},
		Text:  sessions.Text{Source: "/texts/wiki.txt", SHA256: "def", Prefix: 256, Continuation: 128, Windows: 1},
	}
	set := func(rate, kb float64) map[string]any {
		return map[string]any{"eviction-rate": rate, "key-bits": kb, "value-bits": 2, "lattice": "e8", "scorer": "keykey"}
	}
	for _, r := range []sessions.Run{fakeRun(t, set(0.5, 2), 6, 1), fakeRun(t, set(0.6, 2), 7, 2), fakeRun(t, set(0.7, 2), 8, 4)} {
		if _, err := st.AddRun("before", meta, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []sessions.Run{fakeRun(t, set(0.5, 2), 6.5, 1.5), fakeRun(t, set(0.6, 3), 6, 0.5)} {
		if _, err := st.AddRun("after", meta, r); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func TestSessionsDiff(t *testing.T) {
	isolate(t)
	fakeSessions(t)
	out, errs, code := run(t, "sessions", "diff", "before", "after")
	if code != 0 {
		t.Fatalf("diff: %d %s", code, errs)
	}
	for _, w := range []string{
		"runs are told apart by: eviction-rate, key-bits",
		"1. eviction-rate=0.5 key-bits=2\n   same settings\n",
		"+0.50×  ΔPPL  +0.50 pp (intervals overlap)",
		"2. eviction-rate=0.6 key-bits=2\n   settings differ (A → B): key-bits 2 → 3\n",
		"ΔPPL  -1.50 pp",
		"only in A (before):\n  eviction-rate=0.7 key-bits=2\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("diff lacks %q:\n%s", w, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(line); n > 80 {
			t.Errorf("line of %d columns: %q", n, line)
		}
		if strings.Contains(line, "{") {
			t.Errorf("raw JSON in the text output: %q", line)
		}
	}

	out, _, code = run(t, "sessions", "diff", "before", "after", "--json")
	var d struct {
		Varying []string `json:"varying_settings"`
		Rows    []struct {
			Paired  bool              `json:"paired"`
			Changes []sessions.Change `json:"changes"`
			Delta   *sessions.Delta   `json:"delta"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &d); code != 0 || err != nil {
		t.Fatalf("diff --json: %d %v\n%s", code, err, out)
	}
	if len(d.Rows) != 3 || !d.Rows[0].Paired || len(d.Rows[0].Changes) != 0 || d.Rows[0].Delta == nil || d.Rows[0].Delta.RatioTotal != 0.5 ||
		len(d.Rows[1].Changes) != 1 || d.Rows[1].Changes[0].Key != "key-bits" || d.Rows[2].Paired || d.Rows[2].Delta != nil {
		t.Errorf("diff --json rows: %s", out)
	}
}

func TestSessionsListShowExportRm(t *testing.T) {
	isolate(t)
	st := fakeSessions(t)
	// A copy under another file name keeps its old "name" inside.
	data, _ := os.ReadFile(st.Path("after"))
	os.WriteFile(st.Path("renamed"), data, 0o644)

	out, errs, code := run(t, "sessions", "list")
	if code != 0 || !strings.Contains(out, "before") || !strings.Contains(out, `the file calls it "after"; it is shown and saved as renamed`) {
		t.Errorf("list: %d %q %q", code, out, errs)
	}
	out, _, code = run(t, "sessions", "list", "--json")
	var list []map[string]any
	if json.Unmarshal([]byte(out), &list); code != 0 || len(list) != 3 || list[2]["name"] != "renamed" || list[2]["name_in_file"] != "after" {
		t.Errorf("list --json: %d %s", code, out)
	}
	out, errs, code = run(t, "sessions", "show", "renamed")
	if code != 0 || !strings.Contains(out, "session renamed") || !strings.Contains(out, `the file calls this session "after"`) {
		t.Errorf("show renamed: %d %q %q", code, out, errs)
	}

	out, errs, code = run(t, "sessions", "export", "before", "--csv")
	if code != 0 {
		t.Fatalf("export --csv: %d %s", code, errs)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Fatalf("export --csv: %v, %d rows\n%s", err, len(rows), out)
	}
	if got := strings.Join(rows[0], ","); got != "time,eviction-rate,ratio_total,ratio_payload,ratio_resident,delta_ppl_pct,delta_ppl_ci_lo,delta_ppl_ci_hi,kld,top1_agree" {
		t.Errorf("CSV header %s", got)
	}
	if got := strings.Join(rows[3][1:], ","); got != "0.7,8,12,4,4,3,5,0.04,0.9" {
		t.Errorf("CSV row 3 %s", got)
	}
	file := filepath.Join(t.TempDir(), "b.csv")
	if _, errs, code := run(t, "sessions", "export", "--csv", "--out", file, "before"); code != 0 {
		t.Fatalf("export --out: %d %s", code, errs)
	}
	if data, _ := os.ReadFile(file); string(data) != out {
		t.Errorf("--out wrote %q, stdout was %q", data, out)
	}
	out, _, code = run(t, "sessions", "export", "before", "--json")
	var s sessions.Session
	if json.Unmarshal([]byte(out), &s); code != 0 || len(s.Runs) != 3 {
		t.Errorf("export --json: %d %s", code, out)
	}

	if _, errs, code := run(t, "sessions", "export", "before", "--csv", "--json"); code != 2 {
		t.Errorf("--csv --json: %d %s", code, errs)
	}
	out, _, code = run(t, "sessions", "rm", "before", "--json")
	if code != 0 || !strings.Contains(out, `"removed": "before"`) {
		t.Errorf("rm --json: %d %s", code, out)
	}
	if _, errs, code := run(t, "sessions", "show", "before"); code != 1 || !strings.Contains(errs, "no session") {
		t.Errorf("show after rm: %d %s", code, errs)
	}
}
