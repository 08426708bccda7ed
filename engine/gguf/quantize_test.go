package gguf

import (
	"math"
	"strings"
	"testing"
)

// TestQuantizeQ8_0Hand checks ggml's q8_0 reference rules on a hand-made
// block: d = max|x|/127 and round-half-away-from-zero of x/d.
func TestQuantizeQ8_0Hand(t *testing.T) {
	x := make([]float32, 32)
	copy(x, []float32{127, -63.5, 0.5, 2.5, -2.5, 1.49, -127, 0.4999})
	want := []int8{127, -64, 1, 3, -3, 1, -127, 0} // halves go away from zero
	b := make([]byte, 34)
	if err := QuantizeRowQ8_0(x, b); err != nil {
		t.Fatal(err)
	}
	if b[0] != 0x00 || b[1] != 0x3c { // d = 1
		t.Fatalf("d bytes %#02x %#02x, want 0x00 0x3c", b[0], b[1])
	}
	for i, w := range want {
		if int8(b[2+i]) != w {
			t.Errorf("q[%d] = %d, want %d", i, int8(b[2+i]), w)
		}
	}
	// All zeros: d = 0, q = 0.
	if err := QuantizeRowQ8_0(make([]float32, 32), b); err != nil {
		t.Fatal(err)
	}
	for i, v := range b {
		if v != 0 {
			t.Fatalf("zero block byte %d = %d", i, v)
		}
	}
}

// TestQuantizeQ4_0Hand checks ggml's q4_0 reference rules: d = m/−8 for the
// signed value m of largest magnitude (the first on ties), q =
// min(15, trunc(x/d + 8.5)).
func TestQuantizeQ4_0Hand(t *testing.T) {
	cases := []struct {
		name  string
		x     []float32 // first values of the block, rest 0
		d     uint16
		q     []int // first quants
		restQ int
	}{
		// m = −16 → d = 2: −16→0, 14→15, 15→min(15,16)=15, 1→9, −1→8, 0.9→8 (trunc 8.95), 16→15 (clamped).
		{"negative max", []float32{-16, 14, 15, 1, -1, 0.9, 16}, 0x4000, []int{0, 15, 15, 9, 8, 8, 15}, 8},
		// Tie: 8 comes first → d = −1: 8→0, −8→min(15,16)=15, 3→5, −3→11.
		{"first of a tie", []float32{8, -8, 3, -3}, 0xbc00, []int{0, 15, 5, 11}, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := make([]float32, 32)
			copy(x, c.x)
			b := make([]byte, 18)
			if err := QuantizeRowQ4_0(x, b); err != nil {
				t.Fatal(err)
			}
			if d := uint16(b[0]) | uint16(b[1])<<8; d != c.d {
				t.Fatalf("d = %#04x, want %#04x", d, c.d)
			}
			for e := 0; e < 32; e++ {
				q := int(b[2+e%16] & 15)
				if e >= 16 {
					q = int(b[2+e%16] >> 4)
				}
				want := c.restQ
				if e < len(c.q) {
					want = c.q[e]
				}
				if q != want {
					t.Errorf("q[%d] = %d, want %d", e, q, want)
				}
			}
		})
	}
}

// TestQuantizeRoundTrip quantizes Gaussian rows and bounds the error of the
// dequantized values: per element by the rounding step (plus the error of
// storing d as a half), and in relative RMS. The RMS bounds are the measured
// errors (Q8_0 0.51%, Q4_0 8.2%, Q4_1 7.6%, Q5_0 4.0%, Q5_1 3.6%, F16 0.02%,
// BF16 0.17%) plus about 20%; the uniform-rounding estimate step/√12 gives the same figures.
func TestQuantizeRoundTrip(t *testing.T) {
	cases := []struct {
		typ    Type
		maxErr func(d, d16 float64) float64 // per-element bound for a block
		rms    float64
	}{
		// |x − q·d16| ≤ d/2 + |q|·|d−d16| with |q| ≤ 127.
		{Q8_0, func(d, d16 float64) float64 { return d/2 + 127*math.Abs(d-d16) + 1e-6 }, 0.0062},
		// q·d covers [−8d, 7d]; x = −m (x/d = 8) clamps to 7: error up to |d|.
		{Q4_0, func(d, d16 float64) float64 { return math.Abs(d) + 8*math.Abs(d-d16) + 1e-6 }, 0.098},
		{Q4_1, nil, 0.092},
		{Q5_0, nil, 0.048},
		{Q5_1, nil, 0.044},
		{F16, nil, 0.00026},
		{BF16, nil, 0.0021},
		{F32, nil, 0},
	}
	r := rng(42)
	x := make([]float32, 32*64)
	for i := range x {
		x[i] = r.norm() * 0.02
	}
	x[5] = 0.5 // an outlier in the first block
	for _, c := range cases {
		t.Run(c.typ.String(), func(t *testing.T) {
			q, err := Quantize(c.typ, x)
			if err != nil {
				t.Fatal(err)
			}
			y := make([]float32, len(x))
			if err := DequantizeRow(c.typ, q, y); err != nil {
				t.Fatal(err)
			}
			// RMS over the Gaussian blocks (the first holds an outlier).
			e := relRMS(y[32:], x[32:])
			t.Logf("relative RMS error %.5f", e)
			if e > c.rms {
				t.Errorf("relative RMS error %.5f > %.5f", e, c.rms)
			}
			if c.maxErr == nil {
				return
			}
			for blk := 0; blk < len(x)/32; blk++ {
				xs := x[32*blk : 32*blk+32]
				var d float64
				if c.typ == Q8_0 {
					var amax float32
					for _, v := range xs {
						amax = max(amax, float32(math.Abs(float64(v))))
					}
					d = float64(amax / 127)
				} else {
					d = float64(signedMax(xs) / -8)
				}
				d16 := float64(F16ToF32(F32ToF16(float32(d))))
				bound := c.maxErr(d, d16)
				for j, v := range xs {
					if e := math.Abs(float64(y[32*blk+j]) - float64(v)); e > bound {
						t.Fatalf("block %d elem %d: |%v − %v| = %g > %g", blk, j, y[32*blk+j], v, e, bound)
					}
				}
			}
		})
	}
}

// TestQuantizeErrors checks size and type errors.
func TestQuantizeErrors(t *testing.T) {
	if err := QuantizeRowQ8_0(make([]float32, 32), make([]byte, 33)); err == nil || !strings.Contains(err.Error(), "34") {
		t.Errorf("short dst: %v", err)
	}
	if err := QuantizeRowQ4_0(make([]float32, 31), make([]byte, 18)); err == nil || !strings.Contains(err.Error(), "block size") {
		t.Errorf("partial block: %v", err)
	}
	if err := QuantizeRow(Q4_K, make([]float32, 256), make([]byte, 144)); err == nil || !strings.Contains(err.Error(), "Q4_K") {
		t.Errorf("Q4_K: %v", err)
	}
	if _, err := Quantize(Type(77), make([]float32, 4)); err == nil {
		t.Error("unknown type: no error")
	}
	// Non-finite input must not panic and must stay in range.
	x := make([]float32, 32)
	x[0], x[1] = float32(math.NaN()), float32(math.Inf(-1))
	for _, typ := range []Type{Q8_0, Q4_0, Q4_1, Q5_0, Q5_1} {
		if _, err := Quantize(typ, x); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
}

// TestF32ToF16 checks round trips of every half, rounding of midpoints to
// even, overflow and underflow.
func TestF32ToF16(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		got := F32ToF16(f)
		if isNaN32(f) {
			if got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
				t.Fatalf("NaN %#04x → %#04x", h, got)
			}
			continue
		}
		if got != uint16(h) {
			t.Fatalf("F32ToF16(F16ToF32(%#04x)) = %#04x", h, got)
		}
	}
	// Midpoints between adjacent positive finite halves round to the even
	// one; a hair above rounds up, a hair below rounds down.
	for h := uint16(0); h < 0x7bff; h++ {
		lo, hi := float64(F16ToF32(h)), float64(F16ToF32(h+1))
		mid := float32((lo + hi) / 2) // exact in float32
		even := h
		if h&1 == 1 {
			even = h + 1
		}
		if got := F32ToF16(mid); got != even {
			t.Fatalf("midpoint of %#04x,%#04x → %#04x, want %#04x", h, h+1, got, even)
		}
		if got := F32ToF16(math.Nextafter32(mid, 1e9)); got != h+1 {
			t.Fatalf("above midpoint of %#04x → %#04x", h, got)
		}
		if got := F32ToF16(math.Nextafter32(mid, -1)); got != h {
			t.Fatalf("below midpoint of %#04x → %#04x", h, got)
		}
		if got := F32ToF16(-mid); got != even|0x8000 {
			t.Fatalf("negative midpoint of %#04x → %#04x", h, got)
		}
	}
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{65520, 0x7c00},                       // halfway between max half and 2^16: rounds to Inf
		{65519.99, 0x7bff},                    // just below: max half
		{1e10, 0x7c00},                        // overflow
		{-1e10, 0xfc00},                       // negative overflow
		{float32(math.Inf(1)), 0x7c00},        // Inf
		{math.Float32frombits(0x33000000), 0}, // 2^−25: tie with 0, rounds to even 0
		{math.Float32frombits(0x33000001), 1}, // just above 2^−25: smallest subnormal
		{1e-30, 0},
		{float32(math.Copysign(0, -1)), 0x8000},
	} {
		if got := F32ToF16(c.f); got != c.want {
			t.Errorf("F32ToF16(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
}

// TestF32ToBF16 checks rounding to nearest even and NaN.
func TestF32ToBF16(t *testing.T) {
	for _, c := range []struct {
		bits uint32
		want uint16
	}{
		{0x3f800000, 0x3f80},
		{0x3f808000, 0x3f80}, // tie, even stays
		{0x3f818000, 0x3f82}, // tie, odd rounds up
		{0x3f808001, 0x3f81}, // above tie
		{0x7f7fffff, 0x7f80}, // max float rounds to Inf
		{0x7fc00001, 0x7fc0}, // NaN stays NaN
		{0x7f800001, 0x7fc0}, // signalling NaN becomes quiet
	} {
		if got := F32ToBF16(math.Float32frombits(c.bits)); got != c.want {
			t.Errorf("F32ToBF16(%#08x) = %#04x, want %#04x", c.bits, got, c.want)
		}
	}
}
