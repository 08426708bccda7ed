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
	Method             string                `json:"method"`
	RatioPayload       float64               `json:"ratio_payload"`
	RatioTotal         float64               `json:"ratio_total"`
	RatioResident      float64               `json:"ratio_resident"`
	BaselineBytes      int64                 `json:"baseline_bytes"`
	StoredBytes        int64                 `json:"stored_bytes"`
	ResidentBytes      int64                 `json:"resident_bytes"`
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
	Pooled             QualityFigures        `json:"pooled"`
	Windows            []WindowFigures       `json:"windows"`
	PipelineMs         float64               `json:"pipeline_ms"`
	ContinuationMs     float64               `json:"continuation_ms"`
	Rerun              *RerunCost            `json:"rerun,omitempty"`
	Text               *TextDiff             `json:"text,omitempty"`
	NIAH               *NeedleResult         `json:"niah,omitempty"`
	Pareto             *bool                 `json:"pareto,omitempty"`
	// Model and Input say which model and text were measured (set by
	// Identify; "text" is the greedy continuations' key).
	Model *sessions.Model `json:"model,omitempty"`
	Input *sessions.Text  `json:"input,omitempty"`
}

// StageFigures is one stage's row: the keys the issue fixes.
type StageFigures struct {
	Name    string  `json:"name"`
	Bytes   int64   `json:"bytes"`
	RelErrK float64 `json:"rel_err_k"`
	RelErrV float64 `json:"rel_err_v"`
	Ms      float64 `json:"ms"`
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
		PipelineMs:         ms(r.Timing.Pipeline.Seconds()),
		ContinuationMs:     ms(r.Timing.Continuation.Seconds()),
	}
	for _, st := range rep.Stages {
		out.Stages = append(out.Stages, StageFigures{Name: st.Name, Bytes: st.Bytes, RelErrK: st.RelErrK, RelErrV: st.RelErrV, Ms: st.Ms})
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
// key-bits, …) to its value.
func SettingsByFlag(s stages.Settings) map[string]any {
	out := map[string]any{}
	for _, f := range stages.Fields() {
		v, _ := s.Get(f.Name)
		out[strings.ReplaceAll(f.Name, "_", "-")] = typed(v)
	}
	return out
}

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
