package sessions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"nexusquant/internal/atomicfile"
	"nexusquant/internal/jsondir"
)

// ErrNotFound is wrapped by errors for a session that does not exist.
var ErrNotFound = errors.New("no session")

// Store is a directory of session files (NAME.json).
type Store struct{ Dir string }

// DefaultDir is $NEXUSQUANT_SESSIONS, else $XDG_DATA_HOME/nexusquant/sessions,
// else ~/.local/share/nexusquant/sessions.
func DefaultDir() (string, error) {
	if d := os.Getenv("NEXUSQUANT_SESSIONS"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "nexusquant", "sessions"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no place for sessions: %w (set NEXUSQUANT_SESSIONS)", err)
	}
	return filepath.Join(home, ".local", "share", "nexusquant", "sessions"), nil
}

// Open returns the store in the default directory.
func Open() (*Store, error) {
	d, err := DefaultDir()
	if err != nil {
		return nil, err
	}
	return &Store{Dir: d}, nil
}

func (s *Store) path(name string) string { return filepath.Join(s.Dir, name+".json") }

// Load reads one session. Errors name the file.
func (s *Store) Load(name string) (*Session, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	p := s.path(name)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w %q (looked for %s)", ErrNotFound, name, p)
	}
	if err != nil {
		return nil, err
	}
	return decode(p, data)
}

func decode(path string, data []byte) (*Session, error) {
	var sess Session
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&sess); err != nil {
		return nil, fmt.Errorf("session file %s is corrupt: %v", path, err)
	}
	if err := sess.validate(); err != nil {
		return nil, fmt.Errorf("session file %s: %v", path, err)
	}
	return &sess, nil
}

// Save writes the session atomically, replacing any earlier version.
func (s *Store) Save(sess *Session) error {
	if err := CheckName(sess.Name); err != nil {
		return err
	}
	sess.Version = FormatVersion
	if sess.Created.IsZero() {
		sess.Created = time.Now().UTC()
	}
	sess.Updated = time.Now().UTC()
	data, err := json.MarshalIndent(sess, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("session store %s: %w", s.Dir, err)
	}
	return atomicfile.WriteFile(s.path(sess.Name), append(data, '\n'), 0o644)
}

// AddRun appends a run to the named session, creating it with meta's model and
// text when it does not exist. An existing session must be on the same model
// (header hash) and text; otherwise the run is refused and nothing changes.
func (s *Store) AddRun(name string, meta Session, run Run) (*Session, error) {
	sess, err := s.Load(name)
	switch {
	case err == nil:
		if sess.Model.HeaderHash != meta.Model.HeaderHash {
			return nil, fmt.Errorf("session %q was recorded on model %s; this run is on %s — use another session name", name, sess.Model.Path, meta.Model.Path)
		}
		if sess.Text.SHA256 != meta.Text.SHA256 || sess.Text.Prefix != meta.Text.Prefix || sess.Text.Continuation != meta.Text.Continuation {
			return nil, fmt.Errorf("session %q was recorded on another text or prefix/continuation split — use another session name", name)
		}
	case errors.Is(err, ErrNotFound):
		sess = &meta
		sess.Name = name
		sess.Runs = nil
	default:
		return nil, err
	}
	if run.Time.IsZero() {
		run.Time = time.Now().UTC()
	}
	sess.Runs = append(sess.Runs, run)
	return sess, s.Save(sess)
}

// Remove deletes a session file.
func (s *Store) Remove(name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	err := os.Remove(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w %q in %s", ErrNotFound, name, s.Dir)
	}
	return err
}

// List loads every session. Files that fail to load are returned as errors
// naming the file; the others are still listed. A missing directory is empty.
func (s *Store) List() ([]*Session, []error) {
	out, errs := jsondir.Load(s.Dir, decode)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, errs
}
