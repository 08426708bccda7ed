package eval

import (
	"context"
	"testing"

	"nexusquant/stages"
)

// Needle retrieval runs at every depth, fits the context, and with no
// compression answers exactly as the baseline does. (stories260K cannot
// follow instructions, so recall itself is not asserted.)
func TestNeedle(t *testing.T) {
	m := loadDemo(t, "stories")
	defer m.Close()
	none := stages.DefaultSettings()
	none.Method = stages.MethodNone
	res, err := Needle(context.Background(), m, none, NeedleOptions{Trials: 2, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Depths) != 3 || res.Depths[0].Depth != 0.1 || res.Depths[2].Depth != 0.9 {
		t.Fatalf("depths %+v", res.Depths)
	}
	if res.PromptTokens > m.Config.Ctx-12 || res.PromptTokens < m.Config.Ctx/2 {
		t.Errorf("prompt of %d tokens: want most of the %d-token context, leaving room for the answer", res.PromptTokens, m.Config.Ctx)
	}
	for _, d := range res.Depths {
		if d.Trials != 2 || len(d.Answers) != 2 {
			t.Errorf("depth %.1f: %d trials, %d answers", d.Depth, d.Trials, len(d.Answers))
		}
		for i := range d.Answers {
			if d.Answers[i] != d.BaselineAnswers[i] {
				t.Errorf("depth %.1f trial %d: method none answered %q, the baseline %q", d.Depth, i, d.Answers[i], d.BaselineAnswers[i])
			}
		}
	}
	if res.Recall != res.BaselineRecall {
		t.Errorf("method none recall %.2f differs from the baseline's %.2f", res.Recall, res.BaselineRecall)
	}
	t.Logf("stories260K needle: recall %.2f (baseline %.2f), answers at 50%%: %q", res.Recall, res.BaselineRecall, res.Depths[1].Answers)
}
