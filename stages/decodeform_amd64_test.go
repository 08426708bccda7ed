//go:build amd64

package stages

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestDequantPackedAsmMatchesGo checks the decode form's kernels against
// their Go twins, bit for bit: dequantNibblesAVX and dequantInt8AVX
// (dequantPacked) against unpacking and Quantizer.Decode, fwht64AVX and
// fwht128AVX against Hadamard.InverseScratch's Go path, nibbleFWHT64AVX and
// nibbleFWHT128AVX against both in turn.
// Scales cover subnormal, tiny, huge and the saturated float16 values.
func TestDequantPackedAsmMatchesGo(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA, or NEXUSQUANT_NOASM set")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	scales := []uint16{0x0001, 0x03ff, 0x0400, 0x3c00, 0x2e66, 0x7bff, 0x1234}
	scale := func() uint16 {
		if rng.IntN(2) == 0 {
			return scales[rng.IntN(len(scales))]
		}
		return uint16(rng.IntN(0x7c00))
	}
	cases := []struct {
		lattice string
		bits    int
		widths  []int
	}{
		{"relaxed", 2, []int{8, 16, 32, 64, 128, 256}},
		{"e8", 2, []int{16, 64}},
		{"relaxed", 3, []int{8, 24, 64, 128}},
		{"e8", 6, []int{8, 64, 128}},
		{"scalar", 2, []int{16, 64, 128}},
		{"scalar", 5, []int{8, 64}},
	}
	for _, tc := range cases {
		q, err := NewQuantizer(tc.lattice, tc.bits)
		if err != nil {
			t.Fatal(err)
		}
		pack := q.CodeBytes()
		if nibbleCodes(q) {
			pack = 0
		}
		lo, hi := q.codeRange()
		for _, w := range tc.widths {
			t.Run(fmt.Sprintf("%s%d/w=%d", tc.lattice, tc.bits, w), func(t *testing.T) {
				codes := make([]int16, w)
				code8 := make([]byte, w)
				row := make([]byte, w)
				if pack == 0 {
					row = row[:w/2]
				}
				had := NewHadamard(w, true, int64(w))
				for range 200 {
					for j := range codes {
						codes[j] = int16(lo + rng.IntN(hi-lo+1))
						code8[j] = byte(int8(codes[j]))
					}
					if pack == 0 {
						if err := packNibbles(row, code8); err != nil {
							t.Fatal(err)
						}
					} else {
						copy(row, code8)
					}
					s := scale()
					want, got := make([]float32, w), make([]float32, w)
					q.Decode(want, codes, s) // Decode has its own asm, tested against Go elsewhere
					scratch := make([]int16, w)
					withAsm(t, false, func() { q.dequantPacked(got, row, pack, s, scratch) })
					if !sameFloats(got, want) {
						t.Fatalf("Go dequantPacked %v, Decode %v", got, want)
					}
					q.dequantPacked(got, row, pack, s, scratch)
					if !sameFloats(got, want) {
						t.Fatalf("asm dequantPacked %v, Decode %v (scale %#x)", got, want, s)
					}
					if w != 64 && w != 128 {
						continue
					}
					inv := make([]float32, w)
					withAsm(t, false, func() { had.InverseScratch(inv, want, nil) })
					gotT := make([]float32, w)
					fwhtN(w, gotT, want, had.pre)
					if !sameFloats(gotT, inv) {
						t.Fatalf("fwht%dAVX %v, Go %v", w, gotT, inv)
					}
					if pack == 0 && q.Lattice != "scalar" {
						clear(gotT)
						nibbleFWHTN(w, gotT, row, F16ToF32(s)/2, had.pre)
						if !sameFloats(gotT, inv) {
							t.Fatalf("nibbleFWHT%dAVX %v, Go %v", w, gotT, inv)
						}
					}
				}
			})
		}
	}
	// The in-register transforms on arbitrary floats, edge values included.
	for _, n := range []int{64, 128} {
		had := NewHadamard(n, n == 128, 0)
		for range 500 {
			src := make([]float32, n)
			randomRow(rng, src, []float64{1e-3, 1, 1e4}[rng.IntN(3)])
			want, got := make([]float32, n), make([]float32, n)
			withAsm(t, false, func() { had.InverseScratch(want, src, nil) })
			fwhtN(n, got, src, had.pre)
			if !sameFloats(got, want) {
				t.Fatalf("fwht%dAVX(%v) = %v, Go %v", n, src, got, want)
			}
		}
	}
}

// fwhtN calls fwht64AVX or fwht128AVX (n 64 or 128).
func fwhtN(n int, dst, src, pre []float32) {
	if n == 64 {
		fwht64AVX(&dst[0], &src[0], &pre[0])
	} else {
		fwht128AVX(&dst[0], &src[0], &pre[0])
	}
}

// nibbleFWHTN calls nibbleFWHT64AVX or nibbleFWHT128AVX (n 64 or 128).
func nibbleFWHTN(n int, dst []float32, row []byte, halfS float32, pre []float32) {
	if n == 64 {
		nibbleFWHT64AVX(&dst[0], &row[0], halfS, &pre[0])
	} else {
		nibbleFWHT128AVX(&dst[0], &row[0], halfS, &pre[0])
	}
}
