package eval

import (
	"math"
	"testing"

	"nexusquant/engine"
)

func TestCapacity(t *testing.T) {
	tiny := engine.Shape{Name: "tiny-llama-hd64-gqa", Layers: 4, KVHeads: 2, HeadDim: 64, WeightBytes: 3630080}
	big := engine.Shape{Name: "big", Layers: 32, KVHeads: 8, HeadDim: 128, WeightBytes: 23_016_960_000} // leaves 7500 float16 tokens
	cases := []struct {
		name     string
		sh       engine.Shape
		budget   int64
		ratio    float64
		free     int64
		perToken float64 // float16 bytes per token
		ratioOut float64
		f16, tok int64
		line     string
	}{
		{"tiny-llama, default budget", tiny, 0, 6.89, 23_996_369_920, 2048, 6.89, 11_716_977, 80_729_974, "81M tokens fit where 12M did"},
		{"the doc's example", big, DefaultBudget, 17.1, 983_040_000, 131072, 17.1, 7500, 128_250, "128K tokens fit where 7.5K did"},
		{"a ratio below 1", engine.Shape{Layers: 32, KVHeads: 8, HeadDim: 128}, 4e9, 0.5, 4e9, 131072, 0.5, 30517, 15258, "15K tokens fit where 31K did"},
		{"ratio 0", tiny, 0, 0, 23_996_369_920, 2048, 0, 11_716_977, 11_716_977, "12M tokens fit in float16 (no compression ratio measured yet)"},
		{"ratio NaN", tiny, 0, math.NaN(), 23_996_369_920, 2048, 0, 11_716_977, 11_716_977, "12M tokens fit in float16 (no compression ratio measured yet)"},
		{"ratio +Inf", tiny, 0, math.Inf(1), 23_996_369_920, 2048, 0, 11_716_977, 11_716_977, "12M tokens fit in float16 (no compression ratio measured yet)"},
		{"ratio -Inf", tiny, 0, math.Inf(-1), 23_996_369_920, 2048, 0, 11_716_977, 11_716_977, "12M tokens fit in float16 (no compression ratio measured yet)"},
		{"negative ratio", tiny, 0, -3, 23_996_369_920, 2048, 0, 11_716_977, 11_716_977, "12M tokens fit in float16 (no compression ratio measured yet)"},
		{"negative budget means the default", tiny, -5, 1, 23_996_369_920, 2048, 1, 11_716_977, 11_716_977, "12M tokens fit where 12M did"},
		{"weights larger than the budget", engine.Shape{Layers: 80, KVHeads: 8, HeadDim: 128, WeightBytes: 141e9}, 0, 8, 0, 327680, 8, 0, 0, "no room for a KV cache: the weights (141 GB) fill the 24 GB budget"},
		{"weights exactly the budget", tiny, 3630080, 8, 0, 2048, 8, 0, 0, "no room for a KV cache: the weights (3.6 MB) fill the 3.6 MB budget"},
		{"no geometry", engine.Shape{WeightBytes: 1e9}, 0, 5, 23e9, 0, 5, 0, 0, "KV cache capacity unknown: the model's layer count, KV heads or head dimension is missing"},
		{"huge ratio caps the count", tiny, 0, 1e300, 23_996_369_920, 2048, 1e300, 11_716_977, math.MaxInt64, "9223372T tokens fit where 12M did"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := NewCapacity(c.sh, c.budget, c.ratio)
			wantBudget := c.budget
			if wantBudget <= 0 {
				wantBudget = DefaultBudget
			}
			if got.Model != c.sh.Name || got.Layers != c.sh.Layers || got.KVHeads != c.sh.KVHeads || got.HeadDim != c.sh.HeadDim || got.WeightBytes != c.sh.WeightBytes {
				t.Errorf("model fields %+v do not copy the shape %+v", got, c.sh)
			}
			if got.BudgetBytes != wantBudget || got.FreeBytes != c.free || got.F16BytesPerToken != c.perToken || got.Ratio != c.ratioOut {
				t.Errorf("budget %d free %d per token %g ratio %g; want %d %d %g %g", got.BudgetBytes, got.FreeBytes, got.F16BytesPerToken, got.Ratio, wantBudget, c.free, c.perToken, c.ratioOut)
			}
			wantPer := c.perToken
			if c.ratioOut != 0 {
				wantPer /= c.ratioOut
			}
			if got.BytesPerToken != wantPer || math.IsNaN(got.BytesPerToken) {
				t.Errorf("bytes per token %g, want %g", got.BytesPerToken, wantPer)
			}
			if got.F16Tokens != c.f16 || got.Tokens != c.tok {
				t.Errorf("tokens %d (float16 %d), want %d (%d)", got.Tokens, got.F16Tokens, c.tok, c.f16)
			}
			if l := got.Line(); l != c.line {
				t.Errorf("Line() = %q, want %q", l, c.line)
			}
		})
	}
}
