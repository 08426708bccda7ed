package engine

import (
	"fmt"
	"math"
	"sync/atomic"
)

// rope is a model's rotary position embedding, computed as ggml computes it
// (ggml_rope_cache_init): theta starts at the position and is multiplied by
// base^(-2/dims) in float32 for each successive pair, divided by the pair's
// frequency factor (rope_freqs) and scaled by 1/RopeScale (linear scaling).
//
// Pairs are adjacent, (2i, 2i+1), for GGUF llama "normal" mode, and split
// halves, (i, i+dims/2), for NEOX mode (qwen2). Only the first dims coordinates
// of a head rotate; the rest pass through.
//
// mscale (rope.scaling.attn_factor, 1 unless set) multiplies the cosines and
// sines, as ggml's rope does: the forward rotation also scales the rotated
// coordinates by mscale, and the inverse undoes both.
type rope struct {
	dims       int
	neox       bool
	thetaScale float32
	freqScale  float32
	mscale     float32
	factors    []float32 // len dims/2 or nil
	// pages hold tables computed with the fields above: a rope with other
	// parameters must come from newRope, never from a copy edited in place.
	pages *ropePages
}

// rotate serves positions below ropePageRows·ropeCachePages from tables of
// cos, sin pairs kept in pages of ropePageRows positions, each filled by
// table on first use (so with the same values) and shared by every copy of
// the rope. A packed cache re-applies RoPE to its kept keys on every decode
// step through Model.RoPE; without the pages each row would recompute its
// dims/2 sines and cosines. A page costs ropePageRows·dims·4 bytes (64 KiB at
// dims 64); only the pages of positions asked for exist.
const (
	ropePageRows   = 256
	ropeCachePages = 1024
)

type ropePages [ropeCachePages]atomic.Pointer[[]float32]

func newRope(dims int, base, scale float64, neox bool, factors []float32, mscale float64) rope {
	if scale <= 0 {
		scale = 1
	}
	if mscale <= 0 {
		mscale = 1
	}
	return rope{
		dims:       dims,
		neox:       neox,
		thetaScale: float32(math.Pow(float64(float32(base)), float64(float32(-2)/float32(dims)))),
		freqScale:  float32(1 / scale),
		mscale:     float32(mscale),
		factors:    factors,
		pages:      new(ropePages),
	}
}

// cached returns the table of pos from its page, filling the page on first
// use, or nil when pos is outside the pages (or r has none).
func (r *rope) cached(pos int) []float32 {
	if r.pages == nil || pos < 0 || pos >= ropePageRows*ropeCachePages {
		return nil
	}
	page := r.page(pos / ropePageRows)
	o := pos % ropePageRows * r.dims
	return page[o : o+r.dims : o+r.dims]
}

// page returns page i of the tables (ropePageRows rows of dims floats,
// positions i·ropePageRows…), filling it on first use; r has pages and i is
// below ropeCachePages.
func (r *rope) page(i int) []float32 {
	p := r.pages[i].Load()
	if p == nil {
		p = r.fillPage(i)
	}
	return *p
}

// fillPage computes page i of the tables and stores it unless another
// goroutine got there first (both fill equal pages; the first stored is
// kept), and returns the stored one. Apart from cached so that its fast path
// inlines.
func (r *rope) fillPage(i int) *[]float32 {
	buf := make([]float32, ropePageRows*r.dims)
	for j := range ropePageRows {
		r.table(i*ropePageRows+j, buf[j*r.dims:(j+1)*r.dims])
	}
	p := &r.pages[i]
	p.CompareAndSwap(nil, &buf)
	return p.Load()
}

// cachedCopy copies position pos's row of the cached pages into cs (the same
// bits as table gives) and reports whether there was one.
func (r *rope) cachedCopy(pos int, cs []float32) bool {
	row := r.cached(pos)
	copy(cs, row)
	return row != nil
}

// table fills cs (len dims) with cos, sin pairs for pair i at cs[2i], cs[2i+1].
func (r *rope) table(pos int, cs []float32) { r.fill(pos, cs, sinCos64) }

// tableGlibc is table with the angles' sine and cosine as glibc's sincosf
// computes them (sincosf.go), as llama.cpp's rope does. Used in Exact mode.
func (r *rope) tableGlibc(pos int, cs []float32) { r.fill(pos, cs, sinCosf) }

// fill computes the angles of position pos by ggml's recurrence and stores
// sincos of each.
func (r *rope) fill(pos int, cs []float32, sincos func(float32) (float32, float32)) {
	theta := float32(pos)
	for i := 0; i < r.dims/2; i++ {
		t := theta
		if r.factors != nil {
			t /= r.factors[i]
		}
		t *= r.freqScale
		cs[2*i+1], cs[2*i] = sincos(t)
		if r.mscale != 1 {
			cs[2*i], cs[2*i+1] = cs[2*i]*r.mscale, cs[2*i+1]*r.mscale
		}
		theta *= r.thetaScale
	}
}

// sinCos64 is sine and cosine computed in float64 and rounded.
func sinCos64(t float32) (float32, float32) {
	return float32(math.Sin(float64(t))), float32(math.Cos(float64(t)))
}

// apply rotates x (one head) by the angles in cs; inverse rotates back.
// With ks's vector kernels (where the set has them, the pairing's length
// fits their step and no inverse scaling is needed) it gives the same bits
// eight pairs at a time.
func (r *rope) apply(ks *kernelSet, x, cs []float32, inverse bool) {
	if f := r.kernel(ks, inverse); f != nil {
		f(x[:r.dims], cs[:r.dims], inverse)
		return
	}
	half := r.dims / 2
	inv2 := 1 / (r.mscale * r.mscale)
	for i := 0; i < half; i++ {
		c, s := cs[2*i], cs[2*i+1]
		if inverse {
			s = -s
			if r.mscale != 1 {
				c, s = c*inv2, s*inv2
			}
		}
		a, b := 2*i, 2*i+1
		if r.neox {
			a, b = i, i+half
		}
		x0, x1 := x[a], x[b]
		// The conversions round each product, as the kernels do, even
		// where the compiler could fuse into an FMA (GOAMD64=v3).
		x[a] = float32(x0*c) - float32(x1*s)
		x[b] = float32(x0*s) + float32(x1*c)
	}
}

// kernel returns ks's vector kernel for r's rotation (forward, or inverse),
// or nil where the set has none, the pairing's length does not fit its
// step, or the inverse needs scaling (mscale ≠ 1): then apply's loop runs.
func (r *rope) kernel(ks *kernelSet, inverse bool) func(x, cs []float32, inverse bool) {
	if ks == nil || (r.mscale != 1 && inverse) || r.dims <= 0 {
		return nil
	}
	switch {
	case r.neox && (r.dims/2)%8 == 0:
		return ks.ropeNeox
	case !r.neox && r.dims%8 == 0:
		return ks.ropeAdj
	}
	return nil
}

// applyFused rotates x forward by the angles in cs as ggml-cpu's compiled
// rope does: GCC contracts x0·cos − x1·sin into fma(x0, cos, −(x1·sin)) and
// x0·sin + x1·cos into fma(x0, sin, x1·cos). Used in Exact mode.
func (r *rope) applyFused(x, cs []float32) {
	half := r.dims / 2
	for i := 0; i < half; i++ {
		c, s := cs[2*i], cs[2*i+1]
		a, b := 2*i, 2*i+1
		if r.neox {
			a, b = i, i+half
		}
		x0, x1 := x[a], x[b]
		x[a] = fma32(x0, c, -(x1 * s))
		x[b] = fma32(x0, s, x1*c)
	}
}

// RoPE rotates one head vector x (len HeadDim) in place by the model's rotary
// embedding at position pos; inverse applies the inverse rotation. It is the
// function the forward pass uses (same pairing, base, scaling and float32
// arithmetic); RoPERows is the stages.RoPEFunc form.
//
// It is the rotation of the full-attention layers; RoPELayer gives each
// layer's own (sliding-window layers may have another base, some layers
// none).
func (m *Model) RoPE(x []float32, pos int, inverse bool) { m.rope.rotate(m.kernels(), x, pos, inverse) }

// RoPELayer is RoPE with layer l's rotary embedding: the sliding-window
// layers' own base where the architecture has one, and no rotation at all
// (x unchanged) on a layer without RoPE or outside 0..Layers−1.
func (m *Model) RoPELayer(l int, x []float32, pos int, inverse bool) {
	if l < 0 || l >= len(m.layers) || m.layers[l].rope == nil {
		return
	}
	m.layers[l].rope.rotate(m.kernels(), x, pos, inverse)
}

// RoPERows is RoPELayer over rows, len(pos) head vectors of HeadDim floats,
// vector i at position pos[i]: the stages.RoPEFunc of the model, one call per
// run of rows (a packed cache re-rotates its kept keys on every decode step).
// It panics when len(rows) is not len(pos)·HeadDim.
func (m *Model) RoPERows(l int, rows []float32, pos []int32, inverse bool) {
	d := m.Config.HeadDim
	if len(rows) != len(pos)*d {
		panic(fmt.Sprintf("engine: RoPERows: %d floats for %d positions of head dim %d", len(rows), len(pos), d))
	}
	if l < 0 || l >= len(m.layers) || m.layers[l].rope == nil {
		return
	}
	r, ks := m.layers[l].rope, m.kernels()
	f := r.kernel(ks, inverse)
	runs := f != nil && ks.ropeRows != nil && r.pages != nil
	for i := 0; i < len(pos); {
		p := int(pos[i])
		if runs && p >= 0 && p < ropePageRows*ropeCachePages {
			// The run of rows whose positions share p's page, in one call.
			pg := p / ropePageRows
			j := i + 1
			for j < len(pos) && pos[j] >= 0 && int(pos[j])/ropePageRows == pg {
				j++
			}
			if ks.ropeRows(r.neox, rows[i*d:j*d], d, r.page(pg), pos[i:j], pg*ropePageRows, r.dims, inverse) {
				i = j
				continue
			}
			runs = false // the rows kernel does not fit r's dims
		}
		x := rows[i*d : (i+1)*d]
		i++
		if f != nil {
			if cs := r.cached(p); cs != nil {
				f(x[:r.dims], cs, inverse)
				continue
			}
		}
		r.rotate(ks, x, p, inverse)
	}
}

// rotate applies r at position pos to one head x.
func (r *rope) rotate(ks *kernelSet, x []float32, pos int, inverse bool) {
	if cs := r.cached(pos); cs != nil {
		r.apply(ks, x, cs, inverse)
		return
	}
	var buf [256]float32
	cs := buf[:]
	if r.dims > len(buf) {
		cs = make([]float32, r.dims)
	}
	cs = cs[:r.dims]
	r.table(pos, cs)
	r.apply(ks, x, cs, inverse)
}
