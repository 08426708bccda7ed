package eval

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"nexusquant/engine"
	"nexusquant/engine/tokenizer"
	"nexusquant/internal/atomicfile"
	"nexusquant/stages"
)

// WriteCache writes a packed cache to path atomically, so a failed write
// never leaves a truncated .nqkv behind. It returns the bytes written.
func WriteCache(path string, c *stages.Compressed) (int64, error) {
	var n int64
	err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		var err error
		n, err = c.WriteTo(w)
		return err
	})
	return n, err
}

// ReadCache reads a packed cache file written for model m and checks that it
// was: a cache from another model (by GGUF header hash) is refused, naming
// both.
func ReadCache(path string, m *engine.Model) (*stages.Compressed, cacheIdentity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, cacheIdentity{}, err
	}
	c, err := stages.ReadCompressed(data, m.RoPERows)
	if err != nil {
		return nil, cacheIdentity{}, fmt.Errorf("%s: %w", path, err)
	}
	id, err := parseIdentity(c.ModelID())
	if err != nil {
		return nil, id, fmt.Errorf("%s: %w", path, err)
	}
	if want := ModelHash(m); id.Model != want {
		return nil, id, fmt.Errorf("%s was written for another model (%s, %s, header sha256 %.12s…), not %s (%s, header sha256 %.12s…); use the model it came from",
			path, id.File, id.Arch, id.Model, filepath.Base(m.Path), m.Config.Arch, want)
	}
	if err := checkShape(Packed(c), m); err != nil {
		return nil, id, fmt.Errorf("%s: %w", path, err)
	}
	if err := checkLayers(c, m); err != nil {
		return nil, id, fmt.Errorf("%s: %w", path, err)
	}
	return c, id, nil
}

// RunFromFile continues window 0 from a packed cache file instead of
// compressing in memory. The file must hold this explorer's prefix (same
// model, same prefix tokens). Only one window is supported.
func (e *Explorer) RunFromFile(ctx context.Context, path string) (*Result, error) {
	if len(e.Windows) != 1 {
		return nil, fmt.Errorf("--cache continues one prefix; got %d windows", len(e.Windows))
	}
	c, id, err := ReadCache(path, e.Model)
	if err != nil {
		return nil, err
	}
	w := e.Windows[0]
	if id.Prefix != tokenizer.HashIDs(w.IDs[:e.Prefix]) || id.Tokens != e.Prefix {
		return nil, fmt.Errorf("%s holds another prefix (%d tokens) than this run's (%d tokens): give the same --prompt (or --file and --prefix) that `compress` was given", path, id.Tokens, e.Prefix)
	}
	res := &Result{Settings: c.Settings(), Packed: c}
	t0 := time.Now()
	comp, err := e.continueFrom(ctx, Packed(c), w, nil, nil)
	if err != nil {
		return nil, err
	}
	res.Timing.Continuation = time.Since(t0)
	m := engine.CompareLogits(w.base, comp, e.Model.Config.Vocab, w.Targets(e.Prefix), e.Bootstrap, e.Seed)
	rep := reportOf(c, e.Prefix)
	res.Windows = []WindowResult{{Report: rep, Metrics: m}}
	res.Metrics, res.Pooled, res.Report = m, m, rep
	return res, nil
}

// reportOf is the part of a pipeline report a packed cache can tell by itself:
// stored bytes, the three ratios, the decode form and the per-layer bytes
// (no per-stage figures, no errors).
func reportOf(c *stages.Compressed, T int) stages.Report {
	L, H, d := c.Dims()
	st := c.Stored()
	r := stages.Report{
		Method:        c.Settings().Method,
		BaselineBytes: c.BaselineBytes(),
		Stored:        st,
		// As a pipeline reports them: the decode form, which the
		// continuation built, apart.
		ResidentBytes:    c.ResidentBytes() - c.DecodeFormBytes(),
		ReaderBytes:      c.ReaderBytes(),
		DecodeFormBytes:  c.DecodeFormSize(),
		PositionEncoding: c.PositionEncoding(),
		ScalesEncoding:   c.ScalesEncoding(),
	}
	r.RatioPayload = ratio(r.BaselineBytes, st.Codes+st.FP16Layers)
	r.RatioTotal = ratio(r.BaselineBytes, st.Total())
	r.RatioResident = ratio(r.BaselineBytes, r.ResidentBytes)
	r.Layers = c.LayerFigures()
	r.Kinds = stages.SumKinds(r.Layers)
	for l := range L {
		if t := c.CachedTokens(l); t < T {
			r.SlidingLayers++
			r.SlidingWindow = t
		}
	}
	if r.SlidingLayers > 0 {
		r.BaselineAllPositionsBytes = int64(2 * T * L * 2 * H * d)
	}
	return r
}

// Compress prefills prefix, runs the pipeline with s and returns the packed
// cache (identity: this model and this prefix) with its report.
func Compress(ctx context.Context, m *engine.Model, prefix []int32, s stages.Settings) (*stages.Result, error) {
	if err := checkMethod(s, m); err != nil {
		return nil, err
	}
	pf, err := prefillFor(ctx, m, prefix, s.ObsWindow, nil)
	if err != nil {
		return nil, err
	}
	return pf.pipe.Run(ctx, s)
}

// prefilled is one prefix after prefill: its float cache, the logits that
// predict the next token, and a pipeline over its exported cache.
type prefilled struct {
	cache *engine.FloatCache
	first []float32
	pipe  *stages.Pipeline
	kv    *stages.KV
	stats *stages.AttnStats
}

func prefillFor(ctx context.Context, m *engine.Model, prefix []int32, obsWindow int, onLayer func(done, total int)) (*prefilled, error) {
	if len(prefix) > m.Config.Ctx {
		return nil, fmt.Errorf("prompt of %d tokens exceeds the model's context of %d", len(prefix), m.Config.Ctx)
	}
	cache := m.NewCache()
	first, st, err := m.Forward(ctx, cache, prefix, 0, engine.ForwardOptions{Stats: max(obsWindow, 1), Progress: onLayer})
	if err != nil {
		return nil, err
	}
	L, H, d, T, K, V := cache.Export()
	kv := &stages.KV{Layers: L, KVHeads: H, HeadDim: d, T: T, K: K, V: V, Attn: LayerAttn(m.Config)}
	stats := &stages.AttnStats{Layers: st.Layers, Heads: st.Heads, T: st.T, Window: st.Window, Obs: st.Obs, All: st.All, Last: st.Last}
	pipe := stages.NewPipeline(kv, stats, m.RoPERows, identityFor(m, prefix).String())
	return &prefilled{cache: cache, first: first, pipe: pipe, kv: kv, stats: stats}, nil
}
