package tui

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"

	"nexusquant/engine"
	"nexusquant/internal/units"
)

// capacityPane turns the measured ratio into context: how many tokens of KV
// cache fit in a memory budget once the model's weights are loaded, in
// float16 and under the current settings.
type capacityPane struct{}

func (capacityPane) Title() string { return "Capacity" }

// capacityDefaultBudget is the budget when the state has none: 24 GB.
const capacityDefaultBudget = 24_000_000_000

// capacity is the arithmetic of the capacity pane.
type capacity struct {
	// F16PerToken = 2 · layers · 2 · kvHeads · headDim: float16 K and V of
	// one token.
	F16PerToken int64
	// Ratio is the ratio_total used, 0 when it is unknown or unusable
	// (NaN, infinite, ≤ 0).
	Ratio float64
	// CompPerToken = F16PerToken / Ratio (0 without a ratio).
	CompPerToken float64
	// Budget and Weights in bytes; Free = Budget − Weights, 0 when the
	// weights alone exceed the budget (WeightsExceed).
	Budget, Weights, Free int64
	WeightsExceed         bool
	// F16Tokens and CompTokens fit in Free (CompTokens 0 without a ratio).
	F16Tokens, CompTokens int64
	// Ctx is the model's own context (0: unknown); CtxCaps is set when it is
	// shorter than the compressed cache's fit.
	Ctx     int
	CtxCaps bool
}

// capacityFigures computes what fits in budget bytes for a model of shape sh
// with KV compressed at ratio (ratio_total).
func capacityFigures(sh engine.Shape, budget int64, ratio float64) capacity {
	c := capacity{Budget: budget, Weights: max(sh.WeightBytes, 0), Ctx: max(sh.Ctx, 0)}
	if sh.Layers > 0 && sh.KVHeads > 0 && sh.HeadDim > 0 {
		c.F16PerToken = 2 * int64(sh.Layers) * 2 * int64(sh.KVHeads) * int64(sh.HeadDim)
	}
	if finite(ratio) && ratio > 0 {
		c.Ratio = ratio
	}
	c.Free = budget - c.Weights
	if c.Free <= 0 {
		c.Free, c.WeightsExceed = 0, true
	}
	if c.F16PerToken > 0 {
		c.F16Tokens = c.Free / c.F16PerToken
		if c.Ratio > 0 {
			c.CompPerToken = float64(c.F16PerToken) / c.Ratio
			c.CompTokens = int64(min(math.Floor(float64(c.Free)/c.CompPerToken), 1<<62))
		}
	}
	c.CtxCaps = c.Ctx > 0 && c.Ratio > 0 && int64(c.Ctx) < c.CompTokens
	return c
}

func (capacityPane) Render(st *state, sty *Styles, w, h int) string {
	if st == nil || sty == nil || w <= 0 || h <= 0 {
		return ""
	}
	if st.shape == nil {
		msg := "waiting for the model's shape…"
		if st.phase == phaseFailed {
			msg = "no model shape: loading failed"
		}
		return paneBody([]string{sty.Dim.Render(msg)}, w, h)
	}
	sh := *st.shape
	budget := st.budget
	if budget <= 0 {
		budget = capacityDefaultBudget
	}
	ratio := math.NaN()
	var basis string
	switch rep := st.cur.report; {
	case rep == nil && st.phase == phaseRunning:
		basis = sty.Dim.Render("compressed figures follow this run's pipeline")
	case rep == nil:
		basis = sty.Dim.Render("no run yet: float16 only")
	case !finite(rep.RatioTotal) || rep.RatioTotal <= 0:
		basis = sty.Warn.Render("ratio_total " + fixedNum(rep.RatioTotal, 1) + " on this run: no compressed figure")
	default:
		ratio = rep.RatioTotal
		basis = sty.Dim.Render("ratio_total " + timesNum(ratio) + " measured on this run")
	}
	c := capacityFigures(sh, budget, ratio)

	name := sh.Name
	if name == "" {
		name = filepath.Base(sh.Path)
	}
	dims := fmt.Sprintf("%s × %s × d=%d", plural(sh.Layers, "layer"), plural(sh.KVHeads, "KV head"), sh.HeadDim)
	weights := ""
	if sh.WeightBytes > 0 {
		weights = "weights " + capGB(sh.WeightBytes)
		if sh.WeightType != "" {
			weights += " " + sh.WeightType
		}
	}
	keys := sty.HelpKey.Render("+/-") + sty.HelpDesc.Render(" budget")

	// each line is parts that flow onto more lines when the pane is narrow
	var lines []string
	add := func(sep string, parts ...string) { lines = append(lines, flowParts(w, sep, parts)...) }
	model := func() { add(" · ", name, dims, weights) }
	switch {
	case c.F16PerToken == 0:
		add(" ", sty.Warn.Render("the model's shape is unknown:"), sty.Warn.Render("no KV size per token"))
		model()
		return paneBody(lines, w, h)
	case c.WeightsExceed:
		add(" ", sty.Bad.Render("the weights alone ("+capGB(c.Weights)+")"), sty.Bad.Render("exceed the budget ("+capGB(c.Budget)+")"))
		add("   ", "budget "+capGB(c.Budget), keys)
		model()
		return paneBody(lines, w, h)
	case c.Ratio > 0 && c.CompTokens == 0:
		add(" ", sty.Bad.Render("not one token's KV cache fits"), sty.Bad.Render("in what the weights leave"))
	case c.Ratio > 0:
		was := capTokens(c.F16Tokens)
		if c.F16Tokens == 0 {
			was = "none"
		}
		hl := sty.Good.Bold(true)
		add(" ", hl.Render(capTokens(c.CompTokens)+" tokens fit"), hl.Render("where "+was+" did"))
		if c.CtxCaps {
			add(" ", sty.Dim.Render("(the model's own context is "+strconv.Itoa(c.Ctx)+")"))
		}
	default:
		add(" ", sty.Value.Bold(true).Render(capTokens(c.F16Tokens)+" tokens fit in float16"))
	}
	model()
	add(" · ", "budget "+capGB(c.Budget), "free after weights "+capGB(c.Free), keys)
	if c.Ratio > 0 {
		add("   ", "KV per token  f16 "+capBytes(float64(c.F16PerToken)), "compressed "+capBytes(c.CompPerToken))
		add("   ", "fit           f16 "+capTokens(c.F16Tokens), "compressed "+capTokens(c.CompTokens)+" tokens")
	} else {
		add("   ", "KV per token  f16 "+capBytes(float64(c.F16PerToken)))
		add("   ", "fit           f16 "+capTokens(c.F16Tokens)+" tokens")
	}
	add(" ", basis)
	return paneBody(lines, w, h)
}

// capGB writes a budget-sized byte count in decimal gigabytes (the budget
// keys step by 1 GB): "24 GB", "4.1 GB", "0.13 GB".
func capGB(b int64) string {
	g := float64(b) / 1e9
	switch {
	case g >= 100 || g == math.Trunc(g):
		return fmt.Sprintf("%.0f GB", g)
	case g >= 1:
		return fmt.Sprintf("%.1f GB", g)
	case b >= 1e6:
		return fmt.Sprintf("%.0f MB", float64(b)/1e6)
	}
	return fmt.Sprintf("%.0f KB", float64(b)/1e3)
}

// capBytes writes a per-token size in binary units: "40 KiB", "2.3 KiB".
func capBytes(b float64) string {
	if !finite(b) {
		return badNum(b)
	}
	switch {
	case b >= 1<<40:
		return fmt.Sprintf("%.3g TiB", b/(1<<40))
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

// capTokens writes a token count for people: 950, 7.5K, 131K, 1.2M, 3.4B.
func capTokens(n int64) string { return units.Count(n) }
