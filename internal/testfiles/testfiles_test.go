package testfiles

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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

// layout builds, under a temporary folder:
//
//	with/clone/go.mod, with/clone/pkg/sub/   a module (working directory pkg/sub)
//	with/clone/rel/a.txt                     a data folder inside the module
//	with/shared/models/stories260K.gguf      its sibling data folder
//	with/shared/a.txt
//	without/clone/go.mod, without/clone/pkg/ a module without a sibling
//	nomarker/clone/go.mod, nomarker/shared/  a sibling without the marker file
//	loose/pkg/                               a folder in no module
//	data/a.txt                               an absolute data folder
type layout struct {
	with, withWD, withShared, withRel string
	withoutWD, nomarkerWD, looseWD    string
	data, file                        string
}

func newLayout(t *testing.T) layout {
	root := t.TempDir()
	p := func(parts ...string) string { return filepath.Join(append([]string{root}, parts...)...) }
	write := func(path string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mkdir := func(path string) {
		if err := os.MkdirAll(path, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l := layout{
		with: p("with", "clone"), withWD: p("with", "clone", "pkg", "sub"), withShared: p("with", "shared"), withRel: p("with", "clone", "rel"),
		withoutWD: p("without", "clone", "pkg"), nomarkerWD: p("nomarker", "clone"), looseWD: p("loose", "pkg"),
		data: p("data"), file: p("data", "a.txt"),
	}
	write(p("with", "clone", "go.mod"))
	mkdir(l.withWD)
	write(filepath.Join(l.withRel, "a.txt"))
	write(filepath.Join(l.withShared, filepath.FromSlash(Marker)))
	write(filepath.Join(l.withShared, "a.txt"))
	write(p("without", "clone", "go.mod"))
	mkdir(l.withoutWD)
	write(p("nomarker", "clone", "go.mod"))
	mkdir(p("nomarker", "shared", "models"))
	mkdir(l.looseWD)
	write(l.file)
	return l
}

func TestDir(t *testing.T) {
	l := newLayout(t)
	if moduleRoot(l.looseWD) != "" {
		t.Fatalf("%s is inside a module (%s): the layout needs a folder that is not", l.looseWD, moduleRoot(l.looseWD))
	}
	cases := []struct {
		name, wd, env, ci, rel string
		want                   string // outcome: ok, skip or fatal
		wantResult             string
	}{
		{"absolute", l.withWD, l.data, "", "", "ok", l.data},
		{"absolute in CI", l.withWD, l.data, "1", "", "ok", l.data},
		{"absolute wins over the sibling", l.withWD, l.data, "", "a.txt", "ok", l.file},
		{"relative to the module root, not the package folder", l.withWD, "../shared", "", "", "ok", l.withShared},
		{"relative inside the module", l.withWD, "rel", "", "a.txt", "ok", filepath.Join(l.withRel, "a.txt")},
		{"relative outside a module: to the working directory", l.looseWD, "../../data", "", "", "ok", l.data},
		{"relative missing fails", l.withWD, "../nope", "", "", "fatal", ""},
		{"relative missing in a module without a sibling fails", l.withoutWD, "../shared", "", "", "fatal", ""},
		{"unset with a sibling", l.withWD, "", "", "", "ok", l.withShared},
		{"unset with a sibling in CI", l.withWD, "", "true", "a.txt", "ok", filepath.Join(l.withShared, "a.txt")},
		{"unset without a sibling skips", l.withoutWD, "", "", "", "skip", ""},
		{"unset without a sibling fails in CI", l.withoutWD, "", "true", "", "fatal", ""},
		{"unset, sibling without the marker skips", l.nomarkerWD, "", "", "", "skip", ""},
		{"unset outside a module skips", l.looseWD, "", "", "", "skip", ""},
		{"missing absolute dir fails", l.withWD, filepath.Join(l.data, "nope"), "", "", "fatal", ""},
		{"file is not a dir", l.withWD, l.file, "", "", "fatal", ""},
		{"path missing fails", l.withWD, l.data, "", "b.txt", "fatal", ""},
		{"path with nothing found skips", l.withoutWD, "", "", "a.txt", "skip", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Chdir(c.wd)
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
			if outcome != "ok" && msg == "" {
				t.Fatalf("%s without a reason", outcome)
			}
			if outcome == "fatal" && c.env != "" && !strings.Contains(msg, c.env) {
				t.Errorf("failure %q does not name %s=%s", msg, EnvVar, c.env)
			}
			dir, ok := Lookup()
			if wantOK := c.env != "" || c.wantResult != ""; ok != wantOK || (c.rel == "" && outcome == "ok" && dir != got) {
				t.Errorf("Lookup() = %q, %v; Dir gave %q", dir, ok, got)
			}
		})
	}
}
