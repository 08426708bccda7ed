package gguf

import (
	"encoding/binary"
	"math"
)

// Test-side model of the ggml block formats, written from the layout
// descriptions in ggml-common.h independently of the kernels: a block is
// described by its logical content (scales, mins, integer quants), packed to
// bytes by pack*, and its expected values come from the defining formula,
// evaluated in float64. With power-of-two scales every expected value is
// exact, so tests can demand bit equality.

// halfToFloat64 decodes IEEE binary16 bits from the definition
// (sign · 2^(e−15) · 1.m, subnormals 2^−14 · 0.m).
func halfToFloat64(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e := int(h>>10) & 31
	m := float64(h & 0x3ff)
	switch e {
	case 0:
		return sign * math.Ldexp(m/1024, -14)
	case 31:
		if m != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	}
	return sign * math.Ldexp(1+m/1024, e-15)
}

// halfOf maps every finite half value (except −0) to its bits.
var halfOf = func() map[float64]uint16 {
	m := make(map[float64]uint16, 1<<16)
	for h := 1<<16 - 1; h >= 0; h-- { // descending: +0 (h=0) wins over −0
		if x := halfToFloat64(uint16(h)); !math.IsNaN(x) && !math.IsInf(x, 0) {
			m[x] = uint16(h)
		}
	}
	return m
}()

// exactHalf returns the binary16 bits of x, which must be exactly
// representable (the tests only use such values).
func exactHalf(x float64) uint16 {
	h, ok := halfOf[x]
	if !ok {
		panic("not a half value") // test-construction bug, not input
	}
	return h
}

func putHalf(b []byte, x float64) { binary.LittleEndian.PutUint16(b, exactHalf(x)) }

// blockSpec is the logical content of one block of any supported type.
type blockSpec struct {
	d, dmin float64 // super-block / block scale and min scale (m for Q4_1/Q5_1)
	sc, mn  []int   // sub-block scales and mins (K types)
	q       []int   // the integer quants as the formula uses them
}

// value is the element e of the block by the type's defining formula.
func (s blockSpec) value(t Type, e int) float64 {
	switch t {
	case Q4_0:
		return s.d * float64(s.q[e]-8)
	case Q5_0:
		return s.d * float64(s.q[e]-16)
	case Q8_0:
		return s.d * float64(s.q[e])
	case Q4_1, Q5_1:
		return s.d*float64(s.q[e]) + s.dmin
	case Q2_K:
		return s.d*float64(s.sc[e/16]*s.q[e]) - s.dmin*float64(s.mn[e/16])
	case Q3_K, Q6_K:
		return s.d * float64(s.sc[e/16]*s.q[e])
	case Q4_K, Q5_K:
		return s.d*float64(s.sc[e/32]*s.q[e]) - s.dmin*float64(s.mn[e/32])
	}
	panic("unsupported type in test")
}

// pack encodes the block per ggml-common.h.
func (s blockSpec) pack(t Type) []byte {
	b := make([]byte, t.BlockBytes())
	switch t {
	case Q4_0, Q4_1:
		o := 2
		putHalf(b, s.d)
		if t == Q4_1 {
			putHalf(b[2:], s.dmin)
			o = 4
		}
		for j := 0; j < 16; j++ { // element j low nibble, j+16 high nibble
			b[o+j] = byte(s.q[j]) | byte(s.q[j+16])<<4
		}
	case Q5_0, Q5_1:
		o := 2
		putHalf(b, s.d)
		if t == Q5_1 {
			putHalf(b[2:], s.dmin)
			o = 4
		}
		var qh uint32
		for e := 0; e < 32; e++ {
			qh |= uint32(s.q[e]>>4&1) << e // bit e: fifth bit of element e
		}
		binary.LittleEndian.PutUint32(b[o:], qh)
		for j := 0; j < 16; j++ {
			b[o+4+j] = byte(s.q[j]&15) | byte(s.q[j+16]&15)<<4
		}
	case Q8_0:
		putHalf(b, s.d)
		for e := 0; e < 32; e++ {
			b[2+e] = byte(int8(s.q[e]))
		}
	case Q2_K: // scales[16] | qs[64] | d | dmin
		for i := 0; i < 16; i++ {
			b[i] = byte(s.sc[i]) | byte(s.mn[i])<<4
		}
		for e := 0; e < 256; e++ { // element 128h+32j+l: bits 2j of qs[32h+l]
			h, j, l := e/128, e%128/32, e%32
			b[16+32*h+l] |= byte(s.q[e]) << (2 * j)
		}
		putHalf(b[80:], s.d)
		putHalf(b[82:], s.dmin)
	case Q3_K: // hmask[32] | qs[64] | scales[12] | d
		for e := 0; e < 256; e++ {
			u := s.q[e] + 4 // 0..7
			h, j, l := e/128, e%128/32, e%32
			b[32+32*h+l] |= byte(u&3) << (2 * j)
			b[l] |= byte(u>>2) << (4*h + j)
		}
		for j := 0; j < 16; j++ {
			u := s.sc[j] + 32 // 6 bits
			if j < 8 {
				b[96+j] |= byte(u & 15)
			} else {
				b[96+j-8] |= byte(u&15) << 4
			}
			b[96+8+j%4] |= byte(u>>4) << (2 * (j / 4))
		}
		putHalf(b[108:], s.d)
	case Q4_K, Q5_K: // d | dmin | scales[12] | (qh[32]) | qs[128]
		putHalf(b, s.d)
		putHalf(b[2:], s.dmin)
		for j := 0; j < 4; j++ {
			b[4+j] = byte(s.sc[j]) | byte(s.sc[j+4]>>4)<<6
			b[4+j+4] = byte(s.mn[j]) | byte(s.mn[j+4]>>4)<<6
			b[4+j+8] = byte(s.sc[j+4]&15) | byte(s.mn[j+4]&15)<<4
		}
		qs := 16
		if t == Q5_K {
			qs = 48
		}
		for e := 0; e < 256; e++ {
			c, hi, l := e/64, e%64/32, e%32 // sub-block 2c+hi, byte 32c+l
			b[qs+32*c+l] |= byte(s.q[e]&15) << (4 * hi)
			if t == Q5_K {
				b[16+l] |= byte(s.q[e]>>4&1) << (2*c + hi)
			}
		}
	case Q6_K: // ql[128] | qh[64] | scales[16] | d
		for e := 0; e < 256; e++ {
			u := s.q[e] + 32 // 0..63
			h, quarter, l := e/128, e%128/32, e%32
			qlIdx := 64*h + l + 32*(quarter&1) // quarters 1 and 3 use ql[l+32]
			b[qlIdx] |= byte(u&15) << (4 * (quarter >> 1))
			b[128+32*h+l] |= byte(u>>4) << (2 * quarter)
		}
		for i := 0; i < 16; i++ {
			b[192+i] = byte(int8(s.sc[i]))
		}
		putHalf(b[208:], s.d)
	default:
		panic("unsupported type in test")
	}
	return b
}

// rng is a tiny deterministic generator (xorshift64*), so test data does not
// depend on math/rand's algorithm.
type rng uint64

func (r *rng) next() uint64 {
	*r ^= *r >> 12
	*r ^= *r << 25
	*r ^= *r >> 27
	return uint64(*r) * 2685821657736338717
}

// intn returns a value in [lo, hi].
func (r *rng) intn(lo, hi int) int { return lo + int(r.next()%uint64(hi-lo+1)) }

// norm returns an approximately standard normal float32.
func (r *rng) norm() float32 {
	var s float64
	for i := 0; i < 12; i++ {
		s += float64(r.next()>>11) / (1 << 53)
	}
	return float32(s - 6)
}

// pow2Scales are exact half values used as block scales.
var pow2Scales = []float64{1, 0.5, 0.25, 0.125, 1.0 / 1024, 2, 8, -0.5, -4, 3.0 / 64}

// randomSpec draws the logical content of a block of type t.
func randomSpec(t Type, r *rng) blockSpec {
	s := blockSpec{d: pow2Scales[r.intn(0, len(pow2Scales)-1)], dmin: pow2Scales[r.intn(0, len(pow2Scales)-1)]}
	n := t.BlockElems()
	s.q = make([]int, n)
	qlo, qhi := 0, 0
	switch t {
	case Q4_0, Q4_1, Q4_K:
		qhi = 15
	case Q5_0, Q5_1, Q5_K:
		qhi = 31
	case Q8_0:
		qlo, qhi = -128, 127
	case Q2_K:
		qhi = 3
	case Q3_K:
		qlo, qhi = -4, 3
	case Q6_K:
		qlo, qhi = -32, 31
	}
	for i := range s.q {
		s.q[i] = r.intn(qlo, qhi)
	}
	switch t {
	case Q2_K:
		s.sc, s.mn = make([]int, 16), make([]int, 16)
		for i := range s.sc {
			s.sc[i], s.mn[i] = r.intn(0, 15), r.intn(0, 15)
		}
	case Q3_K:
		s.sc = make([]int, 16)
		for i := range s.sc {
			s.sc[i] = r.intn(-32, 31)
		}
	case Q4_K, Q5_K:
		s.sc, s.mn = make([]int, 8), make([]int, 8)
		for i := range s.sc {
			s.sc[i], s.mn[i] = r.intn(0, 63), r.intn(0, 63)
		}
	case Q6_K:
		s.sc = make([]int, 16)
		for i := range s.sc {
			s.sc[i] = r.intn(-128, 127)
		}
	}
	return s
}

// refElement decodes element e of an arbitrary block (any bytes) of type t
// element by element from the layout, with float32 arithmetic in the order of
// ggml's reference formulas; used to check the kernels bit for bit on blocks
// whose scales are arbitrary halves.
func refElement(t Type, b []byte, e int) float32 {
	f16 := func(o int) float32 { return float32(halfToFloat64(binary.LittleEndian.Uint16(b[o:]))) }
	nib := func(x byte, high bool) int {
		if high {
			return int(x >> 4)
		}
		return int(x & 15)
	}
	switch t {
	case Q4_0:
		return float32(nib(b[2+e%16], e >= 16)-8) * f16(0)
	case Q4_1:
		return float32(float32(nib(b[4+e%16], e >= 16))*f16(0)) + f16(2)
	case Q5_0, Q5_1:
		o := 2
		if t == Q5_1 {
			o = 4
		}
		q := nib(b[o+4+e%16], e >= 16) | int(binary.LittleEndian.Uint32(b[o:])>>e&1)<<4
		if t == Q5_0 {
			return float32(q-16) * f16(0)
		}
		return float32(float32(q)*f16(0)) + f16(2)
	case Q8_0:
		return float32(int8(b[2+e])) * f16(0)
	case Q2_K:
		h, j, l := e/128, e%128/32, e%32
		q := int(b[16+32*h+l]>>(2*j)) & 3
		sc := b[e/16]
		dl := f16(80) * float32(sc&15)
		ml := f16(82) * float32(sc>>4)
		return float32(dl*float32(q)) - ml
	case Q3_K:
		h, j, l := e/128, e%128/32, e%32
		q := int(b[32+32*h+l]>>(2*j)) & 3
		if b[l]>>(4*h+j)&1 == 0 {
			q -= 4
		}
		sub := e / 16
		low := int(b[96+sub%8])
		if sub >= 8 {
			low >>= 4
		}
		sc := (low & 15) | int(b[104+sub%4]>>(2*(sub/4))&3)<<4
		return f16(108) * float32(sc-32) * float32(q)
	case Q4_K, Q5_K:
		sub := e / 32
		var sc, mn int
		if sub < 4 {
			sc, mn = int(b[4+sub]&63), int(b[8+sub]&63)
		} else {
			sc = int(b[8+sub]&15) | int(b[sub]>>6)<<4
			mn = int(b[8+sub]>>4) | int(b[4+sub]>>6)<<4
		}
		c, l := e/64, e%32
		qs := 16
		if t == Q5_K {
			qs = 48
		}
		q := nib(b[qs+32*c+l], sub%2 == 1)
		if t == Q5_K && b[16+l]>>sub&1 == 1 {
			q += 16
		}
		return float32(f16(0)*float32(sc)*float32(q)) - f16(2)*float32(mn)
	case Q6_K:
		h, quarter, l := e/128, e%128/32, e%32
		ql := b[64*h+l+32*(quarter&1)]
		q := nib(ql, quarter >= 2) | int(b[128+32*h+l]>>(2*quarter)&3)<<4
		return f16(208) * float32(int8(b[192+e/16])) * float32(q-32)
	}
	panic("unsupported type in test")
}
