package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"nexusquant/engine"
	"nexusquant/internal/modelfind"
	"nexusquant/internal/units"
)

func init() {
	register(&command{name: "models", summary: "find GGUF model files on disk (ollama, Hugging Face, LM Studio, llama.cpp, here)", run: runModels})
}

// findEnv is the environment the finder reads (tests replace it).
var findEnv = modelfind.OSEnv

// modelJSON is one found file in `models --json`; every key is always
// present (zero values when the header could not be read).
type modelJSON struct {
	Name       string `json:"name"`
	Source     string `json:"source"`
	Path       string `json:"path"`
	Bytes      int64  `json:"bytes"`
	Arch       string `json:"arch"`
	Params     int64  `json:"params"`
	WeightType string `json:"weight_type"`
	Ctx        int    `json:"ctx"`
	Layers     int    `json:"layers"`
	KVHeads    int    `json:"kv_heads"`
	HeadDim    int    `json:"head_dim"`
	// SlidingWindow is the window of the sliding-window layers (0: none).
	SlidingWindow int `json:"sliding_window"`
	// Runnable is false for an architecture the engine reads the header of
	// but does not run (the capacity view works on it, eval does not).
	Runnable bool   `json:"runnable"`
	Error    string `json:"error"`
}

func runModels(env *Env, args []string) error {
	fset := newFlags(env, "models", "[--dir D ...] [--paths] [--json]")
	var dirs stringList
	fset.Var(&dirs, "dir", "also search this folder and its subfolders (repeatable)")
	asJSON := fset.Bool("json", false, "print a JSON array")
	paths := fset.Bool("paths", false, "print each file's path (and the full error) under its row")
	if err := parse(fset, args); err != nil {
		return err
	}
	fenv := findEnv()
	list := modelfind.DirsFor(fenv)
	for _, d := range dirs {
		list = append(list, modelfind.Dir{Path: d, Kind: modelfind.Folder, Source: "dir"})
	}
	found, errs := modelfind.Find(list)
	for _, err := range errs {
		fmt.Fprintf(env.Stderr, "nexusquant models: warning: %v\n", err)
	}
	if *asJSON {
		out := make([]modelJSON, 0, len(found))
		for _, f := range found {
			m := modelJSON{Name: f.Name, Source: f.Source, Path: f.Path, Bytes: f.Bytes, Error: f.Err}
			if s := f.Shape; s != nil {
				m.Arch, m.Params, m.WeightType, m.Ctx = s.Arch, s.Params, s.WeightType, s.Ctx
				m.Layers, m.KVHeads, m.HeadDim = s.Layers, s.KVHeads, s.HeadDim
				m.SlidingWindow, m.Runnable = s.SlidingWindow, s.Runnable
			}
			out = append(out, m)
		}
		return writeJSON(env.Stdout, out)
	}
	if len(found) == 0 {
		fmt.Fprintln(env.Stdout, "no GGUF files found in:")
		for _, d := range list {
			fmt.Fprintf(env.Stdout, "  %-11s %s\n", d.Source, shortPath(d.Path, fenv))
		}
		fmt.Fprintln(env.Stdout, "Download one with `nexusquant pull OWNER/REPO:QUANT`, or add a folder with --dir.")
		return nil
	}
	writeModelTable(env.Stdout, found, fenv, 80, *paths)
	if slices.ContainsFunc(found, func(f modelfind.Found) bool { return f.Shape != nil && !f.Shape.Runnable }) {
		fmt.Fprintf(env.Stdout, "* header only: the engine runs %s; --shape-of works on any file\n", strings.Join(engine.Architectures(), ", "))
	}
	if !*paths {
		fmt.Fprintln(env.Stdout, "(--paths shows where each file is, --json everything)")
	}
	return nil
}

// writeModelTable writes found as a table at most width columns wide (the
// name is shortened in the middle to fit); with paths, each row is followed
// by the file's path (shortened with ~ and ./) and its full error, indented.
func writeModelTable(w io.Writer, found []modelfind.Found, fenv modelfind.Env, width int, paths bool) {
	header := []string{"NAME", "ARCH", "PARAMS", "TYPE", "CTX", "SIZE", "FROM"}
	rows := make([][]string, len(found))
	for i, f := range found {
		r := []string{f.Name, "", "", "", "", units.Bytes(f.Bytes), f.Source}
		if s := f.Shape; s != nil {
			r[1], r[2], r[3], r[4] = s.Arch, units.Count(s.Params), s.WeightType, fmt.Sprint(s.Ctx)
			if !s.Runnable {
				r[1] += "*"
			}
		}
		rows[i] = r
	}
	wd := make([]int, len(header))
	for c, h := range header {
		wd[c] = utf8.RuneCountInString(h)
		for _, r := range rows {
			wd[c] = max(wd[c], utf8.RuneCountInString(r[c]))
		}
	}
	const gap = 2
	rest := 0
	for c := 1; c < len(wd); c++ {
		rest += gap + wd[c]
	}
	wd[0] = max(min(wd[0], width-rest), 16)
	right := []bool{false, false, true, false, true, true, false}
	line := func(r []string) string {
		var b strings.Builder
		for c, cell := range r {
			if c > 0 {
				b.WriteString(strings.Repeat(" ", gap))
			}
			cell = shorten(cell, wd[c])
			pad := strings.Repeat(" ", wd[c]-utf8.RuneCountInString(cell))
			if right[c] {
				b.WriteString(pad + cell)
			} else {
				b.WriteString(cell + pad)
			}
		}
		return strings.TrimRight(b.String(), " ")
	}
	fmt.Fprintln(w, line(header))
	for i, f := range found {
		if f.Err != "" {
			// The error takes the place of the header's figures.
			span := wd[1] + wd[2] + wd[3] + wd[4] + wd[5] + 4*gap
			msg := f.Err
			if i := strings.LastIndex(msg, ": "); i >= 0 {
				msg = msg[i+2:]
			}
			if r := []rune(msg); len(r) > span {
				msg = string(r[:span-1]) + "…"
			}
			fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("%s  %s  %s", pad(shorten(f.Name, wd[0]), wd[0]), pad(msg, span), f.Source), " "))
		} else {
			fmt.Fprintln(w, line(rows[i]))
		}
		if paths {
			fmt.Fprintln(w, "  "+shortPath(f.Path, fenv))
			if f.Err != "" {
				fmt.Fprintln(w, "  "+f.Err)
			}
		}
	}
}

// pad pads s with spaces to n runes.
func pad(s string, n int) string {
	return s + strings.Repeat(" ", max(0, n-utf8.RuneCountInString(s)))
}

// shorten cuts s to n runes with an ellipsis after its first third (the end
// of a name, with the quantization, says more than its middle).
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n || n < 3 {
		return s
	}
	head := (n - 1) / 3
	return string(r[:head]) + "…" + string(r[len(r)-(n-1-head):])
}

// shortPath writes path relative to the current folder (./x) when it is
// inside it, else with the home folder as ~.
func shortPath(path string, fenv modelfind.Env) string {
	sep := string(filepath.Separator)
	if fenv.Cwd != "" {
		if rel, err := filepath.Rel(fenv.Cwd, path); err == nil && rel == "." {
			return "."
		} else if err == nil && filepath.IsLocal(rel) {
			return "." + sep + rel
		}
	}
	if fenv.Home != "" {
		if rel, err := filepath.Rel(fenv.Home, path); err == nil && filepath.IsLocal(rel) {
			return "~" + sep + rel
		}
	}
	return path
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
