// Package half converts between float32 and IEEE 754 binary16 (float16)
// bits, for engine (GGUF F16 tensors, activation rounding) and stages (scales,
// float16 rows), which had a copy each.
//
// FromFloat32 rounds to nearest, ties to even, keeps subnormals, overflows to
// ±Inf and maps NaN to a quiet NaN. The two directions back differ only in
// NaN handling, and each caller keeps the one it had:
//
//   - ToFloat32 is exact for every pattern, NaNs included: the payload is kept
//     bit for bit, so a signalling NaN stays signalling (stages' decoders,
//     which must give back what was stored).
//   - ToFloat32Quiet sets the quiet bit of a NaN, as ggml's
//     GGML_FP16_TO_FP32 table does (engine's GGUF reader), and is a lookup in
//     a table of all 65536 values.
package half

import "math"

// FromFloat32 returns the binary16 bits nearest f (ties to even). Values at or
// beyond 65520 in magnitude give ±Inf, values below half the smallest
// subnormal (2^−25) give ±0, and NaN gives a quiet NaN with the sign and the
// top 9 payload bits of f.
func FromFloat32(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff { // Inf or NaN
		if man == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7e00 | uint16(man>>13)
	}
	e := exp - 127 + 15 // biased half exponent
	if e >= 31 {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Half subnormal (or zero): the value is m·2^(e−25) with m the
		// 24-bit significand and the half's unit 2^−24, so drop 14−e bits.
		if e < -10 {
			return sign // below half the smallest subnormal
		}
		m := man | 0x800000
		shift := uint(14 - e)
		h := m >> shift
		rem, halfway := m&(1<<shift-1), uint32(1)<<(shift-1)
		if rem > halfway || rem == halfway && h&1 == 1 {
			h++ // may carry into the smallest normal, which is right
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || rem == 0x1000 && h&1 == 1 {
		h++ // may carry into the exponent, up to Inf, which is right
	}
	return sign | uint16(h)
}

// ToFloat32 returns the value of binary16 bits h exactly; a NaN keeps its
// sign and payload bit for bit (quiet or signalling).
func ToFloat32(h uint16) float32 { return math.Float32frombits(bits(h)) }

// ToFloat32Quiet is ToFloat32 with NaNs made quiet (bit 22 set), as ggml
// converts; it reads a table.
func ToFloat32Quiet(h uint16) float32 { return quietTable[h] }

// bits is ToFloat32's float32 bit pattern.
func bits(h uint16) uint32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch exp {
	case 0x1f: // Inf or NaN
		return sign | 0x7f800000 | man<<13
	case 0: // zero or subnormal: man·2^−24, exact in float32
		return sign | math.Float32bits(float32(man)*(1.0/(1<<24)))
	}
	return sign | (exp+127-15)<<23 | man<<13
}

// quietTable maps every binary16 pattern to ToFloat32Quiet's value. It is an
// array, not a pointer to one, so a lookup is one load at a fixed address.
var quietTable [1 << 16]float32

func init() {
	for h := range quietTable {
		b := bits(uint16(h))
		if b&0x7f800000 == 0x7f800000 && b&0x7fffff != 0 {
			b |= 0x400000
		}
		quietTable[h] = math.Float32frombits(b)
	}
}
