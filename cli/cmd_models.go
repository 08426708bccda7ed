package cli

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"nexusquant/engine/gguf"
)

func init() {
	register(&command{name: "models", summary: "find GGUF model files on disk", run: runModels})
}

// modelInfo is one found file; JSON keys are stable.
type modelInfo struct {
	Path    string `json:"path"`
	Arch    string `json:"arch"`
	Name    string `json:"name,omitempty"`
	Bytes   int64  `json:"bytes"`
	Tensors int    `json:"tensors"`
	Error   string `json:"error,omitempty"`
}

// defaultModelDirs are the places people keep GGUF files.
func defaultModelDirs() []string {
	var dirs []string
	if d := os.Getenv("NEXUSQUANT_TESTDATA"); d != "" {
		dirs = append(dirs, filepath.Join(d, "models"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs,
			filepath.Join(home, ".cache", "huggingface", "hub"),
			filepath.Join(home, ".cache", "llama.cpp"),
			filepath.Join(home, "models"))
	}
	dirs = append(dirs, ".")
	return dirs
}

func runModels(env *Env, args []string) error {
	fset := newFlags(env, "models", "[--dir D ...] [--json]")
	var dirs stringList
	fset.Var(&dirs, "dir", "directory to search (repeatable; default: $NEXUSQUANT_TESTDATA/models, ~/.cache/huggingface/hub, ~/.cache/llama.cpp, ~/models, .)")
	asJSON := fset.Bool("json", false, "print a JSON array")
	if err := parse(fset, args); err != nil {
		return err
	}
	if len(dirs) == 0 {
		dirs = defaultModelDirs()
	}
	found := []modelInfo{}
	seen := map[string]bool{}
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // unreadable folders are skipped
			}
			if d.IsDir() && path != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(strings.ToLower(d.Name()), ".gguf") {
				return nil
			}
			abs, _ := filepath.Abs(path)
			if seen[abs] {
				return nil
			}
			seen[abs] = true
			found = append(found, describeModel(path))
			return nil
		})
	}
	if *asJSON {
		return writeJSON(env.Stdout, found)
	}
	if len(found) == 0 {
		fmt.Fprintln(env.Stdout, "no GGUF files found in", strings.Join(dirs, ", "))
		return nil
	}
	for _, m := range found {
		if m.Error != "" {
			fmt.Fprintf(env.Stdout, "%-60s  unreadable: %s\n", m.Path, m.Error)
			continue
		}
		fmt.Fprintf(env.Stdout, "%-60s  %-8s %8.1f MiB  %d tensors\n", m.Path, m.Arch, float64(m.Bytes)/(1<<20), m.Tensors)
	}
	return nil
}

func describeModel(path string) modelInfo {
	info := modelInfo{Path: path}
	f, err := gguf.Open(path)
	if err != nil {
		info.Error = err.Error()
		return info
	}
	defer f.Close()
	info.Arch = f.Arch()
	info.Name, _ = f.String("general.name")
	info.Bytes = f.Size()
	info.Tensors = len(f.Tensors)
	return info
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
