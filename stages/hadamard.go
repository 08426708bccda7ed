package stages

import (
	"context"
	"fmt"
	"math"
	"sync"
)

// Hadamard is the orthonormal Sylvester–Walsh–Hadamard transform of size DPad,
// the next power of two >= D (SPEC §4), optionally preceded by a seeded ±1
// diagonal: Forward(x) = H·S·x and Inverse(y) = S·H·y, where H is the
// normalised Sylvester matrix (H = Hᵀ = H⁻¹) and S the sign diagonal (identity
// without signs). Vectors of length D are zero-padded to DPad before the
// transform; Inverse drops the pad.
//
// A Hadamard is immutable after NewHadamard: any number of goroutines may call
// Forward, Inverse and InverseScratch on one value at once.
type Hadamard struct {
	D, DPad int

	// pre[i] = S_ii / sqrt(DPad): the signs and the normalisation folded into
	// the one pass that loads the input.
	pre []float32
	// scratch holds *[]float32 of len DPad for Inverse when D < DPad.
	scratch sync.Pool
}

// NewHadamard builds the transform for vectors of length d. With seededSigns
// the diagonal S holds the signs drawn by hadamardSigns(seed, DPad); without,
// S = I and seed is ignored. It panics if d < 1 (programmer error: the caller
// validates the head dimension).
func NewHadamard(d int, seededSigns bool, seed int64) *Hadamard {
	if d < 1 {
		panic(fmt.Sprintf("stages: NewHadamard(%d): dimension must be >= 1", d))
	}
	dPad := nextPow2(d)
	norm := float32(1 / math.Sqrt(float64(dPad)))
	pre := make([]float32, dPad)
	for i := range pre {
		pre[i] = norm
	}
	if seededSigns {
		for i, neg := range hadamardSigns(seed, dPad) {
			if neg {
				pre[i] = -norm
			}
		}
	}
	h := &Hadamard{D: d, DPad: dPad, pre: pre}
	h.scratch.New = func() any {
		s := make([]float32, dPad)
		return &s
	}
	return h
}

// nextPow2 is the smallest power of two >= d (1 for d < 1).
func nextPow2(d int) int {
	n := 1
	for n < d {
		n *= 2
	}
	return n
}

// hadamardSigns returns n sign flags (true = −1) for seed: flag i is bit i%64 of
// the (i/64)-th output of splitmix64 seeded with seed. The rule is fixed so that
// other implementations (GPU kernels, files written by older builds) agree.
func hadamardSigns(seed int64, n int) []bool {
	rng := splitMix64(uint64(seed))
	neg := make([]bool, n)
	var word uint64
	for i := range neg {
		if i%64 == 0 {
			word = rng.next()
		}
		neg[i] = word>>(i%64)&1 == 1
	}
	return neg
}

// splitMix64 is Steele, Lea and Flood's SplitMix64 generator (the seeding
// generator of xoshiro): small, fast and fully specified, so seeded streams never
// change between Go versions.
type splitMix64 uint64

func (s *splitMix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// Forward writes H·S·x of src (len D) into dst (len DPad, caller-allocated).
// dst may be src itself when D == DPad. It panics on wrong lengths.
func (h *Hadamard) Forward(dst, src []float32) {
	if len(src) != h.D || len(dst) != h.DPad {
		panic(fmt.Sprintf("stages: Hadamard.Forward: len(src)=%d len(dst)=%d, want %d and %d", len(src), len(dst), h.D, h.DPad))
	}
	if useAsm && h.DPad >= 8 {
		// The sign/scale pass is fused into the first kernel when whole blocks
		// of 8 are scaled; zero blocks past D stay zero under the unit stages.
		clear(dst[h.D:])
		if h.D%8 == 0 {
			fwhtUnit8AVX(&dst[0], &src[0], &h.pre[0], h.D)
		} else {
			for i, v := range src {
				dst[i] = v * h.pre[i]
			}
			fwhtUnit8AVX(&dst[0], &dst[0], nil, h.DPad)
		}
		fwhtStagesAVX(dst)
		return
	}
	for i, v := range src {
		dst[i] = v * h.pre[i]
	}
	clear(dst[h.D:])
	fwht(dst)
}

// fwhtStagesAVX applies the stages h = 8, 16, … to x (len a power of two >= 8)
// with the assembly kernels, two stages per pass while it can: fwht after
// radix8Unit, in the same order of stages, hence with the same results.
func fwhtStagesAVX(x []float32) {
	n := len(x)
	h := 8
	for ; h*4 <= n; h *= 4 {
		fwhtRadix4AVX(&x[0], n, h)
	}
	if h < n {
		fwhtRadix2AVX(&x[0], n, h)
	}
}

// Inverse writes the first D coordinates of S·H·src (src len DPad) into dst
// (len D, caller-allocated). src is not modified; dst may be src[:D] itself.
// When D < DPad it borrows a DPad scratch vector from an internal pool, so it
// does not allocate in steady state; InverseScratch lets the caller supply one.
func (h *Hadamard) Inverse(dst, src []float32) {
	if h.D == h.DPad {
		h.InverseScratch(dst, src, nil)
		return
	}
	s := h.scratch.Get().(*[]float32)
	h.InverseScratch(dst, src, *s)
	h.scratch.Put(s)
}

// InverseScratch is Inverse with a caller-owned scratch vector of len >= DPad
// (ignored, and may be nil, when D == DPad). It panics on wrong lengths.
func (h *Hadamard) InverseScratch(dst, src, scratch []float32) {
	if len(src) != h.DPad || len(dst) != h.D {
		panic(fmt.Sprintf("stages: Hadamard.Inverse: len(src)=%d len(dst)=%d, want %d and %d", len(src), len(dst), h.DPad, h.D))
	}
	buf := dst
	if h.D < h.DPad {
		buf = scratch[:h.DPad]
	}
	if useAsm && h.DPad >= 8 {
		fwhtUnit8AVX(&buf[0], &src[0], nil, h.DPad) // the copy is fused
		fwhtStagesAVX(buf)
		d8 := h.D &^ 7
		if d8 > 0 {
			mulAVX(&dst[0], &buf[0], &h.pre[0], d8)
		}
		for i := d8; i < h.D; i++ {
			dst[i] = buf[i] * h.pre[i]
		}
		return
	}
	copy(buf, src)
	fwht(buf)
	for i := range dst {
		dst[i] = buf[i] * h.pre[i]
	}
}

// fwht applies the unnormalised Walsh–Hadamard transform (Sylvester order) to x
// in place; len(x) must be a power of two. It computes what fwhtRef does, with
// three butterfly stages at a time held in registers (radix 8), so that a
// 128-vector is loaded and stored 3 times instead of 7. The stages act on
// different bits of the index, so their order does not matter.
//
// On amd64 with AVX2, Forward and Inverse run the same stages in the same
// order with the kernels of hadamard_amd64.s (fwhtUnit8AVX for h = 1, 2, 4
// inside each YMM register, then fwhtStagesAVX), so the results are
// bit-identical.
func fwht(x []float32) {
	n := len(x)
	h := 1
	if n >= 8 {
		radix8Unit(x)
		h = 8
	}
	for ; h*8 <= n; h *= 8 {
		for blk := 0; blk < n; blk += 8 * h {
			radix8(x[blk:blk+8*h], h)
		}
	}
	for ; h < n; h *= 2 {
		for i := 0; i < n; i += 2 * h {
			butterfly(x[i:i+h], x[i+h:i+2*h])
		}
	}
}

// radix8Unit applies stages h = 1, 2, 4 to each block of 8 consecutive values.
func radix8Unit(x []float32) {
	for i := 0; i+8 <= len(x); i += 8 {
		b := (*[8]float32)(x[i : i+8])
		a0, a1, a2, a3 := b[0]+b[1], b[0]-b[1], b[2]+b[3], b[2]-b[3] // stage 1
		a4, a5, a6, a7 := b[4]+b[5], b[4]-b[5], b[6]+b[7], b[6]-b[7]
		c0, c1, c2, c3 := a0+a2, a1+a3, a0-a2, a1-a3 // stage 2
		c4, c5, c6, c7 := a4+a6, a5+a7, a4-a6, a5-a7
		b[0], b[1], b[2], b[3] = c0+c4, c1+c5, c2+c6, c3+c7 // stage 4
		b[4], b[5], b[6], b[7] = c0-c4, c1-c5, c2-c6, c3-c7
	}
}

// radix8 applies stages h, 2h, 4h to a block of 8h values: h interleaved
// 8-point transforms on the values j, j+h, …, j+7h (radix8Unit with stride h).
func radix8(b []float32, h int) {
	s0, s1, s2, s3 := b[0:h], b[h:2*h], b[2*h:3*h], b[3*h:4*h]
	s4, s5, s6, s7 := b[4*h:5*h], b[5*h:6*h], b[6*h:7*h], b[7*h:8*h]
	s1, s2, s3, s4, s5, s6, s7 = s1[:len(s0)], s2[:len(s0)], s3[:len(s0)], s4[:len(s0)], s5[:len(s0)], s6[:len(s0)], s7[:len(s0)]
	for j, x0 := range s0 {
		x1, x2, x3, x4, x5, x6, x7 := s1[j], s2[j], s3[j], s4[j], s5[j], s6[j], s7[j]
		a0, a1, a2, a3 := x0+x1, x0-x1, x2+x3, x2-x3 // stage h
		a4, a5, a6, a7 := x4+x5, x4-x5, x6+x7, x6-x7
		c0, c1, c2, c3 := a0+a2, a1+a3, a0-a2, a1-a3 // stage 2h
		c4, c5, c6, c7 := a4+a6, a5+a7, a4-a6, a5-a7
		s0[j], s1[j], s2[j], s3[j] = c0+c4, c1+c5, c2+c6, c3+c7 // stage 4h
		s4[j], s5[j], s6[j], s7[j] = c0-c4, c1-c5, c2-c6, c3-c7
	}
}

// butterfly sets (a, b) to (a+b, a−b) elementwise; len(b) must equal len(a).
func butterfly(a, b []float32) {
	b = b[:len(a)]
	for j, u := range a {
		v := b[j]
		a[j], b[j] = u+v, u-v
	}
}

// fwhtRef is the textbook in-place transform: for h = 1, 2, 4, …, combine each
// element with the one h further on.
func fwhtRef(x []float32) {
	n := len(x)
	for h := 1; h < n; h *= 2 {
		for i := 0; i < n; i += 2 * h {
			for j := i; j < i+h; j++ {
				u, v := x[j], x[j+h]
				x[j], x[j+h] = u+v, u-v
			}
		}
	}
}

// runHadamard: SPEC §4. Output: per group the kept rows at code width DPad,
// or in's rows themselves (shared, never modified) when there is nothing to
// do.
func (p *Pipeline) runHadamard(ctx context.Context, s Settings, ev *evictOut, in *rowsOut) (*rowsOut, error) {
	kv := p.kv
	d, w := kv.HeadDim, codeWidth(kv.HeadDim, s)
	out := &rowsOut{width: w}
	if !p.nexus(s) {
		return out, nil
	}
	var had *Hadamard
	if s.Hadamard {
		had = NewHadamard(d, s.HadamardSigns, s.Seed)
	}
	out.rows = make([][]float32, len(in.rows))
	err := p.forHeads(ctx, func(_, layer, head int) error {
		for kvi := range 2 {
			g := p.group(layer, kvi, head)
			src := in.rows[g]
			if had == nil && w == d {
				out.rows[g] = src // nothing to do: share the rope output
				continue
			}
			n := len(src) / d
			dst := make([]float32, n*w)
			for r := range n {
				if had != nil {
					had.Forward(dst[r*w:r*w+had.DPad], src[r*d:(r+1)*d])
				} else {
					copy(dst[r*w:], src[r*d:(r+1)*d])
				}
			}
			out.rows[g] = dst
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = p.measureRows(ctx, s, ev, &out.errSums, func(layer, kvi, head int, dst []float32, pos []int32) {
		src := out.rows[p.group(layer, kvi, head)]
		for r := range len(pos) {
			if had != nil {
				had.Inverse(dst[r*d:(r+1)*d], src[r*w:r*w+had.DPad])
			} else {
				copy(dst[r*d:(r+1)*d], src[r*w:r*w+d])
			}
		}
		if kvi == 0 && p.ropeUndone(s, layer) {
			RedoRoPE(dst, d, layer, pos, p.rope)
		}
	})
	return out, err
}
