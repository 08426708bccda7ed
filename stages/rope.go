package stages

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// UndoRoPE rotates each row i of rows (n = len(pos) rows of d floats,
// row-major) of layer l back by the inverse of that layer's rope at position
// pos[i], in place (SPEC §3). It panics if len(rows) != len(pos)*d
// (programmer error).
func UndoRoPE(rows []float32, d, l int, pos []int32, rope RoPEFunc) {
	applyRoPE(rows, d, l, pos, rope, true)
}

// RedoRoPE applies layer l's rope forward to each row i of rows at position
// pos[i], in place: the inverse of UndoRoPE within float32 rounding.
func RedoRoPE(rows []float32, d, l int, pos []int32, rope RoPEFunc) {
	applyRoPE(rows, d, l, pos, rope, false)
}

func applyRoPE(rows []float32, d, l int, pos []int32, rope RoPEFunc, inverse bool) {
	if d < 1 || len(rows) != len(pos)*d {
		panic(fmt.Sprintf("stages: RoPE: len(rows)=%d, want len(pos)*d = %d*%d", len(rows), len(pos), d))
	}
	if len(pos) > 0 {
		rope(l, rows, pos, inverse)
	}
}

// headStride is the length of each of rows's len(pos) head vectors (0 for
// none).
func headStride(rows []float32, pos []int32) int {
	if len(pos) == 0 {
		return 0
	}
	return len(rows) / len(pos)
}

// NormalRoPE returns the rotary embedding of GGUF llama-family models: pairs
// (2i, 2i+1) of the first d coordinates of each head vector are rotated by the angle
// θ_i = pos·base^(−2i/d), i = 0…d/2−1, as (x0, x1) ← (x0·cos θ − x1·sin θ,
// x0·sin θ + x1·cos θ). Coordinates past d (partial rotary) are left alone.
// It panics unless d is positive and even and base > 0 (the caller validates
// model hyperparameters). Every layer rotates alike (the layer argument is
// ignored). The function is safe for concurrent use.
func NormalRoPE(d int, base float64) RoPEFunc {
	t := newRopeTable(d, base)
	return func(_ int, rows []float32, pos []int32, inverse bool) {
		hd := headStride(rows, pos)
		for i, p := range pos {
			x := rows[i*hd : (i+1)*hd]
			t.rotate(x[0:d], x[1:d], 2, int(p), inverse)
		}
	}
}

// NeoxRoPE returns the rotary embedding of NEOX-style models (qwen2 and others):
// pairs (i, i+d/2) of the first d coordinates of x are rotated by the angle
// pos·base^(−2i/d). Same rules as NormalRoPE otherwise.
func NeoxRoPE(d int, base float64) RoPEFunc {
	t := newRopeTable(d, base)
	return func(_ int, rows []float32, pos []int32, inverse bool) {
		hd := headStride(rows, pos)
		for i, p := range pos {
			x := rows[i*hd : (i+1)*hd]
			t.rotate(x[:d/2], x[d/2:d], 1, int(p), inverse)
		}
	}
}

// ropeTable serves cos and sin of pos·freq[i] without a Sincos per pair: for
// 0 <= pos < 2^16 it splits pos = 256·a + b and combines the two precomputed
// angles 256·a·freq[i] and b·freq[i] by the addition formulas, exact to a few
// float32 ulps. Other positions call math.Sincos. Read-only after construction,
// so safe for concurrent use.
type ropeTable struct {
	half int
	freq []float64 // freq[i] = base^(−2i/d)
	// coarse*[a*half+i] = cos/sin(256·a·freq[i]); fine*[b*half+i] = cos/sin(b·freq[i])
	coarseCos, coarseSin, fineCos, fineSin []float32
}

const ropeTableSide = 256 // positions below ropeTableSide² use the table

func newRopeTable(d int, base float64) *ropeTable {
	if d < 2 || d%2 != 0 || !(base > 0) {
		panic(fmt.Sprintf("stages: RoPE with d=%d base=%g: want a positive even d and base > 0", d, base))
	}
	half := d / 2
	t := &ropeTable{half: half, freq: make([]float64, half)}
	for i := range half {
		t.freq[i] = math.Pow(base, -2*float64(i)/float64(d))
	}
	n := ropeTableSide * half
	t.coarseCos, t.coarseSin = make([]float32, n), make([]float32, n)
	t.fineCos, t.fineSin = make([]float32, n), make([]float32, n)
	for a := range ropeTableSide {
		for i, f := range t.freq {
			s, c := math.Sincos(float64(a*ropeTableSide) * f)
			t.coarseCos[a*half+i], t.coarseSin[a*half+i] = float32(c), float32(s)
			s, c = math.Sincos(float64(a) * f)
			t.fineCos[a*half+i], t.fineSin[a*half+i] = float32(c), float32(s)
		}
	}
	return t
}

// rotate rotates the pairs (lo[i·step], hi[i·step]), i = 0…half−1, by
// pos·freq[i] (the negative angle when inverse).
func (t *ropeTable) rotate(lo, hi []float32, step, pos int, inverse bool) {
	sign := float32(1)
	if inverse {
		sign = -1
	}
	if pos < 0 || pos >= ropeTableSide*ropeTableSide {
		for i, f := range t.freq {
			s, c := math.Sincos(float64(pos) * f)
			rotatePair(&lo[i*step], &hi[i*step], float32(c), sign*float32(s))
		}
		return
	}
	a, b := pos/ropeTableSide*t.half, pos%ropeTableSide*t.half
	cc, cs := t.coarseCos[a:a+t.half], t.coarseSin[a:a+t.half]
	fc, fs := t.fineCos[b:b+t.half], t.fineSin[b:b+t.half]
	for i := range cc {
		c := cc[i]*fc[i] - cs[i]*fs[i] // cos(α+β)
		s := cs[i]*fc[i] + cc[i]*fs[i] // sin(α+β)
		rotatePair(&lo[i*step], &hi[i*step], c, sign*s)
	}
}

// rotatePair rotates the point (*x0, *x1) by the angle with cosine c and sine s.
func rotatePair(x0, x1 *float32, c, s float32) {
	u, v := *x0, *x1
	*x0 = u*c - v*s
	*x1 = u*s + v*c
}

// rowsOut is the rope or hadamard stage's output in a Pipeline: per group the
// kept rows, width floats each.
type rowsOut struct {
	rows  [][]float32 // per group, n rows (rope: d wide; hadamard: DPad wide); nil for row codecs
	width int
	msg   string // the stage report's Note
	errSums
}

func (o *rowsOut) sums() *errSums { return &o.errSums }
func (o *rowsOut) note() string   { return o.msg }

// ropeUndone reports whether the rope stage rotates layer's keys back under
// s: rope_undo is set and the layer has RoPE.
func (p *Pipeline) ropeUndone(s Settings, layer int) bool {
	return s.RoPEUndo && !p.kv.Layer(layer).NoRoPE
}

// noRoPENote is the rope stage's note: the layers it leaves alone because
// they have no RoPE ("" when there are none or rope_undo is off).
func noRoPENote(s Settings, layers int, attn func(int) LayerAttn) string {
	if !s.RoPEUndo || s.Method != MethodNexusQuant {
		return ""
	}
	var ls []string
	for l := range layers {
		if attn(l).NoRoPE {
			ls = append(ls, strconv.Itoa(l))
		}
	}
	switch len(ls) {
	case 0:
		return ""
	case 1:
		return "skipped on layer " + ls[0] + " (no RoPE: keys stored as computed)"
	}
	return fmt.Sprintf("skipped on %d layers without RoPE (%s): keys stored as computed", len(ls), strings.Join(ls, ", "))
}

// runRoPE: SPEC §3. Output: per group the kept rows, keys rotated back.
func (p *Pipeline) runRoPE(ctx context.Context, s Settings, ev *evictOut) (*rowsOut, error) {
	kv := p.kv
	out := &rowsOut{width: kv.HeadDim}
	if !p.nexus(s) {
		return out, nil
	}
	out.msg = noRoPENote(s, kv.Layers, kv.Layer)
	out.rows = make([][]float32, 2*kv.Layers*kv.KVHeads)
	err := p.forHeads(ctx, func(_, layer, head int) error {
		pos := ev.list(layer, head)
		for kvi := range 2 {
			rows := p.gather(nil, kvi == 0, layer, head, pos)
			if kvi == 0 && p.ropeUndone(s, layer) {
				UndoRoPE(rows, kv.HeadDim, layer, pos, p.rope)
			}
			out.rows[p.group(layer, kvi, head)] = rows
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = p.measureRows(ctx, s, ev, &out.errSums, func(layer, kvi, head int, dst []float32, pos []int32) {
		copy(dst, out.rows[p.group(layer, kvi, head)])
		if kvi == 0 && p.ropeUndone(s, layer) {
			RedoRoPE(dst, kv.HeadDim, layer, pos, p.rope)
		}
	})
	return out, err
}
