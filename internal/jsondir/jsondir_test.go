package jsondir

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{"b.json": "2", "a.json": "1", "bad.json": "x", "note.txt": "3"}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	parse := func(path string, data []byte) (int, error) {
		var n int
		if _, err := fmt.Sscan(string(data), &n); err != nil {
			return 0, fmt.Errorf("%s: %v", path, err)
		}
		return n, nil
	}
	got, errs := Load(dir, parse)
	if !slices.Equal(got, []int{1, 2}) {
		t.Errorf("loaded %v, want [1 2] (a.json, b.json; not note.txt, not the directory)", got)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "bad.json") {
		t.Errorf("errors %v, want one naming bad.json", errs)
	}
	if got, errs := Load(filepath.Join(dir, "missing"), parse); got != nil || errs != nil {
		t.Errorf("missing directory: %v %v, want nothing", got, errs)
	}
}
