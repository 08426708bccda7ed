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

// TestCapacitySliding: sliding-window layers stop adding bytes at their
// window (Shape.CacheTokens), so the longest context that fits grows past
// what the per-token bytes of every layer would allow.
func TestCapacitySliding(t *testing.T) {
	swa := func(flags ...bool) engine.Shape {
		return engine.Shape{Name: "gemma-like", Layers: len(flags), KVHeads: 1, HeadDim: 256, SlidingWindow: 48, SWA: flags}
	}
	gemma := swa(true, true, true, true, true, false) // 1024 B per layer and token
	cases := []struct {
		name            string
		sh              engine.Shape
		budget          int64
		ratio           float64
		perToken, win   float64 // float16 bytes per token past the window, and the sliding layers' full window
		sliding         int
		f16, tok        int64
		perTokenComp    float64
		windowBytesComp float64
	}{
		// 1024·t + 5120·48 ≤ 1e6 → t = 736; at 4×: 256·t + 61440 ≤ 1e6 → 3666.
		{"five of six slide", gemma, 1e6, 4, 1024, 245760, 5, 736, 3666, 256, 61440},
		// The window is not full: 6144 B per token, 16 tokens.
		{"inside the window", gemma, 100000, 0, 1024, 245760, 5, 16, 16, 1024, 245760},
		{"every layer slides", swa(true, true), 1e6, 2, 0, 2 * 1024 * 48, 2, math.MaxInt64, math.MaxInt64, 0, 1024 * 48},
		{"window flags without a window", engine.Shape{Layers: 2, KVHeads: 1, HeadDim: 256, SWA: []bool{true, true}}, 1e6, 0, 2048, 0, 0, 488, 488, 2048, 0},
		{"no sliding layer", swa(false, false), 1e6, 0, 2048, 0, 0, 488, 488, 2048, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := NewCapacity(c.sh, c.budget, c.ratio)
			if got.F16BytesPerToken != c.perToken || got.F16WindowBytes != c.win || got.SlidingLayers != c.sliding {
				t.Errorf("per token %g window %g sliding %d, want %g %g %d", got.F16BytesPerToken, got.F16WindowBytes, got.SlidingLayers, c.perToken, c.win, c.sliding)
			}
			if got.BytesPerToken != c.perTokenComp || got.WindowBytes != c.windowBytesComp {
				t.Errorf("compressed per token %g window %g, want %g %g", got.BytesPerToken, got.WindowBytes, c.perTokenComp, c.windowBytesComp)
			}
			if got.F16Tokens != c.f16 || got.Tokens != c.tok {
				t.Errorf("tokens %d (float16 %d), want %d (%d)", got.Tokens, got.F16Tokens, c.tok, c.f16)
			}
			// The figure is the longest context that fits: one more token does not.
			cost := func(n int64, ratio float64) float64 {
				var b float64
				for l := range c.sh.Layers {
					b += float64(c.sh.CacheTokens(l, int(n))) * 1024
				}
				if ratio > 0 {
					b /= ratio
				}
				return b
			}
			if n := got.Tokens; n < math.MaxInt64 && (cost(n, got.Ratio) > float64(got.FreeBytes) || cost(n+1, got.Ratio) <= float64(got.FreeBytes)) {
				t.Errorf("%d tokens: cost %g, one more %g, free %d", n, cost(n, got.Ratio), cost(n+1, got.Ratio), got.FreeBytes)
			}
		})
	}
}
