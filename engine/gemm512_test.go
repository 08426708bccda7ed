package engine

import (
	"context"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"nexusquant/engine/gguf"
)

// l16Sets are the kernel sets with 16-lane batch kernels this CPU can run.
func l16Sets(t *testing.T) []kernelSet {
	var sets []kernelSet
	for _, ks := range kernelSets() {
		if ks.gemm4x4 != nil {
			sets = append(sets, ks)
		}
	}
	if len(sets) == 0 {
		t.Skip("no 16-lane (AVX-512) kernels on this CPU")
	}
	return sets
}

// sameBits reports the first i where got and want differ in their bits.
func sameBits(got, want []float32) (int, bool) {
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			return i, false
		}
	}
	return 0, true
}

// TestFmaF32 checks the float32 FMA of the twins against exact rational
// arithmetic, on random operands and on ones built so that a plain float64
// sum would round twice (a·b+c just off a float32 rounding midpoint).
func TestFmaF32(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	check := func(a, b, c float32) {
		t.Helper()
		exact := new(big.Float).SetPrec(1000).SetFloat64(float64(a))
		exact.Mul(exact, new(big.Float).SetFloat64(float64(b)))
		exact.Add(exact, new(big.Float).SetFloat64(float64(c)))
		want, _ := exact.Float32()
		if got := fmaF32(a, b, c); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("fmaF32(%g, %g, %g) = %g, want %g", a, b, c, got, want)
		}
	}
	for i := 0; i < 100000; i++ {
		check(float32(r.NormFloat64()), float32(r.NormFloat64()), float32(r.NormFloat64()))
	}
	// Operands of mixed sizes, so that a·b falls anywhere below c's ulp.
	for i := 0; i < 100000; i++ {
		a := float32(math.Ldexp(r.NormFloat64(), r.IntN(40)-20))
		b := float32(math.Ldexp(r.NormFloat64(), r.IntN(40)-20))
		check(a, b, float32(r.NormFloat64()))
	}
	// a·b = 2^-24 − 2^-70 and c = 1 + 2^-23: the exact sum lies just below
	// the float32 midpoint 1 + 3·2^-24 and rounds down to c, while the
	// float64 sum is the midpoint itself, which rounds to even, up.
	a, b, c := float32(1+0x1p-23), float32((1-0x1p-23)*0x1p-24), float32(1+0x1p-23)
	check(a, b, c)
	if got := fmaF32(a, b, c); got != c {
		t.Errorf("fmaF32 near a midpoint: %g, want %g", got, c)
	}
	if fma32(a, b, c) == c {
		t.Log("(the float64 fma32 happens to round this case right too)")
	}
	check(float32(math.Inf(1)), 1, 2)
	check(0, 0, float32(math.Copysign(0, -1)))
}

// TestGemmL16MatchGo checks the 16-lane kernels against their Go twins, bit
// for bit, for every k up to 70 and some longer ones (the full steps of 16
// and the masked tail), with row strides longer than k.
func TestGemmL16MatchGo(t *testing.T) {
	for _, ks := range l16Sets(t) {
		for k := 0; k <= 80; k++ {
			testGemmL16(t, ks, k)
		}
		for _, k := range []int{127, 128, 255, 256, 511, 512, 1536} {
			testGemmL16(t, ks, k)
		}
	}
}

func testGemmL16(t *testing.T, ks kernelSet, k int) {
	for _, pad := range []int{0, 3} {
		ld := k + pad
		w := randVec(4*ld, uint64(k*10+pad))
		x := randVec(4*ld+1, uint64(k*10+pad)+1000)
		w, x = w[:3*ld+k], x[:3*ld+k] // exactly as long as the kernels may read
		const ldo = 6
		got, want := make([]float32, 4*ldo), make([]float32, 4*ldo)
		for i := range got {
			got[i], want[i] = 42, 42
		}
		ks.gemm4x4(k, w, ld, x, ld, got, ldo)
		gemm4x4L16Go(k, w, ld, x, ld, want, ldo)
		if i, ok := sameBits(got, want); !ok {
			t.Errorf("%s gemm4x4 k=%d ld=%d: out[%d] = %g, Go twin %g", ks.name, k, ld, i, got[i], want[i])
		}
		ks.gemm4x1L16(k, w, ld, x[:k], got[:5])
		gemm4x1L16Go(k, w, ld, x[:k], want[:5])
		if i, ok := sameBits(got[:5], want[:5]); !ok {
			t.Errorf("%s gemm4x1L16 k=%d ld=%d: out[%d] = %g, Go twin %g", ks.name, k, ld, i, got[i], want[i])
		}
		for r := 0; r < 4; r++ {
			if want[r] != dotL16Go(w[r*ld:r*ld+k], x) {
				t.Fatalf("gemm4x1L16Go k=%d: out[%d] is not dotL16Go", k, r)
			}
		}
		for i := 0; i < 4; i++ {
			if got[i*ldo+4] != 42 || got[i*ldo+5] != 42 {
				t.Errorf("%s gemm4x4 k=%d wrote past its four outputs in row %d", ks.name, k, i)
			}
		}
	}
}

// TestMulTileL16 runs mulTile with the 16-lane kernels over random shapes
// (odd n, rows not a multiple of four, strides longer than k) and checks
// every output bit for bit against dotL16Go, and that nothing outside the
// n×rows outputs is written.
func TestMulTileL16(t *testing.T) {
	sets := l16Sets(t)
	r := rand.New(rand.NewPCG(9, 9))
	for _, ks := range sets {
		for trial := 0; trial < 300; trial++ {
			n := 2 + r.IntN(12)
			rows := 1 + r.IntN(13)
			k := 1 + r.IntN(100)
			if trial%10 == 0 {
				k = 16 * (1 + r.IntN(40))
			}
			ldx, ldw, ldo := k+r.IntN(3), k+r.IntN(3), rows+r.IntN(3)
			x := randVec(n*ldx, uint64(trial))
			wt := randVec(rows*ldw, uint64(trial)+500)
			out := make([]float32, n*ldo)
			for i := range out {
				out[i] = 42
			}
			mulTile(&ks, n, x, ldx, k, wt, ldw, rows, out, ldo)
			for i := 0; i < n; i++ {
				for c := 0; c < ldo; c++ {
					got := out[i*ldo+c]
					if c >= rows {
						if got != 42 {
							t.Fatalf("%s n=%d rows=%d k=%d: out[%d][%d] written", ks.name, n, rows, k, i, c)
						}
						continue
					}
					want := dotL16Go(wt[c*ldw:c*ldw+k], x[i*ldx:])
					if math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("%s n=%d rows=%d k=%d ldx=%d ldw=%d: out[%d][%d] = %g, dotL16Go %g",
							ks.name, n, rows, k, ldx, ldw, i, c, got, want)
					}
				}
			}
		}
	}
}

// BenchmarkGemmTile compares mulTile across the assembly kernel sets on the
// shapes of a prefill (128 activation rows against a 16 KB tile of weights,
// k = 512 and 1536), interleaving the sets so that a noisy machine hits
// them alike: each set's best time as GFLOP/s, and the ratio of the last
// set to the first.
func BenchmarkGemmTile(b *testing.B) {
	sets := kernelSets()
	if len(sets) > 1 {
		sets = sets[1:] // the assembly sets only
	}
	for _, k := range []int{512, 1536} {
		const n = 128
		rows := tileRows(k)
		x := randVec(n*k, 1)
		wt := randVec(rows*k, 2)
		out := make([]float32, n*rows)
		b.Run(strconv.Itoa(k), func(b *testing.B) {
			best := make([]time.Duration, len(sets))
			for i := 0; i < b.N; i++ {
				for s, ks := range sets {
					t0 := time.Now()
					mulTile(&ks, n, x, k, k, wt, k, rows, out, rows)
					if d := time.Since(t0); i == 0 || d < best[s] {
						best[s] = d
					}
				}
			}
			for s, ks := range sets {
				b.ReportMetric(2*n*float64(rows*k)/best[s].Seconds()/1e9, ks.name+"-GFLOP/s")
			}
			b.ReportMetric(best[0].Seconds()/best[len(sets)-1].Seconds(), "ratio")
		})
	}
}

// BenchmarkPrefillKernels runs the prefill of BenchmarkPrefill (128 tokens
// into an empty cache) with each assembly kernel set in turn, interleaved,
// and reports each set's best time as tok/s (on a machine shared with other
// work the best of the interleaved runs is the steadiest figure) and the
// ratio of the last set to the first ("ratio"; AVX-512 over AVX2 where the
// CPU has both). Run, for example:
//
//	NEXUSQUANT_TESTDATA=/work/shared go test ./engine -run '^$' -bench PrefillKernels -benchtime 20x
func BenchmarkPrefillKernels(b *testing.B) {
	sets := kernelSets()
	if len(sets) > 1 {
		sets = sets[1:] // the assembly sets only
	}
	for _, name := range benchModels {
		b.Run(name, func(b *testing.B) {
			m := loadModel(b, name)
			ids := benchIDs(m, 128)
			ctx := context.Background()
			best := make([]time.Duration, len(sets))
			for i := 0; i < b.N; i++ {
				for s, ks := range sets {
					mk := *m
					mk.ks = &ks
					t0 := time.Now()
					if _, _, err := mk.Forward(ctx, m.NewCache(), ids, 0, ForwardOptions{}); err != nil {
						b.Fatal(err)
					}
					if d := time.Since(t0); i == 0 || d < best[s] {
						best[s] = d
					}
				}
			}
			for s, ks := range sets {
				b.ReportMetric(float64(len(ids))/best[s].Seconds(), ks.name+"-tok/s")
			}
			b.ReportMetric(best[0].Seconds()/best[len(sets)-1].Seconds(), "ratio")
		})
	}
}

// TestDequantMatchGo checks the F16 and Q8_0 conversions of every kernel
// set bit for bit against the Go twins: all 65536 half floats (NaNs against
// the other assembly sets only: the Go twin need not quiet them as
// VCVTPH2PS does), lengths around the 8- and 16-lane steps, and Q8_0 rows
// of 1 to 9 blocks.
func TestDequantMatchGo(t *testing.T) {
	sets := kernelSets()
	all := make([]byte, 2*65536)
	for h := range 65536 {
		all[2*h], all[2*h+1] = byte(h), byte(h>>8)
	}
	want := make([]float32, 65536)
	goKernels.f16(want, all)
	var asm []float32
	for _, ks := range sets[1:] {
		got := make([]float32, 65537)
		got[65536] = 42
		ks.f16(got[:65536], all)
		for h, v := range got[:65536] {
			nan := math.IsNaN(float64(want[h]))
			if nan != math.IsNaN(float64(v)) || !nan && math.Float32bits(v) != math.Float32bits(want[h]) {
				t.Fatalf("%s f16 %#04x: %g (%#08x), Go %g", ks.name, h, v, math.Float32bits(v), want[h])
			}
			if asm != nil && math.Float32bits(v) != math.Float32bits(asm[h]) {
				t.Fatalf("%s f16 %#04x: %#08x, other assembly %#08x", ks.name, h, math.Float32bits(v), math.Float32bits(asm[h]))
			}
		}
		if got[65536] != 42 {
			t.Fatalf("%s f16 wrote past dst", ks.name)
		}
		asm = got[:65536]
	}
	for _, k := range []int{1, 7, 8, 15, 16, 17, 31, 33, 48, 100} {
		src := all[2*1000 : 2*(1000+k)]
		w := make([]float32, k)
		goKernels.f16(w, src)
		for _, ks := range sets {
			got := make([]float32, k+1)
			got[k] = 42
			ks.f16(got[:k], src)
			if i, ok := sameBits(got[:k], w); !ok || got[k] != 42 {
				t.Fatalf("%s f16 k=%d: [%d] = %g, Go %g (or wrote past)", ks.name, k, i, got[i], w[i])
			}
		}
	}
	for nb := 1; nb <= 9; nb++ {
		x := randVec(32*nb, uint64(nb))
		x[3] = 0
		q := make([]byte, 34*nb)
		if err := gguf.QuantizeRow(gguf.Q8_0, x, q); err != nil {
			t.Fatal(err)
		}
		w := make([]float32, 32*nb)
		goKernels.q80(w, q)
		for _, ks := range sets {
			got := make([]float32, 32*nb+1)
			got[32*nb] = 42
			ks.q80(got[:32*nb], q)
			if i, ok := sameBits(got[:32*nb], w); !ok || got[32*nb] != 42 {
				t.Fatalf("%s q8_0 nb=%d: [%d] = %g, Go %g (or wrote past)", ks.name, nb, i, got[i], w[i])
			}
		}
	}
}

// TestPVAccMatchesTwin checks pvAccGo against a float64 product on every
// CPU, and each kernel set's pvAcc (where it has one: AVX2, AVX-512) bit for bit
// against pvAccGo, over random shapes (rows not a multiple of four,
// strides longer than the data, d of 64 to 256, no rows at all); nothing
// outside the accumulators' rows may be written.
func TestPVAccMatchesTwin(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for trial := 0; trial < 200; trial++ {
		rows, d, used := 1+r.IntN(11), 64*(1+r.IntN(4)), r.IntN(40)
		lds, ldv, ldacc := used+r.IntN(3), d+r.IntN(20), d+r.IntN(20)
		s := randVec(max(rows*lds, 1), uint64(trial))
		v := randVec(max(used*ldv, 1), uint64(trial)+100)
		acc := randVec(rows*ldacc, uint64(trial)+200)
		want := slices.Clone(acc)
		pvAccGo(rows, d, used, s, lds, v, ldv, want, ldacc)
		for i := 0; i < rows; i++ {
			for j := 0; j < ldacc; j++ {
				ref := float64(acc[i*ldacc+j])
				if j < d {
					for k := 0; k < used; k++ {
						ref += float64(s[i*lds+k]) * float64(v[k*ldv+j])
					}
				}
				if got := float64(want[i*ldacc+j]); math.Abs(got-ref) > 1e-5*(1+math.Abs(ref)) {
					t.Fatalf("pvAccGo rows=%d d=%d used=%d: acc[%d][%d] = %g, float64 %g", rows, d, used, i, j, got, ref)
				}
			}
		}
		for _, ks := range kernelSets() {
			if ks.pvAcc == nil {
				continue
			}
			got := slices.Clone(acc)
			ks.pvAcc(rows, d, used, s, lds, v, ldv, got, ldacc)
			if i, ok := sameBits(got, want); !ok {
				t.Fatalf("%s rows=%d d=%d used=%d lds=%d ldv=%d ldacc=%d: acc[%d] = %g, twin %g", ks.name, rows, d, used, lds, ldv, ldacc, i, got[i], want[i])
			}
		}
	}
}

// TestScaleMaxMatchesTwin checks each kernel set's scaleMax against
// scaleMaxGo on lengths around the 16-lane step, bit for bit, and that
// nothing past the slice is written.
func TestScaleMaxMatchesTwin(t *testing.T) {
	for _, ks := range kernelSets() {
		for n := 0; n <= 50; n++ {
			x := randVec(n+1, uint64(n)+7)
			x[n] = 42
			want := slices.Clone(x[:n])
			wm := scaleMaxGo(want, 0.125)
			gm := ks.scaleMax(x[:n], 0.125)
			if i, ok := sameBits(x[:n], want); !ok || math.Float32bits(gm) != math.Float32bits(wm) || x[n] != 42 {
				t.Fatalf("%s n=%d: max %g, twin %g; first difference at %d; past the end %g", ks.name, n, gm, wm, i, x[n])
			}
		}
	}
}

// TestGemvF16DecodeMatchesTwin checks each kernel set's F16 decode product
// bit for bit against its twin — gemvF16RowsL16Go for the AVX-512 kernel,
// the set's gemvF16Rows otherwise — over lengths with and without a 16-value tail,
// row counts with a remainder after the groups of four, and padded rows.
func TestGemvF16DecodeMatchesTwin(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for trial := 0; trial < 120; trial++ {
		k := 1 + r.IntN(300)
		if trial%4 == 0 {
			k = 16 * (1 + r.IntN(40))
		}
		rows := 1 + r.IntN(11)
		ldw := 2*k + 2*r.IntN(5)
		w := make([]byte, rows*ldw)
		for i := 0; i < len(w); i += 2 {
			h := gguf.F32ToF16(float32(r.NormFloat64()))
			w[i], w[i+1] = byte(h), byte(h>>8)
		}
		x := randVec(k, uint64(trial))
		twin := make([]float32, rows)
		gemvF16RowsL16Go(k, w, ldw, rows, x, twin)
		for r := 0; r < rows; r++ { // the 16-lane twin itself, on every CPU
			row := make([]float32, k)
			f16Go(row, w[r*ldw:r*ldw+2*k])
			var ref, mag float64
			for j := range row {
				ref += float64(row[j]) * float64(x[j])
				mag += math.Abs(float64(row[j]) * float64(x[j]))
			}
			if math.Abs(float64(twin[r])-ref) > 1e-5*mag {
				t.Fatalf("gemvF16RowsL16Go k=%d: out[%d] = %g, float64 %g", k, r, twin[r], ref)
			}
		}
		for _, ks := range kernelSets() {
			want := make([]float32, rows)
			if ks.name == "avx512" && hasAVX512BW {
				copy(want, twin)
			} else {
				ks.gemvF16Rows(k, w, ldw, rows, x, want) // tested against the tile path elsewhere
			}
			got := make([]float32, rows+1)
			got[rows] = 42
			ks.gemvF16Decode(k, w, ldw, rows, x, got[:rows])
			if i, ok := sameBits(got[:rows], want); !ok || got[rows] != 42 {
				t.Fatalf("%s k=%d rows=%d ldw=%d: out[%d] = %g, twin %g (past the end %g)", ks.name, k, rows, ldw, i, got[i], want[i], got[rows])
			}
		}
	}
}
