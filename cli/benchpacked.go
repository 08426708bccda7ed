package cli

import (
	"context"
	"fmt"
	"time"

	"nexusquant/engine"
	"nexusquant/eval"
	"nexusquant/stages"
	"nexusquant/stages/baselines"
)

// packedResult describes the packed prefix a packed-cache bench decodes
// from; JSON keys are stable.
type packedResult struct {
	Method       string         `json:"method"`
	Settings     map[string]any `json:"settings"`
	PrefixTokens int            `json:"prefix_tokens"`
	// PackedBytes is the packed cache's stored size (the .nqkv bytes),
	// Float16Bytes the same prefix's keys and values as float16.
	PackedBytes  int64 `json:"packed_bytes"`
	Float16Bytes int64 `json:"float16_bytes"`
	// DecodeFormBytes is the decode form the packed cache keeps resident
	// once decoded from (stages.Compressed.PrepareDecode: codes
	// decompressed, un-delta'd and packed, scales and positions decoded),
	// ResidentBytes everything the packed cache held after the timed
	// decode steps (stored frames, indexes, decode form, decode scratch).
	DecodeFormBytes int64 `json:"decode_form_bytes"`
	ResidentBytes   int64 `json:"resident_bytes"`
	// BlockTokens is B, the rows of a stored frame, and ReadBlockRows R,
	// the rows of a read block (stages.Compressed.ReadBlockRows); decoding
	// serves every read block from the decode form, so R < B no longer
	// decompresses a frame again per read block. ReaderBytes is one
	// reader's decode buffers when reading the stored frames.
	BlockTokens   int     `json:"block_tokens"`
	ReadBlockRows int     `json:"read_block_rows"`
	ReaderBytes   int64   `json:"reader_bytes"`
	PipelineS     float64 `json:"pipeline_s"`
}

// benchPacked times one-token decode steps after a prefix of prefill tokens,
// over that prefix packed with s and over the same prefix as a float cache:
// it prefills once (with attention statistics, for the scorers that read
// them), packs the cache, then runs reps rounds, each decoding decode tokens
// from the packed prefix (plus a float tail, as eval's continuation does)
// and from the float cache truncated back to the prefix. The two alternate
// which goes first from round to round, so that drift hits both alike; the
// best round of each is reported.
func benchPacked(ctx context.Context, m *engine.Model, s stages.Settings, prefill, decode, reps int) (*benchResult, error) {
	out := &benchResult{PrefillTokens: prefill, DecodeTokens: decode, Reps: reps, Threads: engine.Threads(), Kernels: m.Kernels()}
	ids := engine.BenchIDs(m.Config.Vocab, prefill)
	fc := m.NewCache()
	t0 := time.Now()
	_, st, err := m.Forward(ctx, fc, ids, 0, engine.ForwardOptions{Stats: max(s.ObsWindow, 1)})
	if err != nil {
		return nil, err
	}
	out.PrefillTokS = float64(prefill) / time.Since(t0).Seconds()
	t0 = time.Now()
	res, err := packPrefix(ctx, m, fc, st, s)
	if err != nil {
		return nil, err
	}
	packed := res.Compressed
	out.Packed = &packedResult{
		Method: s.Method, Settings: eval.SettingsByFlag(s), PrefixTokens: prefill,
		PackedBytes: res.Report.Stored.Total(), Float16Bytes: res.Report.BaselineBytes,
		BlockTokens: s.BlockTokens, ReadBlockRows: packed.ReadBlockRows(), ReaderBytes: packed.ReaderBytes(),
		PipelineS: time.Since(t0).Seconds(),
	}

	// decodeFrom times decode steps from a fresh copy of the prefix.
	decodeFrom := func(fromPacked bool, n int) (float64, error) {
		if fromPacked {
			ov := eval.NewOverlay(eval.Packed(packed))
			ov.Tail.Reserve(n) // as the float cache's rows are, from its earlier rounds
			return m.BenchDecode(ctx, ov, prefill, n)
		}
		fc.Truncate(prefill)
		return m.BenchDecode(ctx, fc, prefill, n)
	}
	// One untimed step each first: the packed cache's decode form and
	// scratch and the float cache's next block are built here, not in
	// round 0.
	for _, p := range []bool{true, false} {
		if _, err := decodeFrom(p, 1); err != nil {
			return nil, err
		}
	}
	for r := 0; r < reps; r++ {
		order := []bool{true, false}
		if r%2 == 1 {
			order = []bool{false, true}
		}
		for _, p := range order {
			tps, err := decodeFrom(p, decode)
			if err != nil {
				return nil, err
			}
			if p {
				out.DecodeTokS = max(out.DecodeTokS, tps)
			} else {
				out.DecodeTokSFloat = max(out.DecodeTokSFloat, tps)
			}
		}
	}
	out.DecodePackedVsFloat = out.DecodeTokS / out.DecodeTokSFloat
	out.Packed.DecodeFormBytes, out.Packed.ResidentBytes = packed.DecodeFormBytes(), packed.ResidentBytes()
	return out, nil
}

// packPrefix runs the compression pipeline with s over a prefilled float
// cache and its attention statistics. It is the one place bench builds
// stages values (eval's prefillFor does the same for evaluations).
func packPrefix(ctx context.Context, m *engine.Model, c *engine.FloatCache, st *engine.AttnStats, s stages.Settings) (*stages.Result, error) {
	if err := baselines.Supported(s.Method, m.Config.HeadDim); err != nil {
		return nil, fmt.Errorf("%s: %w", m.Path, err)
	}
	L, H, d, T, K, V := c.Export()
	kv := &stages.KV{Layers: L, KVHeads: H, HeadDim: d, T: T, K: K, V: V, Attn: eval.LayerAttn(m.Config)}
	stats := &stages.AttnStats{Layers: st.Layers, Heads: st.Heads, T: st.T, Window: st.Window, Obs: st.Obs, All: st.All, Last: st.Last}
	return stages.NewPipeline(kv, stats, m.RoPERows, "nexusquant-bench").Run(ctx, s)
}
