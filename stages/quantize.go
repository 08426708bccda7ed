package stages

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"nexusquant/internal/half"
)

// Quantizer quantizes one vector of length n (normally the padded head
// dimension DPad, a multiple of 8) with one float16 scale per vector (SPEC §5).
//
// Lattice is "e8", "relaxed" or "scalar"; Bits is one of 2, 3, 4, 5, 6, 8.
// Build it with NewQuantizer and treat the fields as read-only. A Quantizer
// holds no mutable state: any number of goroutines may call Encode and Decode
// on one value at once.
type Quantizer struct {
	Lattice string
	Bits    int
}

// Valid values of Quantizer.Lattice and Quantizer.Bits, in the order error
// messages list them.
var (
	quantLattices = []string{"e8", "relaxed", "scalar"}
	quantBits     = []int{2, 3, 4, 5, 6, 8}
)

// NewQuantizer validates lattice and bits and returns the quantizer. The error
// names the bad value and lists the valid ones.
func NewQuantizer(lattice string, bits int) (*Quantizer, error) {
	if !slices.Contains(quantLattices, lattice) {
		return nil, fmt.Errorf("lattice %q: want one of %v", lattice, quantLattices)
	}
	if !slices.Contains(quantBits, bits) {
		return nil, fmt.Errorf("bits %d: want one of %v", bits, quantBits)
	}
	return &Quantizer{Lattice: lattice, Bits: bits}, nil
}

// Levels is the number of distinct values one coordinate can take: 2^(bits+1)+1
// for e8 and relaxed (the half-integers from −Lv/2 to Lv/2, Lv = 2^bits; 9 at
// 2 bits, 17 at 3), 2^bits for scalar.
func (q *Quantizer) Levels() int {
	if q.Lattice == "scalar" {
		return 1 << q.Bits
	}
	return 2<<q.Bits + 1
}

// PackedBits is ⌈log2(Levels())⌉, the width a packed code needs (SPEC §7).
func (q *Quantizer) PackedBits() int {
	return bits.Len(uint(q.Levels() - 1))
}

// CodeBytes is 1 when every code fits an int8 and 2 otherwise (only e8 and
// relaxed at 8 bits, whose codes span −256…256).
func (q *Quantizer) CodeBytes() int {
	lo, hi := q.codeRange()
	if lo >= math.MinInt8 && hi <= math.MaxInt8 {
		return 1
	}
	return 2
}

// codeRange is the smallest and largest code Encode can write.
func (q *Quantizer) codeRange() (lo, hi int) {
	if q.Lattice == "scalar" {
		return -1 << (q.Bits - 1), 1<<(q.Bits-1) - 1
	}
	return -1 << q.Bits, 1 << q.Bits
}

// Encode quantizes x (len n) into codes[:n] (caller-allocated, len >= n) and
// returns the float16 bits of the scale. n is normally DPad, a multiple of 8;
// otherwise the last 8-group is padded with zeros for the lattice search and
// the pad's codes are dropped.
//
// e8/relaxed: amax = max|x_i| (at least 1e-8), Lv = 2^bits,
// s = f16(amax/(Lv/2)); y = x/s (computed as x·(1/s)); each 8-group of y is
// replaced by its nearest
// lattice point, each coordinate clamped to [−Lv/2, Lv/2]; code = 2·coordinate.
//
// scalar: A = f16(amax); the 2^bits levels −A + k·2A/(2^bits−1), k = 0…2^bits−1;
// code = k − 2^(bits−1), k the nearest level.
//
// Scales that float16 cannot hold are saturated: to the largest finite half
// (65504) and to the smallest subnormal (2^−24). Non-finite inputs never panic
// and always give in-range codes: they saturate the scale and NaN coordinates
// encode as 0. Encode panics if codes is too short (programmer error). It does
// not allocate.
func (q *Quantizer) Encode(codes []int16, x []float32) (scale uint16) {
	if len(codes) < len(x) {
		panic(fmt.Sprintf("stages: Quantizer.Encode: len(codes)=%d < len(x)=%d", len(codes), len(x)))
	}
	// max|x_i| over bit patterns: without the sign bit, float bits order like
	// the values, with NaN above +Inf, so a NaN input makes amax NaN.
	var maxBits int32
	rest := x
	if useAsm && len(x) >= 8 {
		n8 := len(x) &^ 7
		maxBits = amaxBitsAVX(&x[0], n8)
		rest = x[n8:]
	}
	for _, v := range rest {
		maxBits = max(maxBits, int32(math.Float32bits(v)&^(1<<31)))
	}
	amax := max(math.Float32frombits(uint32(maxBits)), 1e-8)
	switch q.Lattice {
	case "e8", "relaxed":
		return q.encodeLattice(codes, x, amax)
	case "scalar":
		return q.encodeScalar(codes, x, amax)
	}
	panic("stages: Quantizer with lattice " + q.Lattice + "; build it with NewQuantizer")
}

// Decode writes the reconstruction of codes[:len(x)] with scale into x
// (caller-allocated): (code/2)·s for e8 and relaxed, −A + (code+2^(bits−1))·step
// for scalar. It is deterministic: the same codes and scale always give the
// same floats. It panics if codes is shorter than x.
func (q *Quantizer) Decode(x []float32, codes []int16, scale uint16) {
	codes = codes[:len(x)]
	s := F16ToF32(scale)
	if q.Lattice == "scalar" {
		half := 1 << (q.Bits - 1)
		step := 2 * s / float32(2*half-1)
		if useAsm && len(x) >= 8 {
			n8 := len(x) &^ 7
			decodeScalarAVX(&x[0], &codes[0], n8, -s, step, int32(half))
			x, codes = x[n8:], codes[n8:]
		}
		for i, c := range codes {
			// float32(…) rounds the product (no FMA, whatever GOAMD64), so
			// that every build, and decodeScalarAVX, gives the same floats.
			x[i] = -s + float32(float32(int(c)+half)*step)
		}
		return
	}
	halfS := s / 2 // exact: s is a normal float32
	if useAsm && len(x) >= 8 {
		n8 := len(x) &^ 7
		decodeLatticeAVX(&x[0], &codes[0], n8, halfS)
		x, codes = x[n8:], codes[n8:]
	}
	for i, c := range codes {
		x[i] = float32(c) * halfS
	}
}

// f16MaxFinite is the largest finite float16, 65504.
const f16MaxFinite = 0x7bff

// f16Scale rounds a positive scale to float16, saturating to the smallest
// subnormal and the largest finite half instead of 0 and infinity (and NaN).
func f16Scale(s float32) uint16 {
	h := F32ToF16(s)
	switch {
	case s != s || h >= 0x7c00:
		return f16MaxFinite
	case h == 0:
		return 0x0001
	}
	return h
}

// clampFinite maps NaN to nan and clamps v to [lo, hi]. Encode needs it only
// when the scale saturated (huge or non-finite input); otherwise x/s is bounded
// by the scale rule.
func clampFinite(v, lo, hi, nan float32) float32 {
	if v != v {
		return nan
	}
	return min(max(v, lo), hi)
}

func (q *Quantizer) encodeLattice(codes []int16, x []float32, amax float32) uint16 {
	half := float32(int(1) << (q.Bits - 1)) // Lv/2
	lim := int32(1) << q.Bits               // largest code, 2·Lv/2
	scale := f16Scale(amax / half)
	inv := 1 / F16ToF32(scale)
	saturated := scale == f16MaxFinite
	halfParity := q.Lattice == "e8" // relaxed: (Z+½)^8 without parity
	if useAsm {
		// Batches of 8 groups; the rest zero-padded to one more batch, which
		// pads a final partial group with zeros as below.
		nb := len(x) / 64
		if nb > 0 {
			e8EncodeAVX(&codes[0], &x[0], nb, inv, half+1, lim, saturated, halfParity)
		}
		if done := nb * 64; done < len(x) {
			var xb [64]float32
			var cb [64]int16
			copy(xb[:], x[done:])
			e8EncodeAVX(&cb[0], &xb[0], 1, inv, half+1, lim, saturated, halfParity)
			copy(codes[done:len(x)], cb[:])
		}
		return scale
	}
	var y [8]float32
	for g := 0; g < len(x); g += 8 {
		group := x[g:min(g+8, len(x))]
		clear(y[len(group):]) // a final partial group is padded with zeros
		for i, v := range group {
			y[i] = v * inv // |y| <= Lv/2, up to the f16 rounding of s
			if saturated {
				y[i] = clampFinite(y[i], -half-1, half+1, 0)
			}
		}
		twice, _ := nearestDoubled(&y, halfParity) // 2·(nearest point)
		for i := range group {
			codes[g+i] = int16(min(max(twice[i], -lim), lim))
		}
	}
	return scale
}

func (q *Quantizer) encodeScalar(codes []int16, x []float32, amax float32) uint16 {
	scale := f16Scale(amax)
	a := F16ToF32(scale)
	saturated := scale == f16MaxFinite
	half := int32(1) << (q.Bits - 1)
	top := float32(2*half - 1) // highest level index
	inv := top / (2 * a)       // 1/step
	if useAsm && len(x) >= 8 {
		n8 := len(x) &^ 7
		scalarEncodeAVX(&codes[0], &x[0], n8, a, inv, top, half, saturated)
		codes, x = codes[n8:], x[n8:]
	}
	for i, v := range x {
		k := (v + a) * inv // level index in [0, top], up to the f16 rounding of a
		if saturated {
			k = clampFinite(k, 0, top, float32(half))
		}
		codes[i] = int16(min(max(int32(roundEven(k)), 0), 2*half-1) - half)
	}
	return scale
}

// F32ToF16 converts f to IEEE 754 binary16 bits, rounding to nearest, ties to
// even; it keeps subnormals, overflows to ±Inf and maps NaN to a quiet NaN
// (internal/half's FromFloat32, which engine uses too).
func F32ToF16(f float32) uint16 { return half.FromFloat32(f) }

// F16ToF32 converts IEEE 754 binary16 bits to float32 exactly, NaN payloads
// included: a signalling NaN stays signalling, so a decoder gives back the
// bits that were stored (internal/half's ToFloat32; engine's GGUF reader
// quiets NaNs instead, as ggml does).
func F16ToF32(h uint16) float32 { return half.ToFloat32(h) }

// quantOut is the quantize stage's output in a Pipeline.
type quantOut struct {
	codes  [][]byte   // per quantized group: n rows of DPad codes, CodeBytes each
	scales [][]uint16 // per quantized group
	errSums
}

func (o *quantOut) sums() *errSums { return &o.errSums }

// runQuantize: SPEC §5. Output: per quantized group the codes (CodeBytes
// each) and the float16 scales. Protected layers are not quantized; their
// error is the float16 rounding of the kept rows.
func (p *Pipeline) runQuantize(ctx context.Context, s Settings, ev *evictOut, in *rowsOut) (*quantOut, error) {
	kv := p.kv
	d := kv.HeadDim
	out := &quantOut{}
	if !p.nexus(s) {
		err := p.measureRows(ctx, s, ev, &out.errSums, func(layer, kvi, head int, dst []float32, pos []int32) {
			p.codecRoundTrip(s, layer, kvi, head, dst, pos)
		})
		return out, err
	}
	w := in.width
	var q [2]*Quantizer
	var err error
	if q[0], err = NewQuantizer(s.Lattice, s.KeyBits); err != nil {
		return nil, err
	}
	if q[1], err = NewQuantizer(s.Lattice, s.ValueBits); err != nil {
		return nil, err
	}
	out.codes = make([][]byte, len(in.rows))
	out.scales = make([][]uint16, len(in.rows))
	codes := make([][]int16, p.workers)
	err = p.forHeads(ctx, func(worker, layer, head int) error {
		if p.codecFor(s, layer) != nil { // protected, or a sliding layer kept as float16
			return nil
		}
		c16 := growSlice(codes[worker], w)
		codes[worker] = c16
		for kvi := range 2 {
			g := p.group(layer, kvi, head)
			src := in.rows[g]
			n := len(src) / w
			cb := q[kvi].CodeBytes()
			cs := make([]byte, n*w*cb)
			sc := make([]uint16, n)
			for r := range n {
				sc[r] = q[kvi].Encode(c16, src[r*w:(r+1)*w])
				row := cs[r*w*cb : (r+1)*w*cb]
				for j, c := range c16 {
					if cb == 1 {
						if c < math.MinInt8 || c > math.MaxInt8 {
							return fmt.Errorf("code %d does not fit int8 (lattice %s, %d bits)", c, s.Lattice, q[kvi].Bits)
						}
						row[j] = byte(int8(c))
					} else {
						binary.LittleEndian.PutUint16(row[2*j:], uint16(c))
					}
				}
			}
			out.codes[g], out.scales[g] = cs, sc
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var had *Hadamard
	if s.Hadamard {
		had = NewHadamard(d, s.HadamardSigns, s.Seed)
	}
	err = p.measureRows(ctx, s, ev, &out.errSums, func(layer, kvi, head int, dst []float32, pos []int32) {
		g := p.group(layer, kvi, head)
		if out.codes[g] == nil {
			p.codecRoundTrip(s, layer, kvi, head, dst, pos)
			return
		}
		dequantRows(dst, out.codes[g], out.scales[g], q[kvi], had, w, d)
		if kvi == 0 && p.ropeUndone(s, layer) {
			RedoRoPE(dst, d, layer, pos, p.rope)
		}
	})
	return out, err
}

// dequantRows reconstructs rows before RoPE: Quantizer.Decode of each row's
// codes (w wide, CodeBytes each) and scale, then the inverse Hadamard (or the
// first d coordinates). dst holds len(scales) rows of d.
func dequantRows(dst []float32, codes []byte, scales []uint16, q *Quantizer, had *Hadamard, w, d int) {
	cb := q.CodeBytes()
	c16 := make([]int16, w)
	f := make([]float32, w)
	for r, sc := range scales {
		unpackCodes(c16, codes[r*w*cb:(r+1)*w*cb], cb)
		q.Decode(f, c16, sc)
		if had != nil {
			had.Inverse(dst[r*d:(r+1)*d], f[:had.DPad])
		} else {
			copy(dst[r*d:(r+1)*d], f[:d])
		}
	}
}

// codecFor returns the RowCodec storing layer's rows under s, or nil for
// quantized layers (the Compressed.rowCodecFor rule).
func (p *Pipeline) codecFor(s Settings, layer int) RowCodec {
	if isProtected(layer, p.kv.Layers, s.ProtectBoundary) || slidingF16(s, p.kv.Layer(layer)) {
		return f16Codec{}
	}
	if c, ok := lookupRowCodec(s.Method); ok {
		return c
	}
	return nil
}

// codecRoundTrip fills dst with the kept rows of the group encoded and
// decoded by its RowCodec.
func (p *Pipeline) codecRoundTrip(s Settings, layer, kvi, head int, dst []float32, pos []int32) {
	rc := p.codecFor(s, layer)
	rows := p.gather(nil, kvi == 0, layer, head, pos)
	enc := rc.Encode(nil, rows, p.kv.HeadDim, kvi == 0)
	if err := rc.Decode(dst, enc, p.kv.HeadDim, kvi == 0); err != nil {
		clear(dst) // counts as a full error
	}
}
