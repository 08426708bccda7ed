package cli

import (
	"strings"
	"testing"

	"nexusquant/eval"
	"nexusquant/internal/modelfind"
	"nexusquant/internal/modelfind/modelfindtest"
)

func TestPickerChoices(t *testing.T) {
	if c, err := pickerChoices(nil, eval.Input{}); c != nil || err != nil {
		t.Fatalf("nothing found: choices %v, %v; want none (the demo opens directly)", c, err)
	}
	found, _ := modelfind.Find(modelfind.DirsFor(modelfindtest.Home(t)))
	base := eval.Input{Source: eval.Source{Prefix: 256, Continuation: 128, Windows: 1}, ObsWindow: 32}
	cs, err := pickerChoices(found, base)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != len(found)+2 || !strings.HasPrefix(cs[0].Label, "demo: tiny-llama") || !strings.HasPrefix(cs[1].Label, "demo: stories") {
		t.Fatalf("choices %d (found %d): first %q, %q", len(cs), len(found), cs[0].Label, cs[1].Label)
	}
	opened, broken := 0, 0
	for _, c := range cs[2:] {
		if c.Err != "" {
			broken++
			continue
		}
		if c.Input.Kind != "file" || c.Input.Text == "" || c.Input.Prefix != 256 || !strings.Contains(c.Detail, "ctx 512") {
			t.Errorf("%s: input %+v detail %q", c.Label, c.Input.Source, c.Detail)
		}
		m, err := c.Open()
		if err != nil {
			t.Errorf("%s: %v", c.Label, err)
			continue
		}
		m.Close()
		opened++
	}
	if opened == 0 || broken != 1 {
		t.Errorf("opened %d models, %d broken; want some and the fake home's one broken file", opened, broken)
	}
}
