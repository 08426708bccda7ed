//go:build amd64

package stages

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestDequantPackedAsmMatchesGo checks the decode form's kernels against
// their Go twins, bit for bit: dequantNibblesAVX and dequantInt8AVX
// (dequantPacked) against unpacking and Quantizer.Decode, fwht64AVX against
// Hadamard.InverseScratch's Go path, nibbleFWHT64AVX against both in turn.
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
		{"e8", 6, []int{8, 64}},
		{"scalar", 2, []int{16, 64}},
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
					if w != 64 {
						continue
					}
					inv := make([]float32, 64)
					withAsm(t, false, func() { had.InverseScratch(inv, want, nil) })
					got64 := make([]float32, 64)
					fwht64AVX(&got64[0], &want[0], &had.pre[0])
					if !sameFloats(got64, inv) {
						t.Fatalf("fwht64AVX %v, Go %v", got64, inv)
					}
					if pack == 0 && q.Lattice != "scalar" {
						clear(got64)
						nibbleFWHT64AVX(&got64[0], &row[0], F16ToF32(s)/2, &had.pre[0])
						if !sameFloats(got64, inv) {
							t.Fatalf("nibbleFWHT64AVX %v, Go %v", got64, inv)
						}
					}
				}
			})
		}
	}
	// fwht64AVX on arbitrary floats, edge values included.
	had := NewHadamard(64, false, 0)
	for range 500 {
		src := make([]float32, 64)
		randomRow(rng, src, []float64{1e-3, 1, 1e4}[rng.IntN(3)])
		want, got := make([]float32, 64), make([]float32, 64)
		withAsm(t, false, func() { had.InverseScratch(want, src, nil) })
		fwht64AVX(&got[0], &src[0], &had.pre[0])
		if !sameFloats(got, want) {
			t.Fatalf("fwht64AVX(%v) = %v, Go %v", src, got, want)
		}
	}
}
