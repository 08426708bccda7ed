// Package jsondir loads every *.json file of a directory with a caller's
// parser, the way the preset and session stores read their folders: a
// missing directory is empty, and a file that cannot be read or parsed
// becomes an error (which should name it) while the others still load.
package jsondir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Load parses each regular *.json file of dir, in name order.
func Load[T any](dir string, parse func(path string, data []byte) (T, error)) ([]T, []error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []error{err}
	}
	var out []T
	var errs []error
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(p)
		if err == nil {
			var v T
			if v, err = parse(p, data); err == nil {
				out = append(out, v)
				continue
			}
		}
		errs = append(errs, err)
	}
	return out, errs
}
