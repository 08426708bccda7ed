// Package sessions stores saved explorations: one JSON file per session
// (NAME.json) under the user data directory, each holding the model, the text
// and every run (settings → report and metrics), so two sessions can be
// compared run by run.
//
// Files carry a format version (older versions keep loading) and are written
// atomically (temp file, fsync, rename, fsync of the directory), so a crash or
// a full disk never leaves half a file and never damages what was saved
// before. Every write holds an advisory lock (flock on NAME.json.lock beside
// the file) around load, append and write, so processes appending to one
// session at once lose nothing. A corrupt file is reported by name while the
// others still load.
//
// The file name is a session's identity: a file whose "name" field says
// something else loads under its file name, with the other name kept in
// NameInFile so listings can say so.
package sessions

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

// FormatVersion is the version written into every session file. Version 2
// added the model's parameter count; version 1 files load with it unknown (0).
const FormatVersion = 2

// oldestVersion is the oldest format version that still loads.
const oldestVersion = 1

// Session is one saved exploration.
type Session struct {
	Version int       `json:"version"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	Model   Model     `json:"model"`
	Text    Text      `json:"text"`
	Runs    []Run     `json:"runs"`

	// NameInFile is the "name" the file holds when it differs from the file
	// name (which is the session's name); it is not written back.
	NameInFile string `json:"-"`
}

// Model identifies the model a session ran on.
type Model struct {
	Path       string `json:"path"`
	Arch       string `json:"arch"`
	Params     int64  `json:"params"` // parameter count; 0 (unknown) in version 1 files
	Bytes      int64  `json:"bytes"`
	HeaderHash string `json:"header_sha256"` // hash of the GGUF header (metadata and tensor infos)
}

// Text identifies the evaluated text and how it was cut.
type Text struct {
	Source       string `json:"source"` // file path, or "prompt"
	Prompt       string `json:"prompt,omitempty"`
	SHA256       string `json:"sha256"`
	Prefix       int    `json:"prefix_tokens"`
	Continuation int    `json:"continuation_tokens"`
	Windows      int    `json:"windows"`
}

// Run is one evaluation: its settings and the full result object as the eval
// command prints it with --json (kept raw so new fields survive old readers).
type Run struct {
	Time     time.Time       `json:"time"`
	Settings json.RawMessage `json:"settings"`
	Result   json.RawMessage `json:"result"`
}

// Figures are the headline numbers of a run's result.
type Figures struct {
	RatioTotal    float64    `json:"ratio_total"`
	RatioPayload  float64    `json:"ratio_payload"`
	RatioResident float64    `json:"ratio_resident"`
	DeltaPPLPct   float64    `json:"delta_ppl_pct"`
	DeltaPPLCI    [2]float64 `json:"delta_ppl_ci"`
	KLD           float64    `json:"kld"`
	Top1Agree     float64    `json:"top1_agree"`
}

// Figures decodes the headline numbers of the run.
func (r *Run) Figures() (Figures, error) {
	var f Figures
	if len(r.Result) == 0 {
		return f, fmt.Errorf("run has no result")
	}
	err := json.Unmarshal(r.Result, &f)
	return f, err
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// CheckName rejects names that are not safe as file names.
func CheckName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("session name %q: use 1–100 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// validate checks a decoded session.
func (s *Session) validate() error {
	if s.Version < oldestVersion || s.Version > FormatVersion {
		return fmt.Errorf("format version %d, this program reads versions %d to %d", s.Version, oldestVersion, FormatVersion)
	}
	for i, r := range s.Runs {
		if len(r.Settings) == 0 || len(r.Result) == 0 {
			return fmt.Errorf("run %d has no settings or result", i+1)
		}
	}
	return nil
}
