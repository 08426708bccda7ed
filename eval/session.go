package eval

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"nexusquant/engine"
	"nexusquant/sessions"
)

// SaveRun appends one run's report to the named session in store, creating
// the session on first use. The session records the model (path,
// architecture, size, header hash) and the text, so runs on another model or
// text are refused with an error that says so.
func SaveRun(store *sessions.Store, name string, m *engine.Model, src *Source, r *Report) (*sessions.Session, error) {
	settings, err := json.Marshal(r.Settings)
	if err != nil {
		return nil, err
	}
	result, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(src.Text))
	meta := sessions.Session{
		Model: sessions.Model{Path: m.Path, Arch: m.Config.Arch, Bytes: m.File.Size(), HeaderHash: ModelHash(m)},
		Text: sessions.Text{Source: src.Path, SHA256: hex.EncodeToString(sum[:]),
			Prefix: src.Prefix, Continuation: src.Continuation, Windows: src.Windows},
	}
	if src.Kind == "prompt" {
		meta.Text.Source, meta.Text.Prompt = "prompt", src.Text
	}
	sess, err := store.AddRun(name, meta, sessions.Run{Settings: settings, Result: result})
	if err != nil {
		return nil, fmt.Errorf("saving session %q: %w", name, err)
	}
	return sess, nil
}
