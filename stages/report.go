package stages

import (
	"math"
	"slices"
	"time"
)

// StageReport is one bar of the memory chart (SPEC §7): the bytes the cache
// would take if the pipeline stopped after this stage, the relative error of
// the reconstruction through this stage's inverse, and the stage's run time.
type StageReport struct {
	// Name is the stage: score, evict, rope, hadamard, quantize, entropy.
	Name string `json:"name"`
	// Bytes per SPEC §7: score the baseline; evict, rope the float16 kept
	// rows plus the stored positions; hadamard the same at DPad (protected
	// layers at d); quantize the codes packed at PackedBits plus 2 bytes of
	// scale per quantized row plus positions (protected layers as float16,
	// row codecs at their EncodedLen); entropy the file size.
	Bytes int64 `json:"bytes"`
	// RelErrK and RelErrV: evict ‖evicted rows‖_F/‖all rows‖_F; later stages
	// ‖reconstruction − original kept rows‖_F/‖original kept rows‖_F, the
	// entropy stage measured by decoding the whole cache through ReadBlock.
	RelErrK float64 `json:"rel_err_k"`
	RelErrV float64 `json:"rel_err_v"`
	// Duration is the stage's own work when it ran, without the error and
	// blocking-cost measurements (a cached stage keeps its time).
	Duration time.Duration `json:"-"`
	// Ms is Duration in milliseconds.
	Ms float64 `json:"ms"`
	// Cached is true when this Run served the stage from the memo.
	Cached bool `json:"cached"`
	// Note says what the stage did differently on some layers: evict, on a
	// model whose sliding-window layers hold less than the prefix, which
	// rows they drop as unreachable; rope, which layers have no RoPE and
	// keep their keys as computed. Empty otherwise.
	Note string `json:"note,omitempty"`
}

func (r *StageReport) setDuration(d time.Duration) {
	r.Duration = max(d, 0)
	r.Ms = float64(r.Duration) / float64(time.Millisecond)
}

// Report is the outcome of one Pipeline.Run (SPEC §7): per-stage bytes, error
// and time, the three ratios, and how the side streams were stored.
type Report struct {
	Method string        `json:"method"`
	Stages []StageReport `json:"stages"`
	// BaselineBytes is the float16 cache the packed one replaces: Σ over
	// layers of 2 · t_l · 2 · Hkv · d, K and V of every position a real
	// cache holds — t_l = T, or min(T, W) for a sliding-window layer of
	// window W (llama.cpp's cache keeps only the window). Without sliding
	// layers it is 2 · T · L · 2 · Hkv · d (SPEC §7).
	BaselineBytes int64 `json:"baseline_bytes"`
	// SlidingLayers counts the sliding-window layers whose window is
	// shorter than the prefix, SlidingWindow is their window, and
	// BaselineAllPositionsBytes is 2 · T · L · 2 · Hkv · d, the baseline
	// had they held every position; all 0 when there are none.
	SlidingLayers             int   `json:"sliding_layers,omitempty"`
	SlidingWindow             int   `json:"sliding_window,omitempty"`
	BaselineAllPositionsBytes int64 `json:"baseline_all_positions_bytes,omitempty"`
	// KeptRows is the number of kept (token, layer, KV head) rows, per K and V.
	KeptRows int64 `json:"kept_rows"`
	// Stored is the file by stream; Stored.Total() is the entropy stage's bytes.
	Stored StoredSizes `json:"stored"`
	// ResidentBytes is Compressed.ResidentBytes after every block was decoded,
	// holding the decode buffers of one reader: one Block from NewBlock and
	// one decode scratch, measured when the entropy stage built the cache (a
	// memo-served Run reports the same figure). Each further concurrent
	// reader adds ReaderBytes.
	ResidentBytes int64 `json:"resident_bytes"`
	// ReaderBytes is what one reader's decode buffers hold
	// (Compressed.ReaderBytes): its Block of R = Blocking.ReadBlockRows rows
	// (R·d·(4+4) + R·4) and its scratch (about block_tokens·DPad·CodeBytes
	// for the frame plus block_tokens for a scale frame's high bytes).
	ReaderBytes int64 `json:"reader_bytes"`
	// DecodeFormBytes is what the cache adds to ResidentBytes once it is
	// decoded from (Compressed.DecodeFormSize: the resident decode form of
	// PrepareDecode, built by a continuation's first read).
	DecodeFormBytes int64 `json:"decode_form_bytes"`
	// RatioPayload = baseline / row-stream bytes (Stored.Codes + Stored.FP16Layers).
	RatioPayload float64 `json:"ratio_payload"`
	// RatioTotal = baseline / every stored byte (the file size).
	RatioTotal float64 `json:"ratio_total"`
	// RatioResident = baseline / ResidentBytes.
	RatioResident float64 `json:"ratio_resident"`
	// PositionEncoding is how the kept positions are stored: all, gaps,
	// gaps+zstd, bitmap or bitmap+zstd (the smallest).
	PositionEncoding string `json:"position_encoding"`
	// PositionGapsBytes and PositionBitmapBytes are the two encodings'
	// sizes (each the smaller of raw and zstd); PositionBitmapRawBytes is the
	// plain T-bit-per-list bitmap the reference counts. 0 when nothing is evicted.
	PositionGapsBytes      int64 `json:"position_gaps_bytes"`
	PositionBitmapBytes    int64 `json:"position_bitmap_bytes"`
	PositionBitmapRawBytes int64 `json:"position_bitmap_raw_bytes"`
	// ScalesEncoding is how the scale frames are stored (Compressed.ScalesEncoding).
	ScalesEncoding string `json:"scales_encoding"`
	// Blocking is the cost of block_tokens blocks against one frame per stream.
	Blocking BlockingReport `json:"blocking"`
	// Heads holds, per (layer, KV head) in layer-major order, the kept rows and the
	// relative error of K and V of what the model reads (the entropy stage's
	// decode through ReadBlock), so a UI can draw a layer × head grid.
	Heads []HeadFigures `json:"heads"`
	// Layers holds, per layer, its type, how it was stored and its bytes and
	// error, so a UI shows that layer types are compressed differently.
	Layers []LayerFigures `json:"layers"`
	// Kinds sums Layers by layer type (LayerKinds order, the types present).
	Kinds []KindFigures `json:"kinds"`
	// Reran lists the stages this Run executed (the rest came from the memo).
	Reran []string `json:"reran"`
}

// HeadFigures are one (layer, KV head)'s figures of a Report.
type HeadFigures struct {
	Layer int `json:"layer"`
	Head  int `json:"head"`
	// Kept is the number of kept prefix tokens of this (layer, head).
	Kept int `json:"kept"`
	// RelErrK and RelErrV are ‖decoded − original kept rows‖_F / ‖original
	// kept rows‖_F of K and V, decoding through ReadBlock.
	RelErrK float64 `json:"rel_err_k"`
	RelErrV float64 `json:"rel_err_v"`
}

// LayerFigures are one layer's figures of a Report.
type LayerFigures struct {
	Layer int `json:"layer"`
	// Kind is the layer type: full, sliding or no-rope (LayerAttn.Kind);
	// the LayerAttn fields say the window, RoPE and QK-norm.
	Kind string `json:"kind"`
	LayerAttn
	// RoPEUndone: the layer's keys are stored rotated back (rope_undo on a
	// quantized layer with RoPE; float16 layers keep the keys as attended).
	RoPEUndone bool `json:"rope_undone"`
	// Storage is how the layer's rows are stored: "quantized", "float16"
	// (protect_boundary, or a sliding layer under sliding_layers float16)
	// or the row codec's name.
	Storage string `json:"storage"`
	// Cached is the prefix positions the layer's float16 cache holds (T, or
	// a sliding window); Kept the kept rows summed over the KV heads.
	Cached int `json:"cached"`
	Kept   int `json:"kept"`
	// BaselineBytes is the layer's share of Report.BaselineBytes;
	// StoredBytes its row and scale frames (Compressed.LayerBytes).
	BaselineBytes int64 `json:"baseline_bytes"`
	StoredBytes   int64 `json:"stored_bytes"`
	// RelErrK and RelErrV are the decode error of the layer's kept rows, as
	// for HeadFigures.
	RelErrK float64 `json:"rel_err_k"`
	RelErrV float64 `json:"rel_err_v"`
}

// KindFigures sum the layers of one type. Stored bytes are the layers' row
// and scale frames; positions and header (Stored.Positions, Stored.Header)
// are shared and counted in no type.
type KindFigures struct {
	Kind          string  `json:"kind"`
	Layers        int     `json:"layers"`
	BaselineBytes int64   `json:"baseline_bytes"`
	StoredBytes   int64   `json:"stored_bytes"`
	Ratio         float64 `json:"ratio"` // BaselineBytes / StoredBytes
}

// SumKinds sums layer figures by type, in LayerKinds order, leaving out the
// types no layer has.
func SumKinds(layers []LayerFigures) []KindFigures {
	var out []KindFigures
	for _, k := range LayerKinds {
		f := KindFigures{Kind: k}
		for _, l := range layers {
			if l.Kind == k {
				f.Layers++
				f.BaselineBytes += l.BaselineBytes
				f.StoredBytes += l.StoredBytes
			}
		}
		if f.Layers > 0 {
			f.Ratio = ratio(f.BaselineBytes, f.StoredBytes)
			out = append(out, f)
		}
	}
	return out
}

// BlockingReport compares the row streams cut into blocks with the same
// streams as one zstd frame per (layer, K/V, head) (delta not restarted), and
// the scale frames likewise. Header bytes of the frame tables are not
// included in any figure.
type BlockingReport struct {
	BlockTokens int `json:"block_tokens"`
	// ReadBlockRows is R, the rows ReadBlock decodes at a time
	// (Compressed.ReadBlockRows).
	ReadBlockRows int `json:"read_block_rows"`
	// BlockedBytes: the row streams as stored.
	BlockedBytes int64 `json:"blocked_bytes"`
	// UnblockedBytes: the same rows as one frame per stream.
	UnblockedBytes int64 `json:"unblocked_bytes"`
	// CostPct = 100 · (BlockedBytes / UnblockedBytes − 1).
	CostPct float64 `json:"cost_pct"`
	// ScalesBlockedBytes: the scale frames as stored (Stored.Scales);
	// ScalesUnblockedBytes: the same scales as one scale frame per group.
	ScalesBlockedBytes   int64 `json:"scales_blocked_bytes"`
	ScalesUnblockedBytes int64 `json:"scales_unblocked_bytes"`
	// RatioTotalUnblocked is RatioTotal had the rows and scales been stored
	// unblocked.
	RatioTotalUnblocked float64 `json:"ratio_total_unblocked"`
}

// baselineBytes is the score stage's figure (SPEC §7, with sliding windows):
// float16 K and V of every prefix position the layers' caches hold.
func (p *Pipeline) baselineBytes() int64 {
	kv := p.kv
	var n int64
	for l := range kv.Layers {
		n += layerBaseline(p.cachedTokens(l), kv.KVHeads, kv.HeadDim)
	}
	return n
}

// cachedTokens is how many prefix positions layer l's float16 cache holds.
func (p *Pipeline) cachedTokens(l int) int {
	if w := p.kv.Layer(l).Window; w > 0 {
		return min(w, p.kv.T)
	}
	return p.kv.T
}

// keptSizes are the byte figures of SPEC §7 that follow from the keep set,
// of stages evict through quantize, and the kept rows.
type keptSizes struct {
	keptRows                        int64
	evict, rope, hadamard, quantize int64
}

// keptBytes computes the figures of evict, rope, hadamard and quantize
// under s from the evict stage's output: evict and rope the float16 kept
// rows plus the stored positions; hadamard the same at DPad (layers stored
// by a RowCodec, protected ones included, at d); quantize the codes packed
// at PackedBits plus 2 bytes of scale per quantized row (RowCodec layers at
// their EncodedLen), plus positions.
func (p *Pipeline) keptBytes(s Settings, ev *evictOut) keptSizes {
	kv := p.kv
	d := int64(kv.HeadDim)
	w := int64(codeWidth(kv.HeadDim, s))
	posBytes := int64(len(ev.pos.stored))
	var z keptSizes
	var f16Kept, f16Pad, quantBytes int64
	var qz [2]*Quantizer
	if s.Method == MethodNexusQuant {
		qz[0], _ = NewQuantizer(s.Lattice, s.KeyBits)
		qz[1], _ = NewQuantizer(s.Lattice, s.ValueBits)
	}
	for layer := range kv.Layers {
		rc := p.codecFor(s, layer)
		for head := range kv.KVHeads {
			n := int64(len(ev.list(layer, head)))
			z.keptRows += n
			for kvi := range 2 {
				f16Kept += 2 * n * d
				switch {
				case rc != nil:
					f16Pad += 2 * n * d
					quantBytes += int64(rc.EncodedLen(int(n), kv.HeadDim))
				default:
					f16Pad += 2 * n * w
					quantBytes += (n*w*int64(qz[kvi].PackedBits())+7)/8 + 2*n
				}
			}
		}
	}
	z.evict, z.rope = f16Kept+posBytes, f16Kept+posBytes
	z.hadamard = f16Pad + posBytes
	z.quantize = quantBytes + posBytes
	return z
}

// report assembles the Report of a finished Run: rs holds the stage reports
// with their bytes, sz the keep-set figures, ev and ent the evict and
// entropy stages' outputs.
func (p *Pipeline) report(s Settings, rs *runState, sz keptSizes, ev *evictOut, ent *entropyOut) Report {
	c := ent.c
	r := Report{Method: s.Method, Stages: rs.stages, BaselineBytes: p.baselineBytes(),
		KeptRows: sz.keptRows, Reran: rs.reran}
	kv := p.kv
	for l := range kv.Layers {
		if t := p.cachedTokens(l); t < kv.T {
			r.SlidingLayers++
			r.SlidingWindow = t
		}
	}
	if r.SlidingLayers > 0 {
		r.BaselineAllPositionsBytes = int64(kv.Layers) * layerBaseline(kv.T, kv.KVHeads, kv.HeadDim)
	}
	r.Stored = c.stored
	r.ResidentBytes = ent.resident
	r.ReaderBytes = ent.reader
	r.DecodeFormBytes = c.DecodeFormSize()
	payload := c.stored.Codes + c.stored.FP16Layers
	r.RatioPayload = ratio(r.BaselineBytes, payload)
	r.RatioTotal = ratio(r.BaselineBytes, c.stored.Total())
	r.RatioResident = ratio(r.BaselineBytes, r.ResidentBytes)
	r.PositionEncoding = ev.pos.name()
	r.PositionGapsBytes = int64(ev.pos.gapsBytes)
	r.PositionBitmapBytes = int64(ev.pos.bitmapBytes)
	r.PositionBitmapRawBytes = int64(ev.pos.bitmapRawBytes)
	r.ScalesEncoding = c.ScalesEncoding()
	r.Blocking = BlockingReport{
		BlockTokens:          s.BlockTokens,
		ReadBlockRows:        c.ReadBlockRows(),
		BlockedBytes:         payload,
		UnblockedBytes:       ent.unblocked,
		ScalesBlockedBytes:   c.stored.Scales,
		ScalesUnblockedBytes: ent.unblockedScales,
		RatioTotalUnblocked: ratio(r.BaselineBytes,
			c.stored.Total()-payload-c.stored.Scales+ent.unblocked+ent.unblockedScales),
	}
	if ent.unblocked > 0 {
		r.Blocking.CostPct = 100 * (float64(payload)/float64(ent.unblocked) - 1)
	}
	r.Heads = slices.Clone(ent.heads)
	r.Layers = slices.Clone(ent.layers)
	r.Kinds = SumKinds(r.Layers)
	return r
}

func ratio(a, b int64) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// errSums are the squared Frobenius norms behind a stage's relative errors.
type errSums struct {
	diff, ref [2]float64 // per K, V
	measure   time.Duration
}

func (e *errSums) relErrs() (k, v float64) {
	f := func(i int) float64 {
		if e.ref[i] == 0 {
			return 0
		}
		return math.Sqrt(e.diff[i] / e.ref[i])
	}
	return f(0), f(1)
}

// addErr adds |got − ref|² and |ref|² to t for K (kv 0) or V.
func addErr(t *errSums, kv int, got, ref []float32) {
	d, r := sqErr(0, 0, got, ref)
	t.diff[kv] += d
	t.ref[kv] += r
}

// sqErr continues the sums |got − ref|² (d) and |ref|² (r) over more rows:
// summing a group block by block gives the same bits as addErr over the
// whole group.
func sqErr(d, r float64, got, ref []float32) (float64, float64) {
	for i, v := range ref {
		x := float64(got[i]) - float64(v)
		d += x * x
		r += float64(v) * float64(v)
	}
	return d, r
}
