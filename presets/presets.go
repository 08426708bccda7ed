// Package presets holds named bundles of pipeline settings: the built-in
// presets of SPEC §9 (embedded), the user's own (one JSON file each in the user
// config directory), parsing with strict validation, and the two export
// formats: our full format, carrying every setting, and the keyword arguments
// of the Python library's nexusquant_evict.
//
// A preset file is {"name": …, "description": …, "settings": {flag: value}};
// settings not named keep their defaults. An unknown key, at the top level or
// in settings, is an error that names the file and the key.
package presets

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"nexusquant/internal/atomicfile"
	"nexusquant/internal/jsondir"
	"nexusquant/stages"
)

//go:embed builtin/*.json
var builtinFS embed.FS

// Preset is a named bundle of settings.
type Preset struct {
	Name        string
	Description string
	Builtin     bool
	Path        string // file it was read from ("builtin/NAME.json" for built-ins)
	Settings    stages.Settings
}

// file is the on-disk form.
type file struct {
	Name        string                     `json:"name"`
	Description string                     `json:"description"`
	Settings    map[string]json.RawMessage `json:"settings"`
}

// Parse reads a preset file's bytes; path names it in errors.
func Parse(path string, data []byte) (*Preset, error) {
	var f file
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("preset %s: %v", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("preset %s: trailing data after the JSON object", path)
	}
	if err := CheckName(f.Name); err != nil {
		return nil, fmt.Errorf("preset %s: %v", path, err)
	}
	s := stages.DefaultSettings()
	keys := make([]string, 0, len(f.Settings))
	for k := range f.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := scalarString(f.Settings[k])
		if err != nil {
			return nil, fmt.Errorf("preset %s: setting %q: %v", path, k, err)
		}
		if err := s.Set(k, v); err != nil {
			return nil, fmt.Errorf("preset %s: %v", path, err)
		}
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("preset %s: %v", path, err)
	}
	return &Preset{Name: f.Name, Description: f.Description, Path: path, Settings: s}, nil
}

// scalarString turns a JSON number, string or bool into the text Settings.Set parses.
func scalarString(raw json.RawMessage) (string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	}
	return "", fmt.Errorf("want a number, string or bool, got %s", string(raw))
}

// Marshal encodes a preset in the full format: every setting, by flag name.
func Marshal(p *Preset) ([]byte, error) {
	set := map[string]json.RawMessage{}
	raw, err := json.Marshal(p.Settings)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(file{Name: p.Name, Description: p.Description, Settings: set}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// CheckName rejects names unsafe as file names.
func CheckName(name string) error {
	if name == "" || len(name) > 64 || strings.ContainsAny(name, `/\:*?"<>| `) || strings.HasPrefix(name, ".") {
		return fmt.Errorf("preset name %q: use 1–64 characters without spaces, slashes or a leading dot", name)
	}
	return nil
}

// Builtins returns the embedded presets, sorted by eviction rate then name.
func Builtins() []*Preset {
	entries, _ := fs.ReadDir(builtinFS, "builtin")
	var out []*Preset
	for _, e := range entries {
		p := "builtin/" + e.Name()
		data, _ := builtinFS.ReadFile(p)
		pr, err := Parse(p, data)
		if err != nil {
			// The embedded files are tested; a broken one is a build defect.
			panic(err)
		}
		pr.Builtin = true
		out = append(out, pr)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Settings, out[j].Settings
		if a.EvictionRate != b.EvictionRate {
			return a.EvictionRate < b.EvictionRate
		}
		if a.KeyBits != b.KeyBits {
			return a.KeyBits > b.KeyBits
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Store is the directory of the user's presets.
type Store struct{ Dir string }

// DefaultStore is $NEXUSQUANT_PRESETS, else nexusquant/presets in the user config directory.
func DefaultStore() (*Store, error) {
	if d := os.Getenv("NEXUSQUANT_PRESETS"); d != "" {
		return &Store{Dir: d}, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return nil, fmt.Errorf("no place for user presets: %w (set NEXUSQUANT_PRESETS)", err)
	}
	return &Store{Dir: filepath.Join(d, "nexusquant", "presets")}, nil
}

// List returns the built-ins followed by the user's presets. Unreadable user
// files come back as errors naming the file; the rest still load.
func (s *Store) List() ([]*Preset, []error) {
	out := Builtins()
	if s == nil {
		return out, nil
	}
	user, errs := jsondir.Load(s.Dir, Parse)
	return append(out, user...), errs
}

// Find returns the preset called name: a built-in first, then a user preset.
// A name containing a path separator or ending in .json is read as a file.
func (s *Store) Find(name string) (*Preset, error) {
	if strings.ContainsRune(name, filepath.Separator) || strings.HasSuffix(name, ".json") {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		return Parse(name, data)
	}
	for _, p := range Builtins() {
		if p.Name == name {
			return p, nil
		}
	}
	if s != nil {
		p := filepath.Join(s.Dir, name+".json")
		data, err := os.ReadFile(p)
		if err == nil {
			return Parse(p, data)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	var names []string
	all, _ := s.List()
	for _, p := range all {
		names = append(names, p.Name)
	}
	return nil, fmt.Errorf("no preset %q; known: %s", name, strings.Join(names, ", "))
}

// Save writes a user preset atomically. Built-in names are refused.
func (s *Store) Save(p *Preset) error {
	if err := CheckName(p.Name); err != nil {
		return err
	}
	for _, b := range Builtins() {
		if b.Name == p.Name {
			return fmt.Errorf("preset %q is built in; save under another name", p.Name)
		}
	}
	if err := p.Settings.Validate(); err != nil {
		return fmt.Errorf("preset %q: %v", p.Name, err)
	}
	data, err := Marshal(p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(s.Dir, p.Name+".json"), data, 0o644)
}
