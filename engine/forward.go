package engine

import (
	"context"
	"fmt"
	"math"
	"sync"
)

// LogitsMode selects which rows of logits Forward returns.
type LogitsMode int

const (
	// LogitsLast returns the logits of the last token only (1×Vocab).
	LogitsLast LogitsMode = iota
	// LogitsAll returns the logits of every token (n×Vocab), or of tokens
	// LogitsFrom.. when ForwardOptions.LogitsFrom is set.
	LogitsAll
)

// AttnStats are attention statistics captured during a prefill (SPEC §1).
// Obs, All and Last each hold Layers*Heads*T values indexed
// [layer][queryHead][keyPos]: Obs sums the softmax probability on key t over
// the last Window queries, All over all T queries (query p sees keys ≤ p), and
// Last is the last query's row. The field set matches stages.AttnStats, so one
// converts to the other.
type AttnStats struct {
	Layers, Heads, T, Window int
	Obs, All, Last           []float32
}

// ForwardOptions tune one Forward call.
type ForwardOptions struct {
	Logits LogitsMode
	// Stats > 0 captures AttnStats with Window = min(Stats, n). Only for a
	// prefill from position 0 on an empty cache; it costs no extra pass.
	Stats int
	// Progress, when set, is called after each layer with (layers done, layers).
	Progress func(done, total int)
	// LogitsFrom, with LogitsAll, skips the output rows of the first
	// LogitsFrom tokens: the result has n−LogitsFrom rows.
	LogitsFrom int
}

// Forward runs ids at positions start, start+1, … through the model, all at
// once per layer. Attention reads the cache for earlier positions and the new
// tokens' own keys directly, then the new K/V rows are appended to c. It
// returns logits (see LogitsMode) and, when opt.Stats > 0, attention
// statistics. ctx is checked between layers; after any error the cache may
// hold some layers' rows of the new tokens and should be discarded.
func (m *Model) Forward(ctx context.Context, c Cache, ids []int32, start int, opt ForwardOptions) ([]float32, *AttnStats, error) {
	cfg := m.Config
	n := len(ids)
	if err := m.checkForward(c, ids, start, opt); err != nil {
		return nil, nil, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	E, H, Hkv, d := cfg.Embd, cfg.Heads, cfg.KVHeads, cfg.HeadDim
	round := !m.FloatActivations
	ks := m.kernels()
	qd, kvd := H*d, Hkv*d

	// The activations of the call live in one pooled buffer: a decode step
	// would otherwise hand the garbage collector ~10 buffers a token.
	sizes := []int{n * E, n * max(E, qd), n * qd, n * kvd, n * kvd, n * qd, n * cfg.FF, n * cfg.FF}
	buf := fwdPool.Get().(*[]float32)
	defer fwdPool.Put(buf)
	parts := carve(buf, sizes)
	x, h, q, k, v, att, g, u := parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6], parts[7]
	for i, id := range ids {
		if err := m.tokEmbd.dequant(m.kernels(), int(id), int(id)+1, x[i*E:(i+1)*E]); err != nil {
			return nil, nil, err
		}
	}
	if s := float32(cfg.EmbedScale); s != 0 && s != 1 {
		for i := range x {
			x[i] *= s
		}
	}
	rd := m.rope.dims
	attend := m.attend
	if m.Exact {
		attend = m.attendExact
	}
	// The angle tables of each distinct rotary embedding, made on first use.
	tables := map[*rope][]float32{}
	angles := func(r *rope) []float32 {
		if cs, ok := tables[r]; ok {
			return cs
		}
		cs := make([]float32, n*rd)
		for i := 0; i < n; i++ {
			ci := cs[i*rd : (i+1)*rd]
			switch {
			case m.Exact:
				r.tableGlibc(start+i, ci)
			case !r.cachedCopy(start+i, ci):
				r.table(start+i, ci)
			}
		}
		tables[r] = cs
		return cs
	}
	var st *AttnStats
	if opt.Stats > 0 {
		T := n
		st = &AttnStats{Layers: cfg.Layers, Heads: H, T: T, Window: min(opt.Stats, T)}
		st.Obs = make([]float32, cfg.Layers*H*T)
		st.All = make([]float32, cfg.Layers*H*T)
		st.Last = make([]float32, cfg.Layers*H*T)
	}

	// Only rows from.. need logits; like llama.cpp, the last layer runs its
	// feed-forward block on those rows alone.
	from := n - 1
	if opt.Logits == LogitsAll {
		from = opt.LogitsFrom
	}
	for li := range m.layers {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		ly := &m.layers[li]
		rmsNormRows(h[:n*E], x, ly.attnNorm, E, cfg.NormEps)
		if err := m.product(n, round, mulJob{ly.wq, h, q}, mulJob{ly.wk, h, k}, mulJob{ly.wv, h, v}); err != nil {
			return nil, nil, err
		}
		addBias(q, ly.bq)
		addBias(k, ly.bk)
		addBias(v, ly.bv)
		if ly.qNorm != nil {
			rmsNorm(q, q, ly.qNorm, d, cfg.NormEps)
			rmsNorm(k, k, ly.kNorm, d, cfg.NormEps)
		}
		if r := ly.rope; r != nil {
			cs := angles(r)
			rotate := func(x, cs []float32) { r.apply(ks, x, cs, false) }
			if m.Exact {
				rotate = r.applyFused
			}
			splitRows(n, (H+Hkv)*d, func(i0, i1 int) {
				for i := i0; i < i1; i++ {
					ci := cs[i*rd : (i+1)*rd]
					for hh := 0; hh < H; hh++ {
						rotate(q[(i*H+hh)*d:(i*H+hh+1)*d], ci)
					}
					for hh := 0; hh < Hkv; hh++ {
						rotate(k[(i*Hkv+hh)*d:(i*Hkv+hh+1)*d], ci)
					}
				}
			})
		}
		if rr, ok := c.(RowRounder); ok {
			rr.RoundRows(k[:n*kvd], v[:n*kvd])
		} else if m.Exact {
			ks.roundF16(k[:n*kvd], k[:n*kvd])
			ks.roundF16(v[:n*kvd], v[:n*kvd])
		}
		if err := attend(c, li, q, k, v, n, start, att, st); err != nil {
			return nil, nil, err
		}
		for i := 0; i < n; i++ {
			if err := c.Append(li, int32(start+i), k[i*kvd:(i+1)*kvd], v[i*kvd:(i+1)*kvd]); err != nil {
				return nil, nil, err
			}
		}
		if err := m.product(n, round, mulJob{ly.wo, att, h}); err != nil {
			return nil, nil, err
		}
		if ly.postAttn != nil {
			rmsNorm(h[:n*E], h[:n*E], ly.postAttn, E, cfg.NormEps)
		}
		addRows(x, h[:n*E], E)
		r0, rows := 0, n // rows of the feed-forward block
		if li == len(m.layers)-1 {
			r0, rows = from, n-from
		}
		xr := x[r0*E : n*E]
		rmsNormRows(h[:rows*E], xr, ly.ffnNorm, E, cfg.NormEps)
		if err := m.product(rows, round, mulJob{ly.gate, h, g}, mulJob{ly.up, h, u}); err != nil {
			return nil, nil, err
		}
		FF := cfg.FF
		switch {
		case cfg.GELU:
			splitRows(rows, FF, func(r0, r1 int) { gegluMul(g[r0*FF:r1*FF], u[r0*FF:r1*FF]) })
		case m.Exact:
			ggmlSiluMul(g[:rows*FF], u, FF)
		default:
			splitRows(rows, FF, func(r0, r1 int) { ks.siluMul(g[r0*FF:r1*FF], u[r0*FF:r1*FF]) })
		}
		if err := m.product(rows, round, mulJob{ly.down, g, h}); err != nil {
			return nil, nil, err
		}
		if ly.postFFN != nil {
			rmsNorm(h[:rows*E], h[:rows*E], ly.postFFN, E, cfg.NormEps)
		}
		addRows(xr, h[:rows*E], E)
		if opt.Progress != nil {
			opt.Progress(li+1, cfg.Layers)
		}
	}

	rows := n - from
	rmsNorm(h[:rows*E], x[from*E:], m.outputNorm, E, cfg.NormEps)
	logits := make([]float32, rows*cfg.Vocab)
	if err := m.product(rows, round, mulJob{m.output, h, logits}); err != nil {
		return nil, nil, err
	}
	if c := float32(cfg.FinalSoftcap); c > 0 {
		softcap(logits, c)
	}
	return logits, st, nil
}

// fwdPool holds the activation buffers of Forward calls (see carve).
var fwdPool = sync.Pool{New: func() any { return new([]float32) }}

// carve resizes *buf to hold every size and returns consecutive slices of
// it of those sizes. They are not cleared: Forward writes every value of
// them that it reads (TestForwardWritesBeforeReading poisons the pool).
func carve(buf *[]float32, sizes []int) [][]float32 {
	total := 0
	for _, n := range sizes {
		total += n
	}
	*buf = grow32(*buf, total)
	parts := make([][]float32, len(sizes))
	off := 0
	for i, n := range sizes {
		parts[i] = (*buf)[off : off+n : off+n]
		off += n
	}
	return parts
}

// product runs weight products over n activation rows: with llama.cpp's
// arithmetic in Exact mode (exactmul.go), else with mul.
func (m *Model) product(n int, round bool, jobs ...mulJob) error {
	if m.Exact {
		return exactMul(m.kernels(), n, jobs...)
	}
	return mul(m.kernels(), n, round, jobs...)
}

// checkForward validates a Forward call's arguments.
func (m *Model) checkForward(c Cache, ids []int32, start int, opt ForwardOptions) error {
	cfg := m.Config
	n := len(ids)
	if n == 0 {
		return fmt.Errorf("engine: forward: no tokens")
	}
	if start < 0 || start+n > cfg.Ctx {
		return fmt.Errorf("engine: forward: %d tokens at position %d exceed the context of %d tokens", n, start, cfg.Ctx)
	}
	for i, id := range ids {
		if id < 0 || int(id) >= cfg.Vocab {
			return fmt.Errorf("engine: forward: token %d (index %d) is outside the vocabulary of %d", id, i, cfg.Vocab)
		}
	}
	if c == nil {
		return fmt.Errorf("engine: forward: nil cache")
	}
	if L, kvh, d := c.Dims(); L != cfg.Layers || kvh != cfg.KVHeads || d != cfg.HeadDim {
		return fmt.Errorf("engine: forward: cache is %d layers × %d KV heads × %d, the model needs %d × %d × %d", L, kvh, d, cfg.Layers, cfg.KVHeads, cfg.HeadDim)
	}
	if opt.Logits == LogitsAll && (opt.LogitsFrom < 0 || opt.LogitsFrom >= n) {
		return fmt.Errorf("engine: forward: LogitsFrom %d is outside the %d tokens", opt.LogitsFrom, n)
	}
	if opt.Stats > 0 {
		if start != 0 {
			return fmt.Errorf("engine: forward: attention statistics need a prefill from position 0, not %d", start)
		}
		for l := 0; l < cfg.Layers; l++ {
			for h := 0; h < cfg.KVHeads; h++ {
				if c.Len(l, h) != 0 {
					return fmt.Errorf("engine: forward: attention statistics need an empty cache (layer %d head %d holds %d rows)", l, h, c.Len(l, h))
				}
			}
		}
	}
	return nil
}

// rmsNorm sets dst row i to x_i/rms(x_i)·w for each row of len(w) values in x
// (as many rows as dst holds), computed as ggml does: the mean of squares
// summed in float64, then (x·scale)·w in float32.
func rmsNorm(dst, x, w []float32, e int, eps float32) {
	for i := 0; i < len(dst)/e; i++ {
		xi, di := x[i*e:(i+1)*e], dst[i*e:(i+1)*e]
		var sum float64
		for _, v := range xi {
			sum += float64(v * v)
		}
		mean := float32(sum / float64(e))
		scale := 1 / float32(math.Sqrt(float64(mean+eps)))
		for j, v := range xi {
			di[j] = (v * scale) * w[j]
		}
	}
}

// splitRows runs fn over rows [0, n) of rowLen values each, in one chunk
// per worker when there are enough values to pay for handing them out, else
// on the caller's goroutine. Prefill's element-wise steps (norms, RoPE, the
// gated activation, residual adds) would otherwise leave the other workers
// idle between products.
func splitRows(n, rowLen int, fn func(r0, r1 int)) {
	workers := min(Threads(), n, n*rowLen/(1<<14)+1)
	if workers <= 1 {
		fn(0, n)
		return
	}
	chunk := (n + workers - 1) / workers
	parallel(workers, workers, func(_, u int) {
		if r0 := u * chunk; r0 < n {
			fn(r0, min(r0+chunk, n))
		}
	})
}

// rmsNormRows is rmsNorm with its rows split over the workers.
func rmsNormRows(dst, x, w []float32, e int, eps float32) {
	splitRows(len(dst)/e, e, func(r0, r1 int) { rmsNorm(dst[r0*e:r1*e], x[r0*e:r1*e], w, e, eps) })
}

// addRows is addTo over rows of e values, split over the workers.
func addRows(dst, src []float32, e int) {
	splitRows(len(dst)/e, e, func(r0, r1 int) { addTo(dst[r0*e:r1*e], src[r0*e:r1*e]) })
}

// addBias adds b to every len(b)-long row of x (no-op for a nil b).
func addBias(x, b []float32) {
	if len(b) == 0 {
		return
	}
	e := len(b)
	splitRows(len(x)/e, e, func(r0, r1 int) {
		for i := r0; i < r1; i++ {
			addTo(x[i*e:(i+1)*e], b)
		}
	})
}

// addTo sets dst += src element-wise.
func addTo(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}
