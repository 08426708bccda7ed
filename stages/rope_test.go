package stages

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// ropeRef64 rotates x in float64 with one math.Sincos per pair, the plain
// definition of both conventions (neox: pairs (i, i+d/2), else (2i, 2i+1)).
func ropeRef64(x []float32, d int, base float64, pos int, inverse, neox bool) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	for i := range d / 2 {
		a, b := 2*i, 2*i+1
		if neox {
			a, b = i, i+d/2
		}
		s, c := math.Sincos(float64(pos) * math.Pow(base, -2*float64(i)/float64(d)))
		if inverse {
			s = -s
		}
		u, v := out[a], out[b]
		out[a], out[b] = u*c-v*s, u*s+v*c
	}
	return out
}

func relErr(got []float32, want []float64) float64 {
	var num, den float64
	for i := range got {
		e := float64(got[i]) - want[i]
		num += e * e
		den += want[i] * want[i]
	}
	return math.Sqrt(num / den)
}

var ropeCases = []struct {
	name string
	neox bool
	d    int
	base float64
}{
	{"normal/d=128", false, 128, 10000},
	{"normal/d=64", false, 64, 500000},
	{"neox/d=128", true, 128, 1000000},
	{"neox/d=8", true, 8, 10000},
}

func ropeFor(neox bool, d int, base float64) RoPEFunc {
	if neox {
		return NeoxRoPE(d, base)
	}
	return NormalRoPE(d, base)
}

// ropePositions covers the table (0 … 65535), its edges and the Sincos
// fallback beyond it.
var ropePositions = []int{0, 1, 255, 256, 257, 4095, 32767, 32768, 65535, 65536, 1 << 20}

// TestRoPEMatchesDefinition: both conventions, forward and inverse, agree with
// the float64 definition within 1e-6 relative at every position tested.
func TestRoPEMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, tc := range ropeCases {
		rope := ropeFor(tc.neox, tc.d, tc.base)
		for _, pos := range ropePositions {
			for _, inverse := range []bool{false, true} {
				x := make([]float32, tc.d)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				want := ropeRef64(x, tc.d, tc.base, pos, inverse, tc.neox)
				rope(0, x, []int32{int32(pos)}, inverse)
				if e := relErr(x, want); e > 1e-6 {
					t.Errorf("%s pos=%d inverse=%v: relative error %g", tc.name, pos, inverse, e)
				}
			}
		}
	}
}

// TestRoPEUndoRedo: UndoRoPE then RedoRoPE returns the keys within 1e-5
// relative (SPEC §3), for both conventions and positions up to 32768 (and
// beyond, through the fallback).
func TestRoPEUndoRedo(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, tc := range ropeCases {
		t.Run(tc.name, func(t *testing.T) {
			rope := ropeFor(tc.neox, tc.d, tc.base)
			n := 300
			pos := make([]int32, n)
			for i := range pos {
				pos[i] = int32(rng.IntN(32769))
			}
			pos[0], pos[1], pos[2] = 0, 32768, 1<<20
			rows := make([]float32, n*tc.d)
			for i := range rows {
				rows[i] = float32(rng.NormFloat64() * 3)
			}
			orig := append([]float32(nil), rows...)
			UndoRoPE(rows, tc.d, 0, pos, rope)
			// Undo really rotated: compare with the definition for row 1.
			if e := relErr(rows[tc.d:2*tc.d], ropeRef64(orig[tc.d:2*tc.d], tc.d, tc.base, 32768, true, tc.neox)); e > 1e-6 {
				t.Errorf("UndoRoPE row 1 off the definition by %g", e)
			}
			RedoRoPE(rows, tc.d, 0, pos, rope)
			for i, p := range pos {
				want := make([]float64, tc.d)
				for j := range want {
					want[j] = float64(orig[i*tc.d+j])
				}
				if e := relErr(rows[i*tc.d:(i+1)*tc.d], want); e > 1e-5 {
					t.Fatalf("row %d pos %d: undo+redo relative error %g", i, p, e)
				}
			}
		})
	}
}

// TestRoPEPairing: a unit vector on coordinate 0 moves only within its pair:
// (0, 1) for normal, (0, d/2) for neox; coordinates past d are untouched
// (partial rotary), in each of several head vectors rotated in one call.
func TestRoPEPairing(t *testing.T) {
	const d, hd = 16, 20
	for _, neox := range []bool{false, true} {
		rows := make([]float32, 3*hd)
		for r := range 3 {
			rows[r*hd] = 1
			rows[r*hd+d+1] = 7
		}
		ropeFor(neox, d, 10000)(0, rows, []int32{3, 0, 900}, false)
		partner := 1
		if neox {
			partner = d / 2
		}
		for r := range 3 {
			x := rows[r*hd : (r+1)*hd]
			for i, v := range x {
				want := v == 0
				switch {
				case i == 0:
					want = v != 0
				case i == partner:
					want = v != 0 || r == 1 // position 0 does not rotate
				case i == d+1:
					want = v == 7
				}
				if !want {
					t.Errorf("neox=%v row %d: x[%d] = %g after rotating e_0: %v", neox, r, i, v, x)
				}
			}
		}
	}
}

func TestRoPEConstructorPanics(t *testing.T) {
	for _, tc := range []struct {
		d    int
		base float64
	}{{0, 10000}, {7, 10000}, {8, 0}, {8, math.NaN()}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NormalRoPE(%d, %g) did not panic", tc.d, tc.base)
				}
			}()
			NormalRoPE(tc.d, tc.base)
		}()
	}
}

func ExampleUndoRoPE() {
	rope := NormalRoPE(4, 10000)
	rows := []float32{1, 0, 0, 1, 1, 0, 0, 1} // two keys of d=4
	pos := []int32{0, 100}
	UndoRoPE(rows, 4, 0, pos, rope)
	RedoRoPE(rows, 4, 0, pos, rope)
	for i := range rows {
		rows[i] = float32(math.Round(float64(rows[i])*1e5)/1e5) + 0 // +0 turns a rounded -0 into 0
	}
	fmt.Println(rows)
	// Output: [1 0 0 1 1 0 0 1]
}
