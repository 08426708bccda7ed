package testfiles

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// fakeTB records how Dir/Path ended: like testing.T, Skipf and Fatalf stop
// the calling goroutine.
type fakeTB struct {
	testing.TB
	outcome string
	msg     string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.outcome, f.msg = "skip", fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.outcome, f.msg = "fatal", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with a fakeTB in its own goroutine and returns the outcome
// ("ok", "skip" or "fatal"), the message and fn's result.
func run(fn func(testing.TB) string) (outcome, msg, result string) {
	f := &fakeTB{outcome: "ok"}
	done := make(chan struct{})
	go func() {
		defer close(done)
		result = fn(f)
	}()
	<-done
	return f.outcome, f.msg, result
}

func TestDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "a.txt")
	cases := []struct {
		name, env, ci, rel string
		want               string // outcome
		wantResult         string
	}{
		{"unset skips", "", "", "", "skip", ""},
		{"unset in CI fails", "", "true", "", "fatal", ""},
		{"set returns dir", dir, "", "", "ok", dir},
		{"set in CI returns dir", dir, "1", "", "ok", dir},
		{"missing dir fails", filepath.Join(dir, "nope"), "", "", "fatal", ""},
		{"file is not a dir", file, "", "", "fatal", ""},
		{"path found", dir, "", "a.txt", "ok", file},
		{"path missing fails", dir, "", "b.txt", "fatal", ""},
		{"path with unset skips", "", "", "a.txt", "skip", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(EnvVar, c.env)
			t.Setenv(CIEnvVar, c.ci)
			outcome, msg, got := run(func(tb testing.TB) string {
				if c.rel != "" {
					return Path(tb, c.rel)
				}
				return Dir(tb)
			})
			if outcome != c.want || got != c.wantResult {
				t.Fatalf("outcome %s (%q), result %q; want %s, %q", outcome, msg, got, c.want, c.wantResult)
			}
			if outcome == "skip" && msg == "" {
				t.Fatal("skip without a reason")
			}
		})
	}
}
