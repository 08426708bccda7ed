package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"nexusquant/engine"
	"nexusquant/eval"
	"nexusquant/sessions"
)

// saveRun appends one eval report to the named session.
func saveRun(name string, m *engine.Model, src *eval.Source, r *eval.Report) error {
	store, err := sessions.Open()
	if err != nil {
		return err
	}
	settings, err := json.Marshal(r.Settings)
	if err != nil {
		return err
	}
	result, err := json.Marshal(r)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(src.Text))
	meta := sessions.Session{
		Model: sessions.Model{Path: m.Path, Arch: m.Config.Arch, Bytes: m.File.Size(), HeaderHash: eval.ModelHash(m)},
		Text: sessions.Text{Source: src.Path, SHA256: hex.EncodeToString(sum[:]),
			Prefix: src.Prefix, Continuation: src.Continuation, Windows: src.Windows},
	}
	if src.Kind == "prompt" {
		meta.Text.Source, meta.Text.Prompt = "prompt", src.Text
	}
	if _, err := store.AddRun(name, meta, sessions.Run{Settings: settings, Result: result}); err != nil {
		return fmt.Errorf("saving session %q: %w", name, err)
	}
	return nil
}
