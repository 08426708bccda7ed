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
	"strings"
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

// Path is the file of the named session.
func (s *Store) Path(name string) string { return s.path(name) }

// lockTimeout bounds the wait for another process's write of one session.
const lockTimeout = 30 * time.Second

// lock takes the advisory lock of the named session (NAME.json.lock beside
// its file), creating the store directory when needed. Stale temp files of an
// interrupted write of this session are removed while the lock is held (only
// a lock holder writes them).
func (s *Store) lock(name string) (func(), error) {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("session store %s: %w", s.Dir, err)
	}
	unlock, err := lockFile(s.path(name)+".lock", lockTimeout)
	if err != nil {
		return nil, err
	}
	stale, _ := filepath.Glob(filepath.Join(s.Dir, "."+name+".json.tmp-*"))
	for _, p := range stale {
		os.Remove(p)
	}
	return unlock, nil
}

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

// decode parses a session file. The file name is the session's name; a
// different "name" inside the file is kept in NameInFile.
func decode(path string, data []byte) (*Session, error) {
	name := strings.TrimSuffix(filepath.Base(path), ".json")
	if err := CheckName(name); err != nil {
		return nil, fmt.Errorf("session file %s: the file name is not a session name: %v", path, err)
	}
	var sess Session
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&sess); err != nil {
		return nil, fmt.Errorf("session file %s is corrupt: %v", path, err)
	}
	if err := sess.validate(); err != nil {
		return nil, fmt.Errorf("session file %s: %v", path, err)
	}
	if sess.Name != name {
		sess.NameInFile, sess.Name = sess.Name, name
	}
	return &sess, nil
}

// Save writes the session atomically under its lock, replacing any earlier
// version.
func (s *Store) Save(sess *Session) error {
	if err := CheckName(sess.Name); err != nil {
		return err
	}
	unlock, err := s.lock(sess.Name)
	if err != nil {
		return err
	}
	defer unlock()
	return s.write(sess)
}

// write writes the session; the caller holds its lock.
func (s *Store) write(sess *Session) error {
	sess.Version = FormatVersion
	sess.NameInFile = ""
	if sess.Created.IsZero() {
		sess.Created = time.Now().UTC()
	}
	sess.Updated = time.Now().UTC()
	data, err := json.MarshalIndent(sess, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(s.path(sess.Name), append(data, '\n'), 0o644)
}

// CheckAppend reports whether a run described by meta (its model and text)
// may be appended to the named session: the name must be valid, and an
// existing session must be on the same model (header hash) and text (hash,
// and the prefix/continuation split where meta knows it: a zero Prefix or
// Continuation is not compared). It changes nothing; call it before the work
// whose result will be saved.
func (s *Store) CheckAppend(name string, meta Session) error {
	if err := CheckName(name); err != nil {
		return err
	}
	sess, err := s.Load(name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return compatible(sess, &meta)
}

// compatible says why a run on meta's model and text does not belong in sess.
func compatible(sess, meta *Session) error {
	if sess.Model.HeaderHash != meta.Model.HeaderHash {
		return fmt.Errorf("session %q was recorded on model %s (%s, header %s); this run is on model %s (%s, header %s) — use another session name",
			sess.Name, sess.Model.Path, sess.Model.Arch, short(sess.Model.HeaderHash), meta.Model.Path, meta.Model.Arch, short(meta.Model.HeaderHash))
	}
	t, m := sess.Text, meta.Text
	if t.SHA256 != m.SHA256 {
		return fmt.Errorf("session %q was recorded on text %s (sha256 %s); this run is on text %s (sha256 %s) — use another session name",
			sess.Name, textName(t), short(t.SHA256), textName(m), short(m.SHA256))
	}
	if (m.Prefix != 0 && t.Prefix != m.Prefix) || (m.Continuation != 0 && t.Continuation != m.Continuation) {
		return fmt.Errorf("session %q was recorded with %d prefix and %d continuation tokens; this run uses %d and %d — use another session name",
			sess.Name, t.Prefix, t.Continuation, m.Prefix, m.Continuation)
	}
	return nil
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

func textName(t Text) string {
	if t.Source == "prompt" {
		p := []rune(t.Prompt)
		if len(p) > 24 {
			return fmt.Sprintf("prompt %q…", string(p[:24]))
		}
		return fmt.Sprintf("prompt %q", t.Prompt)
	}
	return t.Source
}

// AddRun appends a run to the named session, creating it with meta's model and
// text when it does not exist. An existing session must be on the same model
// (header hash) and text (see CheckAppend); otherwise the run is refused and
// nothing changes. The load, append and write happen under the session's
// lock, so concurrent AddRuns from any number of processes all land.
func (s *Store) AddRun(name string, meta Session, run Run) (*Session, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	unlock, err := s.lock(name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	sess, err := s.Load(name)
	switch {
	case err == nil:
		if err := compatible(sess, &meta); err != nil {
			return nil, err
		}
	case errors.Is(err, ErrNotFound):
		sess = &meta
		sess.Name = name
		sess.Runs = nil
		sess.Created = time.Time{}
	default:
		return nil, err
	}
	if run.Time.IsZero() {
		run.Time = time.Now().UTC()
	}
	sess.Runs = append(sess.Runs, run)
	return sess, s.write(sess)
}

// Remove deletes a session file (and its lock file).
func (s *Store) Remove(name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if _, err := os.Stat(s.path(name)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w %q in %s", ErrNotFound, name, s.Dir)
	}
	unlock, err := s.lock(name)
	if err != nil {
		return err
	}
	defer unlock()
	err = os.Remove(s.path(name))
	os.Remove(s.path(name) + ".lock")
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
