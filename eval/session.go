package eval

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"nexusquant/engine"
	"nexusquant/sessions"
)

// SessionMeta is what a session records about a run's model (path,
// architecture, parameter count, file size, header hash) and text (path or
// prompt, hash, and the cut src says: after Prepare, the numbers it used).
func SessionMeta(m *engine.Model, src *Source) sessions.Session {
	sum := sha256.Sum256([]byte(src.Text))
	meta := sessions.Session{
		Model: sessions.Model{Path: m.Path, Arch: m.Config.Arch, Params: m.Shape().Params, Bytes: m.File.Size(), HeaderHash: ModelHash(m)},
		Text: sessions.Text{Source: src.Path, SHA256: hex.EncodeToString(sum[:]),
			Prefix: src.Prefix, Continuation: src.Continuation, Windows: src.Windows},
	}
	if src.Kind == "prompt" {
		meta.Text.Source, meta.Text.Prompt = "prompt", src.Text
	}
	return meta
}

// Identify records in r which model and text it measured (the "model" and
// "input" objects of the JSON report).
func (r *Report) Identify(m *engine.Model, src *Source) {
	meta := SessionMeta(m, src)
	r.Model, r.Input = &meta.Model, &meta.Text
}

// CheckSession reports, before any work, whether a run of model m on src may
// be saved to the named session (see sessions.Store.CheckAppend): the name
// must be valid and an existing session must be on the same model and text
// with the same cut. src may be the input before Prepare: a prompt's prefix
// (its token count, which the text hash already pins) is not compared.
func CheckSession(store *sessions.Store, name string, m *engine.Model, src *Source) error {
	meta := SessionMeta(m, src)
	if src.Kind == "prompt" {
		meta.Text.Prefix = 0
	}
	return store.CheckAppend(name, meta)
}

// SaveRun appends one run's report to the named session in store, creating
// the session on first use. The session records the model and the text (see
// SessionMeta), so runs on another model or text are refused with an error
// that says so. A report not yet identified (Report.Identify) is identified
// first, so saved results always say what they measured.
func SaveRun(store *sessions.Store, name string, m *engine.Model, src *Source, r *Report) (*sessions.Session, error) {
	if r.Model == nil || r.Input == nil {
		r.Identify(m, src)
	}
	settings, err := json.Marshal(r.Settings)
	if err != nil {
		return nil, err
	}
	result, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	sess, err := store.AddRun(name, SessionMeta(m, src), sessions.Run{Settings: settings, Result: result})
	if err != nil {
		return nil, fmt.Errorf("saving session %q: %w", name, err)
	}
	return sess, nil
}
