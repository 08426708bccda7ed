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
	// Ratio is the compression ratio (ratio_total) BytesPerToken divides by,
	// or 0 when the ratio given was not a finite positive number: then
	// BytesPerToken and Tokens are the float16 figures.
	Ratio            float64
	F16BytesPerToken float64 // 2 · L · 2 · Hkv · d: float16 keys and values of every layer and KV head
	BytesPerToken    float64 // under the current settings: F16BytesPerToken / Ratio
	// F16Tokens and Tokens are FreeBytes divided by the per-token bytes,
	// rounded down (0 when the geometry is unknown).
	F16Tokens, Tokens int64
}

// NewCapacity works out the capacity of sh's KV cache in a budget of
// budget bytes (DefaultBudget when budget ≤ 0), in float16 and compressed
// by ratioTotal (the measured ratio_total of a run). It never panics: a
// ratio that is 0, negative, infinite or NaN counts as unknown (Ratio 0,
// float16 figures), weights larger than the budget leave no tokens, and a
// shape without KV geometry gives zero tokens.
func NewCapacity(sh engine.Shape, budget int64, ratioTotal float64) Capacity {
	if budget <= 0 {
		budget = DefaultBudget
	}
	c := Capacity{
		Model: sh.Name, Layers: sh.Layers, KVHeads: sh.KVHeads, HeadDim: sh.HeadDim, WeightBytes: sh.WeightBytes,
		BudgetBytes: budget, FreeBytes: max(budget-max(sh.WeightBytes, 0), 0),
	}
	if sh.Layers > 0 && sh.KVHeads > 0 && sh.HeadDim > 0 {
		c.F16BytesPerToken = 2 * float64(sh.Layers) * 2 * float64(sh.KVHeads) * float64(sh.HeadDim)
	}
	c.BytesPerToken = c.F16BytesPerToken
	if ratioTotal > 0 && !math.IsInf(ratioTotal, 0) { // NaN fails the comparison
		c.Ratio = ratioTotal
		c.BytesPerToken = c.F16BytesPerToken / ratioTotal
	}
	c.F16Tokens = tokensIn(c.FreeBytes, c.F16BytesPerToken)
	c.Tokens = tokensIn(c.FreeBytes, c.BytesPerToken)
	return c
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
