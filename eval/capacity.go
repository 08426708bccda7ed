package eval

import (
	"fmt"
	"math"

	"nexusquant/engine"
	"nexusquant/internal/units"
)

// DefaultBudget is the memory budget NewCapacity assumes when given none:
// 24 GB (24e9 bytes), the memory of a common 24 GB GPU.
const DefaultBudget int64 = 24e9

// Capacity is how many tokens of KV cache fit in a memory budget, in float16
// and under the current settings.
type Capacity struct {
	// Model is the model's name (Shape.Name); Layers, KVHeads and HeadDim
	// are its KV geometry and WeightBytes the size of its weights, which
	// take their share of the budget first.
	Model                    string
	Layers, KVHeads, HeadDim int
	WeightBytes              int64

	BudgetBytes int64 // the memory budget (default 24 GB = 24e9 bytes)
	FreeBytes   int64 // budget minus weights (0 if negative)
	// Ratio is the compression ratio (ratio_total) the compressed figures
	// divide by, or 0 when the ratio given was not a finite positive
	// number: then BytesPerToken, WindowBytes and Tokens are the float16
	// figures.
	Ratio float64
	// F16BytesPerToken is 2 · L_full · 2 · Hkv · d, the float16 keys and
	// values a token adds to the layers that keep every position (every
	// layer but the sliding-window ones); BytesPerToken is the same under
	// the current settings: F16BytesPerToken / Ratio.
	F16BytesPerToken float64
	BytesPerToken    float64
	// SlidingLayers count the sliding-window layers, whose cache stops
	// growing at SlidingWindow positions (Shape.CacheTokens), and
	// F16WindowBytes is what they hold then (2 · W · L_sliding · 2 · Hkv ·
	// d); WindowBytes is F16WindowBytes / Ratio. All 0 without such layers.
	SlidingLayers, SlidingWindow int
	F16WindowBytes, WindowBytes  float64
	// F16Tokens and Tokens are the longest contexts whose cache fits in
	// FreeBytes — FreeBytes divided by the per-token bytes, rounded down,
	// when no layer slides (0 when the geometry is unknown).
	F16Tokens, Tokens int64
}

// NewCapacity works out the capacity of sh's KV cache in a budget of
// budget bytes (DefaultBudget when budget ≤ 0), in float16 and compressed
// by ratioTotal (the measured ratio_total of a run, applied to every
// layer's cache alike). A context of t tokens costs Σ over layers of
// sh.CacheTokens(l, t) positions, so sliding-window layers stop adding
// bytes at their window. It never panics: a ratio that is 0, negative,
// infinite or NaN counts as unknown (Ratio 0, float16 figures), weights
// larger than the budget leave no tokens, and a shape without KV geometry
// gives zero tokens.
func NewCapacity(sh engine.Shape, budget int64, ratioTotal float64) Capacity {
	if budget <= 0 {
		budget = DefaultBudget
	}
	c := Capacity{
		Model: sh.Name, Layers: sh.Layers, KVHeads: sh.KVHeads, HeadDim: sh.HeadDim, WeightBytes: sh.WeightBytes,
		BudgetBytes: budget, FreeBytes: max(budget-max(sh.WeightBytes, 0), 0),
	}
	var slidingPerToken float64 // float16 bytes a token adds to the sliding layers, up to the window
	if sh.Layers > 0 && sh.KVHeads > 0 && sh.HeadDim > 0 {
		perLayer := 2 * 2 * float64(sh.KVHeads) * float64(sh.HeadDim)
		full := sh.Layers
		if sh.SlidingWindow > 0 {
			for l := range sh.Layers {
				if sh.CacheTokens(l, sh.SlidingWindow+1) <= sh.SlidingWindow {
					c.SlidingLayers++
				}
			}
			if c.SlidingLayers > 0 {
				c.SlidingWindow = sh.SlidingWindow
				full -= c.SlidingLayers
				slidingPerToken = perLayer * float64(c.SlidingLayers)
				c.F16WindowBytes = slidingPerToken * float64(c.SlidingWindow)
			}
		}
		c.F16BytesPerToken = perLayer * float64(full)
	}
	c.BytesPerToken, c.WindowBytes = c.F16BytesPerToken, c.F16WindowBytes
	r := 1.0
	if ratioTotal > 0 && !math.IsInf(ratioTotal, 0) { // NaN fails the comparison
		c.Ratio, r = ratioTotal, ratioTotal
		c.BytesPerToken = c.F16BytesPerToken / ratioTotal
		c.WindowBytes = c.F16WindowBytes / ratioTotal
	}
	c.F16Tokens = fitTokens(c.FreeBytes, c.F16BytesPerToken, slidingPerToken, c.SlidingWindow)
	c.Tokens = fitTokens(c.FreeBytes, c.BytesPerToken, slidingPerToken/r, c.SlidingWindow)
	return c
}

// fitTokens is the longest context t whose cache fits in free bytes when
// each token costs full bytes, plus sliding bytes for the first window
// tokens: full·t + sliding·min(t, window) ≤ free. Capped at math.MaxInt64;
// 0 when nothing is known.
func fitTokens(free int64, full, sliding float64, window int) int64 {
	if sliding <= 0 || window <= 0 {
		return tokensIn(free, full)
	}
	if free <= 0 || !(full+sliding > 0) {
		return 0
	}
	if float64(free) <= (full+sliding)*float64(window) { // the window is not full yet
		return tokensIn(free, full+sliding)
	}
	if !(full > 0) { // every layer slides: the cache never outgrows the window
		return math.MaxInt64
	}
	n := math.Floor((float64(free) - sliding*float64(window)) / full)
	if n >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(n)
}

// tokensIn is how many whole tokens of perToken bytes fit in free bytes,
// capped at math.MaxInt64; 0 when perToken is not positive.
func tokensIn(free int64, perToken float64) int64 {
	if free <= 0 || !(perToken > 0) {
		return 0
	}
	n := math.Floor(float64(free) / perToken)
	if n >= math.MaxInt64 { // also +Inf, for a vanishing perToken
		return math.MaxInt64
	}
	return int64(n)
}

// Line renders the capacity as one line with human token counts, e.g.
// "128K tokens fit where 7.5K did" (compressed, then float16), or says why
// there is no such figure.
func (c Capacity) Line() string {
	switch {
	case c.F16BytesPerToken <= 0:
		return "KV cache capacity unknown: the model's layer count, KV heads or head dimension is missing"
	case c.FreeBytes <= 0:
		return fmt.Sprintf("no room for a KV cache: the weights (%s) fill the %s budget", units.DecimalBytes(c.WeightBytes), units.DecimalBytes(c.BudgetBytes))
	case c.Ratio == 0:
		return fmt.Sprintf("%s tokens fit in float16 (no compression ratio measured yet)", units.Count(c.F16Tokens))
	}
	return fmt.Sprintf("%s tokens fit where %s did", units.Count(c.Tokens), units.Count(c.F16Tokens))
}
