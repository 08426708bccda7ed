package stages

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// gaussianRows returns n rows of length d with N(0, σ²) entries and, every 10th
// row, one outlier 6σ (KV caches have them).
func gaussianRows(rng *rand.Rand, n, d int, sigma float64) []float32 {
	x := make([]float32, n*d)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * sigma)
	}
	for r := 0; r < n; r += 10 {
		x[r*d+rng.IntN(d)] = float32(6 * sigma)
	}
	return x
}

// quantMSE is the mean squared error per coordinate of decode(encode(x)) over
// rows of length d.
func quantMSE(q *Quantizer, x []float32, d int) float64 {
	codes := make([]int16, d)
	xh := make([]float32, d)
	var sum float64
	for r := 0; r < len(x); r += d {
		s := q.Encode(codes, x[r:r+d])
		q.Decode(xh, codes, s)
		for i, v := range xh {
			e := float64(v) - float64(x[r+i])
			sum += e * e
		}
	}
	return sum / float64(len(x))
}

func TestNewQuantizerErrors(t *testing.T) {
	for _, tc := range []struct {
		lattice string
		bits    int
		want    string
	}{
		{"e7", 2, `lattice "e7": want one of [e8 relaxed scalar]`},
		{"e8", 7, "bits 7: want one of [2 3 4 5 6 8]"},
		{"scalar", 1, "bits 1"},
	} {
		_, err := NewQuantizer(tc.lattice, tc.bits)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewQuantizer(%q, %d) error %v, want it to contain %q", tc.lattice, tc.bits, err, tc.want)
		}
	}
}

func TestQuantizerLevels(t *testing.T) {
	for _, tc := range []struct {
		lattice                string
		bits                   int
		levels, packed, cbytes int
		lo, hi                 int
	}{
		{"e8", 2, 9, 4, 1, -4, 4},
		{"e8", 3, 17, 5, 1, -8, 8},
		{"relaxed", 6, 129, 8, 1, -64, 64},
		{"e8", 8, 513, 10, 2, -256, 256},
		{"scalar", 2, 4, 2, 1, -2, 1},
		{"scalar", 8, 256, 8, 1, -128, 127},
	} {
		q, err := NewQuantizer(tc.lattice, tc.bits)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := q.codeRange()
		if q.Levels() != tc.levels || q.PackedBits() != tc.packed || q.CodeBytes() != tc.cbytes || lo != tc.lo || hi != tc.hi {
			t.Errorf("%s/%d: levels %d packed %d bytes %d range [%d,%d], want %d %d %d [%d,%d]",
				tc.lattice, tc.bits, q.Levels(), q.PackedBits(), q.CodeBytes(), lo, hi, tc.levels, tc.packed, tc.cbytes, tc.lo, tc.hi)
		}
	}
}

// TestQuantizerCodeRanges encodes Gaussian rows and checks that every code is
// in range, that for e8/relaxed codes/2 is a coordinate on the half-integer grid
// in [−Lv/2, Lv/2] whose unclamped groups are lattice points within the
// covering radius (1 in units of s), and that at 2 and 3 bits every one of the
// Levels() values occurs.
func TestQuantizerCodeRanges(t *testing.T) {
	const d = 128
	rng := rand.New(rand.NewPCG(3, 4))
	x := gaussianRows(rng, 4000, d, 1)
	for _, lattice := range quantLattices {
		for _, bits := range quantBits {
			t.Run(fmt.Sprintf("%s/%d", lattice, bits), func(t *testing.T) {
				q, _ := NewQuantizer(lattice, bits)
				lo, hi := q.codeRange()
				seen := map[int16]bool{}
				codes := make([]int16, d)
				for r := 0; r < len(x); r += d {
					row := x[r : r+d]
					sbits := q.Encode(codes, row)
					s := F16ToF32(sbits)
					for g := 0; g < d; g += 8 {
						var y, p [8]float32
						clamped := false
						for i := range 8 {
							c := codes[g+i]
							if int(c) < lo || int(c) > hi {
								t.Fatalf("code %d outside [%d, %d]", c, lo, hi)
							}
							seen[c] = true
							y[i] = row[g+i] / s
							p[i] = float32(c) / 2
							clamped = clamped || int(c) == lo || int(c) == hi
						}
						if lattice == "scalar" || clamped {
							continue
						}
						d8, half, free := latticeMember(&p)
						if !(d8 || half || lattice == "relaxed" && free) {
							t.Fatalf("group %v decodes to %v, not a point of %s", y, p, lattice)
						}
						if dist64(&y, &p) > 1+1e-5 {
							t.Fatalf("group %v decodes to %v at squared distance %g > covering radius² 1", y, p, dist64(&y, &p))
						}
					}
				}
				if bits <= 3 && len(seen) != q.Levels() {
					keys := make([]int16, 0, len(seen))
					for k := range seen {
						keys = append(keys, k)
					}
					slices.Sort(keys)
					t.Errorf("saw codes %v, want all %d levels", keys, q.Levels())
				}
			})
		}
	}
}

// TestQuantizerErrorShrinksWithBits: decode(encode(x)) error decreases strictly
// as bits grow, for every lattice, and E8 beats scalar at equal bits.
func TestQuantizerErrorShrinksWithBits(t *testing.T) {
	const d = 128
	rng := rand.New(rand.NewPCG(5, 6))
	x := gaussianRows(rng, 2000, d, 0.7)
	mse := map[string][]float64{}
	for _, lattice := range quantLattices {
		for _, bits := range quantBits {
			q, _ := NewQuantizer(lattice, bits)
			mse[lattice] = append(mse[lattice], quantMSE(q, x, d))
		}
		t.Logf("%-8s MSE at bits %v: %.3g", lattice, quantBits, mse[lattice])
		for i := 1; i < len(quantBits); i++ {
			if !(mse[lattice][i] < mse[lattice][i-1]) {
				t.Errorf("%s: MSE %g at %d bits not below %g at %d bits", lattice, mse[lattice][i], quantBits[i], mse[lattice][i-1], quantBits[i-1])
			}
		}
	}
	for i, bits := range quantBits {
		if bits > 3 {
			break
		}
		if !(mse["e8"][i] < mse["scalar"][i]) {
			t.Errorf("%d bits: E8 MSE %g not below scalar %g", bits, mse["e8"][i], mse["scalar"][i])
		}
	}
}

// TestQuantizerScalarGrid: scalar codes decode to the 2^b uniform levels of
// [−A, A] and the error is at most half a step (plus the f16 rounding of amax).
func TestQuantizerScalarGrid(t *testing.T) {
	const d = 64
	rng := rand.New(rand.NewPCG(8, 9))
	x := gaussianRows(rng, 200, d, 3)
	for _, bits := range quantBits {
		q, _ := NewQuantizer("scalar", bits)
		codes := make([]int16, d)
		xh := make([]float32, d)
		for r := 0; r < len(x); r += d {
			row := x[r : r+d]
			s := q.Encode(codes, row)
			q.Decode(xh, codes, s)
			a := float64(F16ToF32(s))
			step := 2 * a / float64(int(1)<<bits-1)
			amax := 0.0
			for _, v := range row {
				amax = max(amax, math.Abs(float64(v)))
			}
			for i, v := range xh {
				k := (float64(v) + a) / step
				if math.Abs(k-math.Round(k)) > 1e-3 {
					t.Fatalf("%d bits: %g is not on the level grid (k=%g)", bits, v, k)
				}
				if e := math.Abs(float64(v) - float64(row[i])); e > step/2*(1+1e-5)+math.Abs(amax-a) {
					t.Fatalf("%d bits: |%g − %g| = %g > half step %g", bits, v, row[i], e, step/2)
				}
			}
		}
	}
}

// TestQuantizerEdgeInputs: zeros, tiny, huge and non-finite inputs never panic,
// give in-range codes and a finite, non-zero scale.
func TestQuantizerEdgeInputs(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	rows := map[string][]float32{
		"zeros":           make([]float32, 16),
		"tiny":            {1e-12, -3e-12, 0, 0, 0, 0, 0, 0},
		"subnormal scale": {3e-7, -1e-7, 2e-7, 0, 0, 0, 0, 1e-8},
		"huge":            {1e30, -2e30, 5, 0, 0, 0, 0, 1},
		"inf":             {inf, 1, 2, 3, -inf, 0, 0, 0},
		"nan":             {nan, 1, -1, 0, 0, 0, 0, 0.5},
		"len 4":           {0.3, -2, 1.1, 0.7},
		"len 13":          {1, 2, 3, 4, 5, 6, 7, 8, 9, -10, 11, 12, 13},
	}
	for _, lattice := range quantLattices {
		for _, bits := range quantBits {
			q, _ := NewQuantizer(lattice, bits)
			lo, hi := q.codeRange()
			for name, row := range rows {
				codes := make([]int16, len(row))
				s := q.Encode(codes, row)
				if f := F16ToF32(s); !(f > 0) || math.IsInf(float64(f), 0) {
					t.Errorf("%s/%d %s: scale %g", lattice, bits, name, f)
				}
				for _, c := range codes {
					if int(c) < lo || int(c) > hi {
						t.Errorf("%s/%d %s: code %d outside [%d, %d]", lattice, bits, name, c, lo, hi)
					}
				}
				xh := make([]float32, len(row))
				q.Decode(xh, codes, s)
				if name == "zeros" && lattice != "scalar" && slices.ContainsFunc(xh, func(v float32) bool { return v != 0 }) {
					t.Errorf("%s/%d zeros decode to %v", lattice, bits, xh)
				}
				if strings.HasPrefix(name, "len") && lattice != "scalar" {
					// A partial group is the zero-padded group with the pad dropped.
					padded := make([]float32, (len(row)+7)/8*8)
					copy(padded, row)
					pc := make([]int16, len(padded))
					if ps := q.Encode(pc, padded); ps != s || !slices.Equal(pc[:len(row)], codes) {
						t.Errorf("%s/%d %s: codes %v scale %#x, zero-padded gives %v scale %#x", lattice, bits, name, codes, s, pc, ps)
					}
					// Each coordinate within the covering radius (1·s).
					for i := range row {
						if e := abs32(xh[i] - row[i]); e > F16ToF32(s)*1.001 {
							t.Errorf("%s/%d %s: |%g − %g| > s = %g", lattice, bits, name, xh[i], row[i], F16ToF32(s))
						}
					}
				}
			}
		}
	}
}

// TestQuantizerScaleIsF16OfAmax checks the scale rule: f16(amax/(Lv/2)) for the
// lattices and f16(amax) for scalar.
func TestQuantizerScaleIsF16OfAmax(t *testing.T) {
	row := []float32{0.1, -3.7, 1, 2, 0, 0, 0, 0.25}
	codes := make([]int16, 8)
	for _, tc := range []struct {
		lattice string
		bits    int
		want    float32
	}{
		{"e8", 2, 3.7 / 2}, {"relaxed", 3, 3.7 / 4}, {"e8", 8, 3.7 / 128}, {"scalar", 4, 3.7},
	} {
		q, _ := NewQuantizer(tc.lattice, tc.bits)
		if got, want := q.Encode(codes, row), F32ToF16(tc.want); got != want {
			t.Errorf("%s/%d: scale %#04x, want %#04x", tc.lattice, tc.bits, got, want)
		}
	}
}

// TestF16RoundTripExhaustive: every half converts to float32 and back to
// itself; NaNs stay NaNs with their sign.
func TestF16RoundTripExhaustive(t *testing.T) {
	for h := range 1 << 16 {
		f := F16ToF32(uint16(h))
		back := F32ToF16(f)
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 { // NaN
			if f == f || back&0x7c00 != 0x7c00 || back&0x3ff == 0 || back&0x8000 != uint16(h)&0x8000 {
				t.Fatalf("NaN %#04x → %g → %#04x", h, f, back)
			}
			continue
		}
		if back != uint16(h) {
			t.Fatalf("%#04x → %g → %#04x", h, f, back)
		}
	}
}

// TestF32ToF16Rounding: for every pair of adjacent finite halves, the exact
// midpoint goes to the even one and one float32 ulp either side goes to the
// nearer one; plus overflow and underflow edges.
func TestF32ToF16Rounding(t *testing.T) {
	for h := uint16(0); h < 0x7bff; h++ {
		a, b := F16ToF32(h), F16ToF32(h+1)
		mid := (a + b) / 2 // exact: halves have 11 significant bits
		even := h
		if h&1 == 1 {
			even = h + 1
		}
		for _, tc := range []struct {
			f    float32
			want uint16
		}{
			{mid, even},
			{math.Nextafter32(mid, 0), h},
			{math.Nextafter32(mid, 1e9), h + 1},
			{-mid, even | 0x8000},
		} {
			if got := F32ToF16(tc.f); got != tc.want {
				t.Fatalf("F32ToF16(%g) = %#04x, want %#04x (between %#04x and %#04x)", tc.f, got, tc.want, h, h+1)
			}
		}
	}
	for _, tc := range []struct {
		f    float32
		want uint16
	}{
		{65504, 0x7bff},
		{65519.99, 0x7bff},
		{65520, 0x7c00}, // the midpoint to the next binade rounds to even: Inf
		{1e10, 0x7c00},
		{float32(math.Inf(-1)), 0xfc00},
		{0x1p-24, 0x0001},
		{0x1p-25, 0x0000}, // tie with 0 goes to even
		{math.Nextafter32(0x1p-25, 1), 0x0001},
		{0x1p-26, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{6.1035156e-05, 0x0400}, // smallest normal
	} {
		if got := F32ToF16(tc.f); got != tc.want {
			t.Errorf("F32ToF16(%g) = %#04x, want %#04x", tc.f, got, tc.want)
		}
	}
}
