package tui

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"

	"nexusquant/eval"
	"nexusquant/internal/units"
)

// capacityPane turns the measured ratio into context: how many tokens of KV
// cache fit in a memory budget once the model's weights are loaded, in
// float16 and under the current settings. Sliding-window layers stop
// growing at their window: the per-token bytes are then the other layers',
// and a line says what the windows hold.
type capacityPane struct{}

func (capacityPane) Title() string { return "Capacity" }

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
	c := eval.NewCapacity(sh, st.budget, ratio)
	ctxCaps := sh.Ctx > 0 && c.Ratio > 0 && int64(sh.Ctx) < c.Tokens

	name := sh.Name
	if name == "" {
		name = filepath.Base(sh.Path)
	}
	dims := fmt.Sprintf("%s × %s × d=%d", plural(sh.Layers, "layer"), plural(sh.KVHeads, "KV head"), sh.HeadDim)
	weights := ""
	if sh.WeightBytes > 0 {
		weights = "weights " + units.DecimalBytes(sh.WeightBytes)
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
	case c.F16BytesPerToken == 0:
		add(" ", sty.Warn.Render("the model's shape is unknown:"), sty.Warn.Render("no KV size per token"))
		model()
		return paneBody(lines, w, h)
	case c.FreeBytes == 0:
		add(" ", sty.Bad.Render("the weights alone ("+units.DecimalBytes(c.WeightBytes)+")"), sty.Bad.Render("exceed the budget ("+units.DecimalBytes(c.BudgetBytes)+")"))
		add("   ", "budget "+units.DecimalBytes(c.BudgetBytes), keys)
		model()
		return paneBody(lines, w, h)
	case c.Ratio > 0 && c.Tokens == 0:
		add(" ", sty.Bad.Render("not one token's KV cache fits"), sty.Bad.Render("in what the weights leave"))
	case c.Ratio > 0:
		was := units.Count(c.F16Tokens)
		if c.F16Tokens == 0 {
			was = "none"
		}
		hl := sty.Good.Bold(true)
		add(" ", hl.Render(units.Count(c.Tokens)+" tokens fit"), hl.Render("where "+was+" did"))
		if ctxCaps {
			add(" ", sty.Dim.Render("(the model's own context is "+strconv.Itoa(sh.Ctx)+")"))
		}
	default:
		add(" ", sty.Value.Bold(true).Render(units.Count(c.F16Tokens)+" tokens fit in float16"))
	}
	model()
	add(" · ", "budget "+units.DecimalBytes(c.BudgetBytes), "free after weights "+units.DecimalBytes(c.FreeBytes), keys)
	if c.Ratio > 0 {
		add("   ", "KV per token  f16 "+capBytes(c.F16BytesPerToken), "compressed "+capBytes(c.BytesPerToken))
		if c.SlidingLayers > 0 {
			add("   ", "windows       f16 "+capBytes(c.F16WindowBytes), "compressed "+capBytes(c.WindowBytes))
		}
		add("   ", "fit           f16 "+units.Count(c.F16Tokens), "compressed "+units.Count(c.Tokens)+" tokens")
	} else {
		add("   ", "KV per token  f16 "+capBytes(c.F16BytesPerToken))
		if c.SlidingLayers > 0 {
			add("   ", "windows       f16 "+capBytes(c.F16WindowBytes))
		}
		add("   ", "fit           f16 "+units.Count(c.F16Tokens)+" tokens")
	}
	if c.SlidingLayers > 0 {
		add(" ", sty.Dim.Render(fmt.Sprintf("%s of %d stop at their %d-token window;", plural(c.SlidingLayers, "sliding layer"), sh.Layers, c.SlidingWindow)),
			sty.Dim.Render("per token: the others"))
	}
	add(" ", basis)
	return paneBody(lines, w, h)
}

// capBytes writes a per-token size in binary units: "40.0 KiB", "122 B".
func capBytes(b float64) string {
	if !finite(b) {
		return badNum(b)
	}
	return units.Bytes(int64(math.Round(b)))
}
