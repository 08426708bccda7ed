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
// nibbleFWHT128AVX against both in turn; with AVX-512F, their AVX-512 forms
// too.
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
					for _, z := range asmWidths() {
						clear(gotT)
						fwhtN(w, z, gotT, want, had.pre)
						if !sameFloats(gotT, inv) {
							t.Fatalf("fwht%dAVX%s %v, Go %v", w, z, gotT, inv)
						}
						if pack == 0 && q.Lattice != "scalar" {
							clear(gotT)
							nibbleFWHTN(w, z, gotT, row, F16ToF32(s)/2, had.pre)
							if !sameFloats(gotT, inv) {
								t.Fatalf("nibbleFWHT%dAVX%s %v, Go %v", w, z, gotT, inv)
							}
						}
					}
				}
			})
		}
	}
	// The many-row kernel against the one-row kernel, even and odd counts.
	if useAVX512 {
		had := NewHadamard(64, true, 9)
		for _, n := range []int{1, 2, 7, 64} {
			src := make([]byte, 32*n)
			halfS := make([]float32, n)
			for i := range src {
				src[i] = byte(rng.IntN(256))
			}
			for i := range halfS {
				halfS[i] = F16ToF32(scale()) / 2
			}
			got, want := make([]float32, 64*n+1), make([]float32, 64*n+1)
			got[64*n], want[64*n] = 42, 42 // the float past the last row is left alone
			nibbleFWHT64RowsAVX512(&got[0], &src[0], &halfS[0], n, &had.pre[0])
			for r := range n {
				withAsm(t, false, func() {
					codes := make([]int16, 64)
					for j := range 32 {
						codes[j], codes[32+j] = int16(int8(src[32*r+j]<<4)>>4), int16(int8(src[32*r+j])>>4)
					}
					x := make([]float32, 64)
					for j, c := range codes {
						x[j] = float32(c) * halfS[r]
					}
					had.InverseScratch(want[64*r:64*(r+1)], x, nil)
				})
			}
			if !sameFloats(got, want) {
				t.Fatalf("nibbleFWHT64RowsAVX512 of %d rows differs from the Go twin", n)
			}
		}
	}
	// The many-row nibble dequantization against dequantNibblesAVX.
	if useAVX512 {
		for _, w := range []int{32, 64, 128, 256} {
			for _, n := range []int{1, 3, 64} {
				src := make([]byte, n*w/2)
				halfS := make([]float32, n)
				for i := range src {
					src[i] = byte(rng.IntN(256))
				}
				for i := range halfS {
					halfS[i] = F16ToF32(scale()) / 2
				}
				got, want := make([]float32, n*w+1), make([]float32, n*w+1)
				got[n*w], want[n*w] = 42, 42
				dequantNibbleRowsAVX512(&got[0], &src[0], &halfS[0], n, w)
				for r := range n {
					dequantNibblesAVX(&want[r*w], &src[r*w/2], w/2, halfS[r])
				}
				if !sameFloats(got, want) {
					t.Fatalf("dequantNibbleRowsAVX512 of %d rows of %d codes differs from dequantNibblesAVX", n, w)
				}
			}
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
			for _, z := range asmWidths() {
				fwhtN(n, z, got, src, had.pre)
				if !sameFloats(got, want) {
					t.Fatalf("fwht%dAVX%s(%v) = %v, Go %v", n, z, src, got, want)
				}
			}
		}
	}
}

// asmWidths names the in-register kernel sets this CPU runs: "" (AVX2)
// and, with AVX-512F, "512".
func asmWidths() []string {
	if useAVX512 {
		return []string{"", "512"}
	}
	return []string{""}
}

// fwhtN calls fwht64AVX or fwht128AVX (n 64 or 128), or their AVX-512
// forms when z is "512".
func fwhtN(n int, z string, dst, src, pre []float32) {
	switch {
	case n == 64 && z == "512":
		fwht64AVX512(&dst[0], &src[0], &pre[0])
	case n == 64:
		fwht64AVX(&dst[0], &src[0], &pre[0])
	case z == "512":
		fwht128AVX512(&dst[0], &src[0], &pre[0])
	default:
		fwht128AVX(&dst[0], &src[0], &pre[0])
	}
}

// nibbleFWHTN calls nibbleFWHT64AVX or nibbleFWHT128AVX (n 64 or 128), or
// their AVX-512 forms when z is "512".
func nibbleFWHTN(n int, z string, dst []float32, row []byte, halfS float32, pre []float32) {
	switch {
	case n == 64 && z == "512":
		nibbleFWHT64AVX512(&dst[0], &row[0], halfS, &pre[0])
	case n == 64:
		nibbleFWHT64AVX(&dst[0], &row[0], halfS, &pre[0])
	case z == "512":
		nibbleFWHT128AVX512(&dst[0], &row[0], halfS, &pre[0])
	default:
		nibbleFWHT128AVX(&dst[0], &row[0], halfS, &pre[0])
	}
}

// BenchmarkNibbleFWHT times the fused nibble dequantization and inverse
// Hadamard of one code row, per kernel set (ns/op is per row), over a run
// of 256 rows as a decode step reads them.
func BenchmarkNibbleFWHT(b *testing.B) {
	if !useAsm {
		b.Skip("no AVX2/FMA, or NEXUSQUANT_NOASM set")
	}
	for _, n := range []int{64, 128} {
		had := NewHadamard(n, true, 1)
		const rows = 256
		src := make([]byte, rows*n/2)
		for i := range src {
			src[i] = byte(i * 37)
		}
		dst := make([]float32, rows*n)
		if n == 64 && useAVX512 {
			halfS := make([]float32, rows)
			for i := range halfS {
				halfS[i] = 0.25
			}
			b.Run("n=64/avx512-rows", func(b *testing.B) {
				b.SetBytes(int64(rows * n / 2))
				for b.Loop() {
					nibbleFWHT64RowsAVX512(&dst[0], &src[0], &halfS[0], rows, &had.pre[0])
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
			})
		}
		for _, z := range asmWidths() {
			b.Run(fmt.Sprintf("n=%d/avx%s", n, map[string]string{"": "2", "512": "512"}[z]), func(b *testing.B) {
				b.SetBytes(int64(n / 2))
				for i := 0; b.Loop(); i++ {
					r := i % rows
					nibbleFWHTN(n, z, dst[r*n:(r+1)*n], src[r*n/2:], 0.25, had.pre)
				}
			})
		}
	}
}
