// Package presets holds named bundles of pipeline settings: the built-in
// presets of SPEC §9 (embedded), the user's own (one JSON file each in the user
// preset folder, see DefaultStore), parsing with strict validation, and the two
// export formats: ours ("nexusquant"), carrying every setting, and the keyword
// arguments of the Python library's nexusquant_evict ("python").
//
// A preset file is {"name": …, "description": …, "settings": {key: value}}.
// Keys are written as the command-line flags and eval's JSON spell them
// (kebab-case: "eviction-rate", "key-bits"); snake_case ("eviction_rate") is
// accepted on input too. Settings not named keep their defaults. An unknown
// key, at the top level or in settings, and a value out of range are errors
// that name the file, the key and what is allowed.
//
// A user preset is NAME.json holding "name": NAME; a file whose name differs
// from its file name, or that uses a built-in name, is reported as an error
// naming the file, never silently skipped or shadowed.
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
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Settings    json.RawMessage `json:"settings"`
}

// topKeys are the keys a preset file may hold at the top level.
var topKeys = []string{"name", "description", "settings"}

// Key returns the on-disk key of a setting: its flag name, kebab-case
// ("eviction_rate" → "eviction-rate").
func Key(setting string) string { return strings.ReplaceAll(setting, "_", "-") }

// Parse reads a preset file's bytes; path names it in errors. It checks the
// contents only; the store also checks the name against the file name.
func Parse(path string, data []byte) (*Preset, error) {
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("preset %s: %v", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("preset %s: trailing data after the JSON object", path)
	}
	for k := range top {
		if !contains(topKeys, k) {
			return nil, fmt.Errorf("preset %s: unknown key %q: want %s", path, k, strings.Join(topKeys, ", "))
		}
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("preset %s: %v", path, err)
	}
	if err := CheckName(f.Name); err != nil {
		return nil, fmt.Errorf("preset %s: %v", path, err)
	}
	s := stages.DefaultSettings()
	if len(f.Settings) > 0 {
		var err error
		if s, err = DecodeSettings(f.Settings); err != nil {
			return nil, fmt.Errorf("preset %s: %v", path, err)
		}
	}
	return &Preset{Name: f.Name, Description: f.Description, Path: path, Settings: s}, nil
}

// DecodeSettings reads a JSON object of settings (kebab-case or snake_case
// keys, numbers, strings or bools) over the defaults, as preset files, eval's
// JSON and session runs hold them. The error names the key at fault and, for a
// value out of range, the allowed range.
func DecodeSettings(raw json.RawMessage) (stages.Settings, error) {
	s := stages.DefaultSettings()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return s, fmt.Errorf("settings: %v", err)
	}
	if m == nil {
		return s, nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	seen := map[string]string{}
	for _, k := range keys {
		name := strings.ReplaceAll(k, "-", "_")
		if !isField(name) {
			return s, fmt.Errorf("unknown setting %q: want one of %s", k, strings.Join(keyNames(), ", "))
		}
		if other, dup := seen[name]; dup {
			return s, fmt.Errorf("setting %q given twice (as %q and %q)", Key(name), other, k)
		}
		seen[name] = k
		v, err := scalarString(m[k])
		if err != nil {
			return s, fmt.Errorf("setting %q: %v", k, err)
		}
		if err := s.Set(name, v); err != nil {
			return s, fmt.Errorf("setting %q: %v", k, err)
		}
		// Every other setting is still valid (a default or checked before), so a
		// failure here is this key's.
		if err := s.Validate(); err != nil {
			msg := strings.TrimPrefix(err.Error(), name+" ")
			return s, fmt.Errorf("setting %q = %s", k, msg)
		}
	}
	return s, s.Validate()
}

func isField(name string) bool {
	for _, f := range stages.Fields() {
		if f.Name == name {
			return true
		}
	}
	return false
}

func keyNames() []string {
	var out []string
	for _, f := range stages.Fields() {
		out = append(out, Key(f.Name))
	}
	return out
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
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

// orderedSettings marshals every setting under its kebab-case key, in
// stages.Fields order (method first, then pipeline order).
type orderedSettings stages.Settings

func (o orderedSettings) MarshalJSON() ([]byte, error) {
	// The struct's own JSON gives each value its type; only the keys change.
	raw, err := json.Marshal(stages.Settings(o))
	if err != nil {
		return nil, err
	}
	var byField map[string]json.RawMessage
	if err := json.Unmarshal(raw, &byField); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range stages.Fields() {
		v, ok := byField[f.Name]
		if !ok {
			return nil, fmt.Errorf("setting %s has no JSON field", f.Name)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(Key(f.Name))
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Marshal encodes a preset in our full format: every setting, under its
// kebab-case key.
func Marshal(p *Preset) ([]byte, error) {
	set, err := json.Marshal(orderedSettings(p.Settings))
	if err != nil {
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
	if name == "" || len(name) > 64 || strings.ContainsAny(name, `/\:*?"<>| `) || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".json") {
		return fmt.Errorf("preset name %q: use 1–64 characters without spaces, slashes, a leading dot or a .json ending", name)
	}
	return nil
}

// CheckUserName checks a name for a new user preset: CheckName, and not a
// built-in name (a user preset may not shadow a built-in).
func CheckUserName(name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if IsBuiltin(name) {
		return fmt.Errorf("preset name %q is built in (%s); choose another name", name, strings.Join(builtinNames(), ", "))
	}
	return nil
}

// IsBuiltin reports whether name is a built-in preset's name.
func IsBuiltin(name string) bool { return contains(builtinNames(), name) }

func builtinNames() []string {
	var out []string
	for _, p := range Builtins() {
		out = append(out, p.Name)
	}
	return out
}

// Builtins returns the embedded presets, sorted by eviction rate then name.
func Builtins() []*Preset {
	entries, _ := fs.ReadDir(builtinFS, "builtin")
	var out []*Preset
	for _, e := range entries {
		p := "builtin/" + e.Name()
		data, _ := builtinFS.ReadFile(p)
		pr, err := Parse(p, data)
		if err == nil && pr.Name+".json" != e.Name() {
			err = fmt.Errorf("preset %s: name %q differs from the file name", p, pr.Name)
		}
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

// Store is the folder of the user's presets, one NAME.json each.
type Store struct{ Dir string }

// DefaultStore is $NEXUSQUANT_PRESETS, else nexusquant/presets in the user
// config folder (os.UserConfigDir: $XDG_CONFIG_HOME or ~/.config on Linux,
// ~/Library/Application Support on macOS, %AppData% on Windows).
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

// Path returns the file of the user preset called name.
func (s *Store) Path(name string) string { return filepath.Join(s.Dir, name+".json") }

// parseUser parses a file of the store: Parse, then the name must match the
// file name and must not be a built-in's.
func parseUser(path string, data []byte) (*Preset, error) {
	p, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(filepath.Base(path), ".json")
	if IsBuiltin(base) {
		return nil, fmt.Errorf("preset %s: %q is a built-in name; a user preset may not shadow it (rename or remove the file)", path, base)
	}
	if p.Name != base {
		return nil, fmt.Errorf("preset %s: its name %q differs from its file name %s.json; rename one so they match", path, p.Name, base)
	}
	return p, nil
}

// List returns the built-ins followed by the user's presets. User files that
// cannot be used (unreadable, invalid, named differently from the file, or
// using a built-in name) come back as errors naming the file; the rest still
// load.
func (s *Store) List() ([]*Preset, []error) {
	out := Builtins()
	if s == nil {
		return out, nil
	}
	user, errs := jsondir.Load(s.Dir, parseUser)
	return append(out, user...), errs
}

// Exists reports whether the user preset file for name exists.
func (s *Store) Exists(name string) bool {
	if s == nil {
		return false
	}
	_, err := os.Stat(s.Path(name))
	return err == nil
}

// Find returns the preset called name: a built-in or a user preset. A name
// containing a path separator or ending in .json is read as a file (whose
// "name" may differ from its file name). A user file with a built-in name is
// an error naming it rather than silently losing to the built-in.
func (s *Store) Find(name string) (*Preset, error) {
	if strings.ContainsRune(name, filepath.Separator) || strings.ContainsRune(name, '/') || strings.HasSuffix(name, ".json") {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		return Parse(name, data)
	}
	if s != nil {
		p := s.Path(name)
		data, err := os.ReadFile(p)
		if err == nil {
			return parseUser(p, data)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	for _, p := range Builtins() {
		if p.Name == name {
			return p, nil
		}
	}
	var names []string
	all, errs := s.List()
	for _, p := range all {
		names = append(names, p.Name)
	}
	msg := fmt.Sprintf("no preset %q; known: %s", name, strings.Join(names, ", "))
	for _, e := range errs {
		msg += "; " + e.Error()
	}
	return nil, errors.New(msg)
}

// Save writes a user preset atomically as NAME.json in the store's folder,
// replacing an earlier one of that name. Built-in names are refused.
func (s *Store) Save(p *Preset) error {
	if err := CheckUserName(p.Name); err != nil {
		return err
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
	return atomicfile.WriteFile(s.Path(p.Name), data, 0o644)
}

// Remove deletes the user preset called name. Built-ins cannot be removed.
func (s *Store) Remove(name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	p := s.Path(name)
	err := os.Remove(p)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist) && IsBuiltin(name):
		return fmt.Errorf("preset %q is built in and cannot be removed", name)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no user preset %q (looked for %s)", name, p)
	}
	return err
}
