package half

import (
	"math"
	"sort"
	"testing"
)

// refValue is the value of finite binary16 bits h, from the definition:
// (−1)^s · 2^(e−15) · (1 + m/1024), or 2^−14 · m/1024 when e = 0.
func refValue(h uint16) float64 {
	s, e, m := h>>15, int(h>>10&0x1f), float64(h&0x3ff)
	v := math.Ldexp(1+m/1024, e-15)
	if e == 0 {
		v = math.Ldexp(m/1024, -14)
	}
	if s == 1 {
		v = -v
	}
	return v
}

func isNaN16(h uint16) bool { return h&0x7c00 == 0x7c00 && h&0x3ff != 0 }

// TestToFloat32 checks every pattern against the definition, and the NaN
// handling of both conversions bit for bit.
func TestToFloat32(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got, quiet := ToFloat32(h), ToFloat32Quiet(h)
		gb, qb := math.Float32bits(got), math.Float32bits(quiet)
		switch {
		case isNaN16(h):
			want := uint32(h&0x8000)<<16 | 0x7f800000 | uint32(h&0x3ff)<<13
			if gb != want || qb != want|0x400000 {
				t.Fatalf("%#04x: ToFloat32 %#08x, ToFloat32Quiet %#08x; want %#08x and %#08x", h, gb, qb, want, want|0x400000)
			}
		case h&0x7fff == 0x7c00:
			if !math.IsInf(float64(got), 1-2*int(h>>15)) || gb != qb {
				t.Fatalf("%#04x: %g, %g; want ±Inf", h, got, quiet)
			}
		default:
			if float64(got) != refValue(h) || math.Signbit(float64(got)) != (h>>15 == 1) || gb != qb {
				t.Fatalf("%#04x: %g (quiet %g), want %g", h, got, quiet, refValue(h))
			}
		}
	}
}

// TestNaN pins what each direction does with NaNs.
func TestNaN(t *testing.T) {
	cases := []struct {
		name        string
		h           uint16
		exact, quit uint32
	}{
		{"signalling NaN", 0x7c01, 0x7f802000, 0x7fc02000},
		{"quiet NaN", 0x7e00, 0x7fc00000, 0x7fc00000},
		{"negative signalling NaN with payload", 0xfd55, 0xffaaa000, 0xffeaa000},
	}
	for _, tc := range cases {
		if got := math.Float32bits(ToFloat32(tc.h)); got != tc.exact {
			t.Errorf("%s: ToFloat32(%#04x) = %#08x, want %#08x", tc.name, tc.h, got, tc.exact)
		}
		if got := math.Float32bits(ToFloat32Quiet(tc.h)); got != tc.quit {
			t.Errorf("%s: ToFloat32Quiet(%#04x) = %#08x, want %#08x", tc.name, tc.h, got, tc.quit)
		}
	}
	from := []struct {
		f    uint32
		want uint16
	}{
		{0x7f800001, 0x7e00}, // signalling, payload below the kept bits: quiet NaN
		{0x7fc00000, 0x7e00},
		{0xffa02000, 0xff01}, // sign and the top 9 payload bits kept, quiet
		{0x7f800000, 0x7c00},
		{0xff800000, 0xfc00},
	}
	for _, tc := range from {
		if got := FromFloat32(math.Float32frombits(tc.f)); got != tc.want {
			t.Errorf("FromFloat32(%#08x) = %#04x, want %#04x", tc.f, got, tc.want)
		}
	}
}

// nearest is the reference rounding: the finite binary16 value nearest f,
// ties to the even pattern, with 65536 standing for +Inf (IEEE rounding with
// an unbounded exponent). It searches the sorted non-negative values.
type nearest struct {
	vals []float64 // vals[h] for h = 0 … 0x7c00 (0x7c00: 65536, i.e. Inf)
}

func newNearest() *nearest {
	n := &nearest{vals: make([]float64, 0x7c01)}
	for h := 0; h < 0x7c00; h++ {
		n.vals[h] = refValue(uint16(h))
	}
	n.vals[0x7c00] = 65536
	return n
}

func (n *nearest) round(f float32) uint16 {
	v := float64(f)
	sign := uint16(0)
	if math.Signbit(v) {
		sign, v = 0x8000, -v
	}
	if v >= 65536 {
		return sign | 0x7c00
	}
	i := sort.SearchFloat64s(n.vals, v) // first ≥ v
	if n.vals[i] == v {
		return sign | uint16(i)
	}
	lo, hi := n.vals[i-1], n.vals[i]
	switch {
	case v-lo < hi-v:
		return sign | uint16(i-1)
	case v-lo > hi-v:
		return sign | uint16(i)
	case (i-1)%2 == 0:
		return sign | uint16(i-1)
	}
	return sign | uint16(i)
}

// TestFromFloat32 compares FromFloat32 with the reference on every binary16
// value, every midpoint between neighbours and the float32 values either
// side of it, a strided sweep of all float32 patterns, and specials.
func TestFromFloat32(t *testing.T) {
	ref := newNearest()
	check := func(f float32) {
		if f != f {
			return
		}
		if got, want := FromFloat32(f), ref.round(f); got != want {
			t.Fatalf("FromFloat32(%g = %#08x) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
		}
	}
	for h := 0; h < 0x7c00; h++ {
		for _, s := range []float64{1, -1} {
			v := s * refValue(uint16(h))
			check(float32(v))
			mid := s * (refValue(uint16(h)) + ref.vals[h+1]) / 2 // exact in float32
			m := float32(mid)
			check(m)
			check(math.Nextafter32(m, float32(math.Inf(1))))
			check(math.Nextafter32(m, float32(math.Inf(-1))))
		}
	}
	for b := uint64(0); b < 1<<32; b += 4093 {
		check(math.Float32frombits(uint32(b)))
	}
	for _, f := range []float32{0, float32(math.Copysign(0, -1)), 65504, 65519.99, 65520, 65536, 1e30, 1e-8, 2.98e-8, 5.97e-8,
		float32(math.Inf(1)), float32(math.Inf(-1)), math.SmallestNonzeroFloat32, math.MaxFloat32} {
		check(f)
		check(-f)
	}
}

// TestRoundTrip: every non-NaN pattern survives ToFloat32 then FromFloat32,
// and a NaN stays a NaN of the same sign.
func TestRoundTrip(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		for _, f := range []float32{ToFloat32(h), ToFloat32Quiet(h)} {
			back := FromFloat32(f)
			if isNaN16(h) {
				if !isNaN16(back) || back&0x8000 != h&0x8000 {
					t.Fatalf("%#04x → %#04x, want a NaN of the same sign", h, back)
				}
				continue
			}
			if back != h {
				t.Fatalf("%#04x → %g → %#04x", h, f, back)
			}
		}
	}
}

func BenchmarkFromFloat32(b *testing.B) {
	x := make([]float32, 1024)
	for i := range x {
		x[i] = float32(i-512) * 0.37
	}
	var sink uint16
	for b.Loop() {
		for _, v := range x {
			sink ^= FromFloat32(v)
		}
	}
	_ = sink
}
