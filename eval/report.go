package eval

import (
	"strconv"
	"strings"

	"nexusquant/engine"
	"nexusquant/sessions"
	"nexusquant/stages"
)

// Source describes the evaluated text and how it is cut: Prefix and
// Continuation tokens per window, Windows windows (0 asks for as many as the
// text holds; Prepare fills in the numbers it used).
type Source struct {
	Kind                          string // "file" or "prompt"
	Path                          string // the file, for Kind "file"
	Text                          string
	Prefix, Continuation, Windows int
}

// Report is the JSON object `eval --json` prints (keys are stable; more may be
// added). Byte figures sum over windows; quality figures are means over
// windows with the interval pooled over every scored position.
type Report struct {
	Method        string  `json:"method"`
	RatioPayload  float64 `json:"ratio_payload"`
	RatioTotal    float64 `json:"ratio_total"`
	RatioResident float64 `json:"ratio_resident"`
	BaselineBytes int64   `json:"baseline_bytes"`
	// SlidingLayers, SlidingWindow and BaselineAllPositionsBytes say how
	// sliding-window layers shape the baseline (stages.Report; absent
	// without such layers).
	SlidingLayers             int   `json:"sliding_layers,omitempty"`
	SlidingWindow             int   `json:"sliding_window,omitempty"`
	BaselineAllPositionsBytes int64 `json:"baseline_all_positions_bytes,omitempty"`
	StoredBytes               int64 `json:"stored_bytes"`
	ResidentBytes             int64 `json:"resident_bytes"`
	// DecodeFormBytes is what decoding from the packed cache holds beyond
	// ResidentBytes: its resident decode form (stages.Report).
	DecodeFormBytes    int64                 `json:"decode_form_bytes"`
	Stages             []StageFigures        `json:"stages"`
	PPLBase            float64               `json:"ppl_base"`
	PPL                float64               `json:"ppl"`
	DeltaPPLPct        float64               `json:"delta_ppl_pct"`
	DeltaPPLCI         [2]float64            `json:"delta_ppl_ci"`
	KLD                float64               `json:"kld"`
	Top1Agree          float64               `json:"top1_agree"`
	ScoredPositions    int                   `json:"scored_positions"`
	PrefixTokens       int                   `json:"prefix_tokens"`
	ContinuationTokens int                   `json:"continuation_tokens"`
	Settings           map[string]any        `json:"settings"`
	PositionEncoding   string                `json:"position_encoding"`
	ScalesEncoding     string                `json:"scales_encoding"`
	Stored             stages.StoredSizes    `json:"stored"`
	Blocking           stages.BlockingReport `json:"blocking"`
	// LayerKinds are the baseline and stored bytes per layer type, when the
	// model has more than one; Layers the per-layer figures, when any layer
	// is not a plain full-attention layer with RoPE (sliding window, no
	// RoPE, QK-norm).
	LayerKinds []stages.KindFigures  `json:"layer_kinds,omitempty"`
	Layers     []stages.LayerFigures `json:"layers,omitempty"`
	Pooled     QualityFigures        `json:"pooled"`
	Windows    []WindowFigures       `json:"windows"`
	// PrefillMs is the prefill with statistics and the float baseline of
	// every window (Explorer.PrefillTime), shared by every run.
	PrefillMs      float64       `json:"prefill_ms"`
	PipelineMs     float64       `json:"pipeline_ms"`
	ContinuationMs float64       `json:"continuation_ms"`
	Rerun          *RerunCost    `json:"rerun,omitempty"`
	Text           *TextDiff     `json:"text,omitempty"`
	NIAH           *NeedleResult `json:"niah,omitempty"`
	Pareto         *bool         `json:"pareto,omitempty"`
	// Model and Input say which model and text were measured (set by
	// Identify; "text" is the greedy continuations' key).
	Model *sessions.Model `json:"model,omitempty"`
	Input *sessions.Text  `json:"input,omitempty"`
}

// StageFigures is one stage's row: the keys the issue fixes, and the
// stage's note when it did something particular to some layers.
type StageFigures struct {
	Name    string  `json:"name"`
	Bytes   int64   `json:"bytes"`
	RelErrK float64 `json:"rel_err_k"`
	RelErrV float64 `json:"rel_err_v"`
	Ms      float64 `json:"ms"`
	Note    string  `json:"note,omitempty"`
}

// QualityFigures are the SPEC §8 metrics.
type QualityFigures struct {
	PPLBase     float64    `json:"ppl_base"`
	PPL         float64    `json:"ppl"`
	DeltaPPLPct float64    `json:"delta_ppl_pct"`
	DeltaPPLCI  [2]float64 `json:"delta_ppl_ci"`
	KLD         float64    `json:"kld"`
	Top1Agree   float64    `json:"top1_agree"`
	N           int        `json:"n"`
}

// WindowFigures is one window's ratio and quality.
type WindowFigures struct {
	RatioTotal float64 `json:"ratio_total"`
	QualityFigures
}

// NewReport flattens a Result into the JSON report.
func NewReport(e *Explorer, r *Result) *Report {
	rep := r.Report
	out := &Report{
		Method:             rep.Method,
		RatioPayload:       rep.RatioPayload,
		RatioTotal:         rep.RatioTotal,
		RatioResident:      rep.RatioResident,
		BaselineBytes:      rep.BaselineBytes,
		StoredBytes:        rep.Stored.Total(),
		ResidentBytes:      rep.ResidentBytes,
		DecodeFormBytes:    rep.DecodeFormBytes,
		PPLBase:            r.Metrics.PPLBase,
		PPL:                r.Metrics.PPL,
		DeltaPPLPct:        r.Metrics.DeltaPPLPct,
		DeltaPPLCI:         r.Metrics.DeltaPPLCI,
		KLD:                r.Metrics.KLD,
		Top1Agree:          r.Metrics.Top1Agree,
		ScoredPositions:    r.Pooled.N,
		PrefixTokens:       e.Prefix,
		ContinuationTokens: e.Continuation,
		Settings:           SettingsByFlag(r.Settings),
		PositionEncoding:   rep.PositionEncoding,
		ScalesEncoding:     rep.ScalesEncoding,
		Stored:             rep.Stored,
		Blocking:           rep.Blocking,
		Pooled:             quality(r.Pooled),
		PrefillMs:          ms(e.PrefillTime.Seconds()),
		PipelineMs:         ms(r.Timing.Pipeline.Seconds()),
		ContinuationMs:     ms(r.Timing.Continuation.Seconds()),
		SlidingLayers:      rep.SlidingLayers,
		SlidingWindow:      rep.SlidingWindow,

		BaselineAllPositionsBytes: rep.BaselineAllPositionsBytes,
	}
	if len(rep.Kinds) > 1 {
		out.LayerKinds = rep.Kinds
	}
	if layered(&rep) {
		out.Layers = rep.Layers
	}
	for _, st := range rep.Stages {
		out.Stages = append(out.Stages, StageFigures{Name: st.Name, Bytes: st.Bytes, RelErrK: st.RelErrK, RelErrV: st.RelErrV, Ms: st.Ms, Note: st.Note})
	}
	for _, w := range r.Windows {
		out.Windows = append(out.Windows, WindowFigures{RatioTotal: w.Report.RatioTotal, QualityFigures: quality(w.Metrics)})
	}
	return out
}

func quality(m engine.Metrics) QualityFigures {
	return QualityFigures{PPLBase: m.PPLBase, PPL: m.PPL, DeltaPPLPct: m.DeltaPPLPct, DeltaPPLCI: m.DeltaPPLCI, KLD: m.KLD, Top1Agree: m.Top1Agree, N: m.N}
}

func ms(sec float64) float64 { return sec * 1000 }

// SettingsByFlag maps every setting's command-line flag name (eviction-rate,
// key-bits, …) to its value, except the settings of omittedAtDefault while
// they hold their default: reports and session runs that do not use them
// stay what they were before those settings existed (so a session's earlier
// runs still pair with new ones of the same settings), and reading the
// settings back (presets.DecodeSettings) fills in the default.
func SettingsByFlag(s stages.Settings) map[string]any {
	out := map[string]any{}
	def := stages.DefaultSettings()
	for _, f := range stages.Fields() {
		v, _ := s.Get(f.Name)
		if d, _ := def.Get(f.Name); omittedAtDefault[f.Name] && v == d {
			continue
		}
		out[strings.ReplaceAll(f.Name, "_", "-")] = typed(v)
	}
	return out
}

// omittedAtDefault are the settings added after sessions existed that
// SettingsByFlag leaves out at their default.
var omittedAtDefault = map[string]bool{"sliding_layers": true}

// typed turns a setting's text back into a JSON number or bool where it is one.
func typed(v string) any {
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f
	}
	return v
}
