package cli

import (
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
	_, err = eval.SaveRun(store, name, m, src, r)
	return err
}
