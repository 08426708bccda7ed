package engine

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"nexusquant/engine/gguf"
)

func randVec(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// kernelSets are the kernel implementations this CPU can run: the Go twins
// always, the assembly where supported (AVX2, then AVX-512).
func kernelSets() []kernelSet {
	sets := []kernelSet{goKernels}
	if hasAVX2 {
		sets = append(sets, avxKernels)
	}
	if hasAVX512 {
		sets = append(sets, avx512Kernels)
	}
	return sets
}

// forEachKernels runs f once with each kernel set.
func forEachKernels(t *testing.T, f func(t *testing.T, ks *kernelSet)) {
	for _, ks := range kernelSets() {
		t.Run(ks.name, func(t *testing.T) { f(t, &ks) })
	}
}

// close32 reports |a−b| ≤ tol·(1+|b|).
func close32(a, b float32, tol float64) bool {
	return math.Abs(float64(a-b)) <= tol*(1+math.Abs(float64(b)))
}

// TestKernelsMatchGo checks every fast kernel against its Go twin on lengths
// around the 8- and 16-element steps of the assembly.
func TestKernelsMatchGo(t *testing.T) {
	sets := kernelSets()
	if len(sets) == 1 {
		t.Skip("no assembly kernels on this CPU: only the Go twins run")
	}
	fast := sets[1]
	for _, k := range []int{1, 7, 8, 9, 15, 16, 17, 24, 64, 100, 172, 512} {
		ld := k + 3
		w := randVec(4*ld, uint64(k))
		x := randVec(2*ld, uint64(k)+100)
		want := make([]float32, 2*6)
		got := make([]float32, 2*6)
		goKernels.gemm4x2(k, w, ld, x, ld, want, 6)
		fast.gemm4x2(k, w, ld, x, ld, got, 6)
		for i := range want {
			if !close32(got[i], want[i], 1e-5) {
				t.Errorf("gemm4x2 k=%d: out[%d] = %g, Go %g", k, i, got[i], want[i])
			}
		}
		if fast.gemm4x3 != nil {
			// Three activation rows: each output as the Go twin gives it
			// within rounding, and as gemm4x2 sums it, bit for bit.
			x3 := randVec(3*ld, uint64(k)+200)
			want3, got3, pair := make([]float32, 3*6), make([]float32, 3*6), make([]float32, 2*6)
			goKernels.gemm4x3(k, w, ld, x3, ld, want3, 6)
			fast.gemm4x3(k, w, ld, x3, ld, got3, 6)
			fast.gemm4x2(k, w, ld, x3[ld:], ld, pair, 6)
			for i := range want3 {
				if i%6 < 4 && !close32(got3[i], want3[i], 1e-5) {
					t.Errorf("gemm4x3 k=%d: out[%d] = %g, Go %g", k, i, got3[i], want3[i])
				}
			}
			for i := range pair {
				if i%6 < 4 && math.Float32bits(got3[6+i]) != math.Float32bits(pair[i]) {
					t.Errorf("gemm4x3 k=%d: out[%d] = %g, gemm4x2 %g", k, 6+i, got3[6+i], pair[i])
				}
			}
			if got3[4] != 0 || got3[17] != 0 {
				t.Errorf("gemm4x3 k=%d wrote outside its outputs", k)
			}
		}
		goKernels.gemm4x1(k, w, ld, x, want)
		fast.gemm4x1(k, w, ld, x, got)
		for i := 0; i < 4; i++ {
			if !close32(got[i], want[i], 1e-5) {
				t.Errorf("gemm4x1 k=%d: out[%d] = %g, Go %g", k, i, got[i], want[i])
			}
		}
		if a, b := fast.dot(w[:k], x), goKernels.dot(w[:k], x); !close32(a, b, 1e-5) {
			t.Errorf("dot k=%d: %g, Go %g", k, a, b)
		}
		y1, y2 := append([]float32(nil), x[:k]...), append([]float32(nil), x[:k]...)
		fast.axpy(0.75, w[:k], y1)
		goKernels.axpy(0.75, w[:k], y2)
		for i := range y1 {
			if !close32(y1[i], y2[i], 1e-6) {
				t.Fatalf("axpy k=%d: y[%d] = %g, Go %g", k, i, y1[i], y2[i])
			}
		}
		// Conversions must agree bit for bit.
		src := make([]byte, 2*k)
		for i := 0; i < k; i++ {
			h := gguf.F32ToF16(x[i])
			src[2*i], src[2*i+1] = byte(h), byte(h>>8)
		}
		f1, f2 := make([]float32, k), make([]float32, k)
		fast.f16(f1, src)
		goKernels.f16(f2, src)
		for i := range f1 {
			if math.Float32bits(f1[i]) != math.Float32bits(f2[i]) {
				t.Fatalf("f16 k=%d: [%d] = %g, Go %g", k, i, f1[i], f2[i])
			}
		}
	}
	// Q8_0 blocks, against the gguf reference dequantizer too.
	x := randVec(32*9, 5)
	q := make([]byte, 34*9)
	if err := gguf.QuantizeRow(gguf.Q8_0, x, q); err != nil {
		t.Fatal(err)
	}
	a, b, c := make([]float32, len(x)), make([]float32, len(x)), make([]float32, len(x))
	fast.q80(a, q)
	goKernels.q80(b, q)
	if err := gguf.DequantizeRow(gguf.Q8_0, q, c); err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i] != b[i] || a[i] != c[i] {
			t.Fatalf("q8_0 [%d]: asm %g, Go %g, gguf %g", i, a[i], b[i], c[i])
		}
	}
}

// naiveMul is out = x·wᵀ in float64, for checking.
func naiveMul(x, w []float32, n, rows, cols int) []float64 {
	out := make([]float64, n*rows)
	for i := 0; i < n; i++ {
		for r := 0; r < rows; r++ {
			var s float64
			for j := 0; j < cols; j++ {
				s += float64(x[i*cols+j]) * float64(w[r*cols+j])
			}
			out[i*rows+r] = s
		}
	}
	return out
}

// f32Matrix wraps float32 weights as an F32 matrix.
func f32Matrix(name string, w []float32, rows, cols int) *matrix {
	return &matrix{name: name, typ: gguf.F32, rows: rows, cols: cols, rowBytes: 4 * cols, f32: w}
}

// quantMatrix encodes w as typ (F16 or Q8_0).
func quantMatrix(t testing.TB, typ gguf.Type, w []float32, rows, cols int) *matrix {
	rb, err := typ.RowBytes(cols)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, rb*rows)
	if err := gguf.QuantizeRow(typ, w, data); err != nil {
		t.Fatal(err)
	}
	return &matrix{name: "w", typ: typ, rows: rows, cols: cols, rowBytes: rb, data: data}
}

// TestMul checks the parallel tiled product against a float64 product for
// shapes with row and column tails, for both kernel sets and thread counts.
func TestMul(t *testing.T) {
	defer SetThreads(0)
	for _, ks := range kernelSets() {
		for _, threads := range []int{1, 3} {
			SetThreads(threads)
			for _, sh := range []struct{ n, rows, cols int }{{1, 5, 7}, {3, 17, 64}, {2, 130, 172}, {5, 64, 512}, {128, 33, 96}} {
				x := randVec(sh.n*sh.cols, 1)
				w := randVec(sh.rows*sh.cols, 2)
				out := make([]float32, sh.n*sh.rows)
				if err := mul(&ks, sh.n, true, mulJob{f32Matrix("w", w, sh.rows, sh.cols), x, out}); err != nil {
					t.Fatal(err)
				}
				want := naiveMul(x, w, sh.n, sh.rows, sh.cols)
				for i := range out {
					if math.Abs(float64(out[i])-want[i]) > 1e-4*math.Sqrt(float64(sh.cols)) {
						t.Fatalf("%s threads %d %+v: out[%d] = %g, want %g", ks.name, threads, sh, i, out[i], want[i])
					}
				}
			}
		}
	}
}

// TestMulQuantized checks F16 and Q8_0 weights (dequantized tiles) against a
// product with the dequantized weights, with float activations.
func TestMulQuantized(t *testing.T) {
	const n, rows, cols = 3, 40, 96
	x := randVec(n*cols, 3)
	w := randVec(rows*cols, 4)
	for _, typ := range []gguf.Type{gguf.F16, gguf.Q8_0, gguf.Q4_0} {
		m := quantMatrix(t, typ, w, rows, cols)
		deq := make([]float32, rows*cols)
		if err := gguf.DequantizeRow(typ, m.data, deq); err != nil {
			t.Fatal(err)
		}
		out := make([]float32, n*rows)
		if err := mul(cpuKernels, n, false, mulJob{m, x, out}); err != nil {
			t.Fatal(err)
		}
		want := naiveMul(x, deq, n, rows, cols)
		for i := range out {
			if math.Abs(float64(out[i])-want[i]) > 1e-3 {
				t.Fatalf("%s: out[%d] = %g, want %g", typ, i, out[i], want[i])
			}
		}
	}
}

// TestRoundActs checks the activation rounding against the gguf quantizers
// (which round halves away from zero; random data has no exact halves).
func TestRoundActs(t *testing.T) {
	x := randVec(512, 9)
	got := make([]float32, len(x))
	for _, tc := range []struct {
		kind actKind
		typ  gguf.Type
	}{{actF16, gguf.F16}, {actBF16, gguf.BF16}, {actQ8_0, gguf.Q8_0}} {
		roundActs(cpuKernels, tc.kind, x, got)
		rb, _ := tc.typ.RowBytes(len(x))
		q := make([]byte, rb)
		if err := gguf.QuantizeRow(tc.typ, x, q); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, len(x))
		if err := gguf.DequantizeRow(tc.typ, q, want); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: [%d] %g rounds to %g, gguf %g", tc.typ, i, x[i], got[i], want[i])
			}
		}
	}
	// Q8_K: the largest magnitude maps to ∓127 exactly and every value moves
	// by at most half a step.
	roundActs(cpuKernels, actQ8_K, x, got)
	for b := 0; b < len(x); b += 256 {
		var mx float32
		for _, v := range x[b : b+256] {
			if abs32(v) > abs32(mx) {
				mx = v
			}
		}
		step := abs32(mx) / 127
		for i := b; i < b+256; i++ {
			if abs32(got[i]-x[i]) > step/2*1.0001 {
				t.Fatalf("q8_K [%d]: %g rounds to %g, step %g", i, x[i], got[i], step)
			}
		}
	}
}

func abs32(x float32) float32 { return float32(math.Abs(float64(x))) }

// TestVecKernelsMatchGo checks the element-wise and dequantization kernels
// against their Go twins (and exp against math.Exp).
func TestVecKernelsMatchGo(t *testing.T) {
	sets := kernelSets()
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 1000)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 20)
	}
	x[3], x[4], x[5] = float32(math.Inf(-1)), -87.5, -86.9
	for _, ks := range sets {
		e := append([]float32(nil), x...)
		ks.exp(e)
		for i, v := range x {
			want := math.Exp(float64(v))
			if v < -87 {
				want = 0
			}
			if math.Abs(float64(e[i])-want) > 3e-7*want {
				t.Fatalf("%s exp(%g) = %g, want %g", ks.name, v, e[i], want)
			}
		}
		g := append([]float32(nil), x...)
		u := randVec(len(x), 8)
		ks.siluMul(g, u)
		for i, v := range x {
			want := float64(v) / (1 + math.Exp(-float64(v))) * float64(u[i])
			if math.Abs(float64(g[i])-want) > 1e-6*(1+math.Abs(want)) {
				t.Fatalf("%s silu(%g)·%g = %g, want %g", ks.name, v, u[i], g[i], want)
			}
		}
	}
	if len(sets) == 1 {
		return
	}
	for _, fast := range sets[1:] {
		checkFastMatchesGo(t, fast, r, x)
	}
}

// checkFastMatchesGo checks fast's rounding and K-quant dequantization
// kernels bit for bit against the Go twins.
func checkFastMatchesGo(t *testing.T, fast kernelSet, r *rand.Rand, x []float32) {
	a, b := make([]float32, 992), make([]float32, 992)
	for _, f := range []struct {
		name      string
		fast, twn func(x, dst []float32)
	}{{"roundF16", fast.roundF16, goKernels.roundF16}, {"roundQ80", fast.roundQ80, goKernels.roundQ80}} {
		f.fast(x[:992], a)
		f.twn(x[:992], b)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s [%d] %g: %g, Go %g", f.name, i, x[i], a[i], b[i])
			}
		}
	}
	// Random K-quant blocks with sane float16 scales, 3 blocks each.
	for _, q := range []struct {
		typ       gguf.Type
		fast, twn func(dst []float32, src []byte)
		scaleAt   []int
	}{{gguf.Q4_K, fast.q4k, goKernels.q4k, []int{0, 2}}, {gguf.Q6_K, fast.q6k, goKernels.q6k, []int{208}}} {
		bb := q.typ.BlockBytes()
		src := make([]byte, 3*bb)
		for i := range src {
			src[i] = byte(r.Uint32())
		}
		for blk := 0; blk < 3; blk++ {
			for _, off := range q.scaleAt {
				h := gguf.F32ToF16(float32(r.Float64()*0.01 + 1e-4))
				src[blk*bb+off], src[blk*bb+off+1] = byte(h), byte(h>>8)
			}
		}
		a, b := make([]float32, 3*256), make([]float32, 3*256)
		q.fast(a, src)
		q.twn(b, src)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s %s [%d]: asm %g, gguf %g", fast.name, q.typ, i, a[i], b[i])
			}
		}
	}
}

// TestGemvF16RowsMatchGo checks the streaming F16 decode kernel against its
// Go twin for row counts with and without a remainder of four, row lengths
// around the 8- and 16-element steps, and padded and contiguous rows.
func TestGemvF16RowsMatchGo(t *testing.T) {
	sets := kernelSets()
	if len(sets) == 1 {
		t.Skip("no assembly kernels on this CPU: only the Go twins run")
	}
	fast := sets[1]
	for _, k := range []int{1, 7, 8, 9, 15, 16, 17, 24, 40, 64, 100, 512} {
		for _, pad := range []int{0, 5} {
			for _, rows := range []int{1, 3, 4, 5, 8, 13, 64} {
				ldw := 2 * (k + pad)
				wf := randVec(rows*(k+pad), uint64(k*100+rows))
				w := make([]byte, rows*ldw)
				for i, v := range wf {
					h := gguf.F32ToF16(v)
					w[2*i], w[2*i+1] = byte(h), byte(h>>8)
				}
				x := randVec(k, uint64(k)+7)
				want := make([]float32, rows)
				got := make([]float32, rows+1)
				got[rows] = 42
				goKernels.gemvF16Rows(k, w, ldw, rows, x, want)
				fast.gemvF16Rows(k, w, ldw, rows, x, got[:rows])
				for r := range want {
					if !close32(got[r], want[r], 1e-5) {
						t.Errorf("gemvF16Rows k=%d ldw=%d rows=%d: out[%d] = %g, Go %g", k, ldw, rows, r, got[r], want[r])
					}
				}
				if got[rows] != 42 {
					t.Errorf("gemvF16Rows k=%d rows=%d wrote past out", k, rows)
				}
			}
		}
	}
}

// TestQuantGemvRowsMatchTile checks the fused Q8_0 and Q4_K decode kernels
// of each kernel set against the same set's dequantize-then-multiply path,
// bit for bit, and the assembly against the Go twin.
func TestQuantGemvRowsMatchTile(t *testing.T) {
	for _, typ := range []gguf.Type{gguf.Q8_0, gguf.Q4_K, gguf.Q6_K} {
		testQuantGemvRows(t, typ)
	}
}

func testQuantGemvRows(t *testing.T, typ gguf.Type) {
	ks0 := []int{32, 64, 96, 512}
	if typ != gguf.Q8_0 {
		ks0 = []int{256, 512, 1536}
	}
	for _, k := range ks0 {
		for _, rows := range []int{1, 3, 4, 5, 8, 13, 64} {
			x := randVec(k+5, uint64(k)+3) // longer than k, as Forward's buffers are
			var m *matrix
			if typ != gguf.Q8_0 {
				m = randKQuant(typ, rows, k, uint64(k*7+rows))
			} else {
				m = quantMatrix(t, typ, randVec(rows*k, uint64(k*7+rows)), rows, k)
			}
			var outs [][]float32
			for _, ks := range kernelSets() {
				deq := map[gguf.Type]func([]float32, []byte){gguf.Q8_0: ks.q80, gguf.Q4_K: ks.q4k, gguf.Q6_K: ks.q6k}[typ]
				gemv := ks.decodeGemv(typ)
				tile := make([]float32, rows*k)
				for r := 0; r < rows; r++ {
					deq(tile[r*k:(r+1)*k], m.data[r*m.rowBytes:(r+1)*m.rowBytes])
				}
				want := make([]float32, rows)
				mulTile(&ks, 1, x, k, k, tile, k, rows, want, rows)
				got := make([]float32, rows+1)
				got[rows] = 42
				gemv(k, m.data, m.rowBytes, rows, x, got[:rows])
				for r := range want {
					if math.Float32bits(got[r]) != math.Float32bits(want[r]) {
						t.Errorf("%s %s gemv k=%d rows=%d: out[%d] = %g, tile path %g", ks.name, typ, k, rows, r, got[r], want[r])
					}
				}
				if got[rows] != 42 {
					t.Errorf("%s %s gemv k=%d rows=%d wrote past out", ks.name, typ, k, rows)
				}
				outs = append(outs, got[:rows])
			}
			for i := 1; i < len(outs); i++ {
				for r := range outs[0] {
					if !close32(outs[i][r], outs[0][r], 1e-4) {
						t.Errorf("%s gemv k=%d rows=%d: out[%d] = %g, Go %g", typ, k, rows, r, outs[i][r], outs[0][r])
					}
				}
			}
		}
	}
}

// randKQuant is a rows×k Q4_K or Q6_K matrix of random blocks: random
// quants and sub-block scales, with float16 super-block scales of sane size.
func randKQuant(typ gguf.Type, rows, k int, seed uint64) *matrix {
	r := rand.New(rand.NewPCG(seed, 11))
	nb := k / 256
	bb := map[gguf.Type]int{gguf.Q4_K: 144, gguf.Q6_K: 210}[typ]
	data := make([]byte, rows*nb*bb)
	for b := 0; b < rows*nb; b++ {
		blk := data[b*bb : (b+1)*bb]
		for i := range blk {
			blk[i] = byte(r.Uint32())
		}
		d := gguf.F32ToF16(float32(r.NormFloat64() * 0.01))
		if typ == gguf.Q6_K { // d last
			blk[208], blk[209] = byte(d), byte(d>>8)
			continue
		}
		dmin := gguf.F32ToF16(float32(r.NormFloat64() * 0.01))
		blk[0], blk[1], blk[2], blk[3] = byte(d), byte(d>>8), byte(dmin), byte(dmin>>8)
	}
	return &matrix{name: "w", typ: typ, rows: rows, cols: k, rowBytes: nb * bb, data: data}
}

// TestQ4KQ8KMatchFloat checks the integer Q4_K × Q8_K decode kernel of each
// kernel set against a float64 product of the dequantized weights with the
// Q8_K-rounded activations, and the assembly against the Go twin.
func TestQ4KQ8KMatchFloat(t *testing.T) {
	for _, k := range []int{256, 512, 1536} {
		for _, rows := range []int{1, 3, 4, 5, 13} {
			m := randKQuant(gguf.Q4_K, rows, k, uint64(k*3+rows))
			x := randVec(k, uint64(k)+9)
			x[5] = 0
			a := quantQ8K(x)
			xr := make([]float32, k)
			roundActs(cpuKernels, actQ8_K, x, xr)
			for i := range xr {
				if got := a.d[i/256] * float32(a.q[i]); got != xr[i] {
					t.Fatalf("k=%d: quantQ8K[%d] gives %g, roundQ8_K %g", k, i, got, xr[i])
				}
			}
			w := make([]float32, rows*k)
			if err := gguf.DequantizeRow(gguf.Q4_K, m.data, w); err != nil {
				t.Fatal(err)
			}
			checkIntGemv(t, "q4kQ8K", k, rows, w, xr, func(ks kernelSet, out []float32) {
				ks.q4kQ8K(k, m.data, m.rowBytes, rows, a, out)
			})
		}
	}
}

// TestIntDecodeMatchTwin checks each kernel set's integer K-quant decode
// products (q4kQ8KDecode, q6kQ8KDecode where present) bit for bit against
// their Go twins — the 16-lane q4kQ8KRows512Go / q6kQ8KRows512Go for the
// AVX-512BW kernels, q4kQ8KRowsGo otherwise — and the 16-lane twins against
// a float64 product, on every CPU. Row 0 holds the extremes: all-ones
// quants and scale bytes (Q4_K: nibbles 15 and scales 63; Q6_K: quants 31
// and scales −1), against an activation block with a −127 quant.
func TestIntDecodeMatchTwin(t *testing.T) {
	type kern func(k int, w []byte, ldw, rows int, a *q8kActs, out []float32)
	cases := []struct {
		typ         gguf.Type
		blockBytes  int
		twin16      kern
		fast        func(ks *kernelSet) kern
		fallbackTwn kern // the twin where the set has no 16-lane kernel; nil: none
	}{
		{gguf.Q4_K, 144, q4kQ8KRows512Go, func(ks *kernelSet) kern { return ks.q4kQ8KDecode }, q4kQ8KRowsGo},
		{gguf.Q6_K, 210, q6kQ8KRows512Go, func(ks *kernelSet) kern { return ks.q6kQ8KDecode }, q6kQ8KRowsL8Go},
	}
	for _, tc := range cases {
		for _, k := range []int{256, 512, 1536} {
			for _, rows := range []int{1, 2, 5, 13} {
				m := randKQuant(tc.typ, rows, k, uint64(k*7+rows))
				for b := 0; b < k/256; b++ {
					blk := m.data[b*tc.blockBytes : (b+1)*tc.blockBytes]
					for i := range blk[:tc.blockBytes-4] {
						blk[i+map[gguf.Type]int{gguf.Q4_K: 4, gguf.Q6_K: 0}[tc.typ]] = 0xff
					}
				}
				x := randVec(k, uint64(k)+21)
				x[7] = -4 // the block's extreme, so its quant is −127
				a := quantQ8K(x)
				xr := make([]float32, k)
				roundActs(cpuKernels, actQ8_K, x, xr)
				w := make([]float32, rows*k)
				if err := gguf.DequantizeRow(tc.typ, m.data, w); err != nil {
					t.Fatal(err)
				}
				twin, twin8 := make([]float32, rows), make([]float32, rows)
				tc.twin16(k, m.data, m.rowBytes, rows, a, twin)
				tc.fallbackTwn(k, m.data, m.rowBytes, rows, a, twin8)
				for r := 0; r < rows; r++ {
					var want, mag float64
					for j := 0; j < k; j++ {
						p := float64(w[r*k+j]) * float64(xr[j])
						want += p
						mag += math.Abs(p)
					}
					if math.Abs(float64(twin[r])-want) > 1e-5*mag+1e-6 {
						t.Errorf("%s 16-lane twin k=%d rows=%d: out[%d] = %g, want %g", tc.typ, k, rows, r, twin[r], want)
					}
					if math.Abs(float64(twin8[r])-want) > 1e-5*mag+1e-6 {
						t.Errorf("%s 8-lane twin k=%d rows=%d: out[%d] = %g, want %g", tc.typ, k, rows, r, twin8[r], want)
					}
				}
				for _, ks := range kernelSets() {
					fast := tc.fast(&ks)
					want := make([]float32, rows)
					switch {
					case ks.name == "avx512" && hasAVX512BW:
						copy(want, twin)
					case fast == nil:
						continue
					default:
						tc.fallbackTwn(k, m.data, m.rowBytes, rows, a, want)
					}
					got := make([]float32, rows+1)
					got[rows] = 42
					fast(k, m.data, m.rowBytes, rows, a, got[:rows])
					if got[rows] != 42 {
						t.Errorf("%s %s k=%d rows=%d wrote past out", ks.name, tc.typ, k, rows)
					}
					for r := range want {
						if math.Float32bits(got[r]) != math.Float32bits(want[r]) {
							t.Errorf("%s %s decode k=%d rows=%d: out[%d] = %g, twin %g", ks.name, tc.typ, k, rows, r, got[r], want[r])
						}
					}
				}
			}
		}
	}
}

// TestQ80Q80MatchFloat checks the integer Q8_0 × Q8_0 decode kernel of each
// kernel set against a float64 product of the dequantized weights with the
// Q8_0-rounded activations, and the assembly against the Go twin.
func TestQ80Q80MatchFloat(t *testing.T) {
	for _, k := range []int{32, 64, 96, 512} {
		for _, rows := range []int{1, 3, 4, 5, 13} {
			wf := randVec(rows*k, uint64(k*5+rows))
			m := quantMatrix(t, gguf.Q8_0, wf, rows, k)
			m.data[2] = 0x80 // a -128 quant, which llama.cpp's quantizer never writes
			x := randVec(k, uint64(k)+13)
			for i := 0; i < min(32, k); i++ {
				x[i] = 0 // an all-zero block
			}
			a := quantQ80(x)
			xr := make([]float32, k)
			roundQ80Go(x, xr)
			for i := range xr {
				if got := a.d[i/32] * float32(a.q[i]); got != xr[i] {
					t.Fatalf("k=%d: quantQ80[%d] gives %g, roundQ80 %g", k, i, got, xr[i])
				}
			}
			w := make([]float32, rows*k)
			if err := gguf.DequantizeRow(gguf.Q8_0, m.data, w); err != nil {
				t.Fatal(err)
			}
			checkIntGemv(t, "q80Q80", k, rows, w, xr, func(ks kernelSet, out []float32) {
				ks.q80Q80(k, m.data, m.rowBytes, rows, a, out)
			})
		}
	}
}

// checkIntGemv runs an integer decode kernel of every kernel set (via run,
// which fills out with rows results) and checks each result against a float64
// product of the dequantized weights w (rows×k) with the rounded activations
// xr, within 1e-5 of the sum of absolute terms, that nothing is written past
// out, and that every kernel set gives the first's (the Go twin's) bits.
func checkIntGemv(t *testing.T, name string, k, rows int, w, xr []float32, run func(ks kernelSet, out []float32)) {
	t.Helper()
	var outs [][]float32
	mags := make([]float64, rows)
	for _, ks := range kernelSets() {
		got := make([]float32, rows+1)
		got[rows] = 42
		run(ks, got[:rows])
		for r := 0; r < rows; r++ {
			var want, mag float64
			for j := 0; j < k; j++ {
				p := float64(w[r*k+j]) * float64(xr[j])
				want += p
				mag += math.Abs(p)
			}
			mags[r] = mag
			if math.Abs(float64(got[r])-want) > 1e-5*mag+1e-6 {
				t.Errorf("%s %s k=%d rows=%d: out[%d] = %g, want %g (Σ|terms| %g)", ks.name, name, k, rows, r, got[r], want, mag)
			}
		}
		if got[rows] != 42 {
			t.Errorf("%s %s k=%d rows=%d wrote past out", ks.name, name, k, rows)
		}
		outs = append(outs, got[:rows])
	}
	// Both compute llama.cpp's lanes and reductions, so bit for bit.
	for i := 1; i < len(outs); i++ {
		for r := range outs[0] {
			if math.Float32bits(outs[i][r]) != math.Float32bits(outs[0][r]) {
				t.Errorf("%s k=%d rows=%d: out[%d] = %g, Go %g", name, k, rows, r, outs[i][r], outs[0][r])
			}
		}
	}
}

// TestRoundQ8KMatchesGGML checks roundQ8_K and quantQ8K bit for bit against
// a plain transcription of ggml's quantize_row_q8_K (the first element of
// largest magnitude sets the scale, nearest_int rounds half to even in
// float64, clamps at 127 and keeps an integer), on random blocks and on blocks with exact
// halves, ties for the extreme, zeros, infinities and NaNs.
func TestRoundQ8KMatchesGGML(t *testing.T) {
	ref := func(x []float32) []float32 {
		var mx, amax float32
		for _, v := range x {
			if a := float32(math.Abs(float64(v))); a > amax {
				amax, mx = a, v
			}
		}
		out := make([]float32, len(x))
		if mx == 0 {
			return out
		}
		iscale := -127 / mx
		for i, v := range x {
			r := min(math.RoundToEven(float64(iscale*v)), 127)
			if math.IsNaN(r) || math.IsInf(r, 0) {
				out[i] = (1 / iscale) * float32(r)
				continue
			}
			out[i] = (1 / iscale) * float32(int(r)) // an int quant: 0 has no sign
		}
		return out
	}
	blocks := [][]float32{randVec(256, 1), randVec(256, 2), make([]float32, 256)}
	halves := make([]float32, 256)
	for i := range halves {
		halves[i] = float32(i%9-4) * 0.5 * 127 / 127 // −2 … 2 in halves
	}
	halves[3] = -127 // iscale 1: every x·iscale is an exact half or integer
	blocks = append(blocks, halves)
	ties := randVec(256, 3)
	ties[10], ties[20] = 9, -9 // two extremes of equal magnitude: the first wins
	blocks = append(blocks, ties)
	special := randVec(256, 4)
	special[5], special[6], special[7] = float32(math.NaN()), float32(math.Inf(1)), float32(math.Copysign(0, -1))
	blocks = append(blocks, special)
	nans := make([]float32, 256) // NaNs and zeros only: a zero block
	for i := range nans {
		if i%3 == 0 {
			nans[i] = float32(math.NaN())
		}
	}
	late := make([]float32, 256) // the extreme in the last 16
	late[250], late[3] = -0.5, 0.25
	blocks = append(blocks, nans, late)
	all := slices.Concat(blocks...)
	for _, ks := range kernelSets() {
		got := make([]float32, len(all))
		want := make([]float32, len(all))
		ks.roundQ8K(all, got)
		roundQ8KGo(all, want)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
				t.Fatalf("%s roundQ8K[%d] of %g = %g, roundQ8_K %g", ks.name, i, all[i], got[i], want[i])
			}
		}
	}
	for bi, x := range blocks {
		want := ref(x)
		got := make([]float32, 256)
		roundQ8_K(x, got)
		a := quantQ8K(x)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
				t.Fatalf("block %d: roundQ8_K[%d] of %g = %g, ggml %g", bi, i, x[i], got[i], want[i])
			}
			if q := a.d[0] * float32(a.q[i]); !math.IsNaN(float64(want[i])) && !math.IsInf(float64(x[i]), 0) && q != want[i] {
				t.Fatalf("block %d: quantQ8K[%d] of %g gives %g, ggml %g", bi, i, x[i], q, want[i])
			}
		}
	}
}

// TestQ80DecodeMatchTwin checks each kernel set's Q8_0 decode product
// (q80Q80Decode) bit for bit against its Go twin — q80Q80Rows512Go for the
// AVX-512BW kernel, q80Q80RowsGo otherwise — and the 16-lane twin against a
// float64 product, over odd and even block counts, a −128 weight quant and
// an all-zero activation block.
func TestQ80DecodeMatchTwin(t *testing.T) {
	for _, k := range []int{32, 64, 96, 512, 1536} {
		for _, rows := range []int{1, 3, 13} {
			m := quantMatrix(t, gguf.Q8_0, randVec(rows*k, uint64(k*11+rows)), rows, k)
			m.data[2] = 0x80
			x := randVec(k, uint64(k)+17)
			clear(x[:32])
			a := quantQ80(x)
			xr := make([]float32, k)
			roundQ80Go(x, xr)
			w := make([]float32, rows*k)
			if err := gguf.DequantizeRow(gguf.Q8_0, m.data, w); err != nil {
				t.Fatal(err)
			}
			twin := make([]float32, rows)
			q80Q80Rows512Go(k, m.data, m.rowBytes, rows, a, twin)
			for r := 0; r < rows; r++ {
				var want, mag float64
				for j := 0; j < k; j++ {
					p := float64(w[r*k+j]) * float64(xr[j])
					want += p
					mag += math.Abs(p)
				}
				if math.Abs(float64(twin[r])-want) > 1e-5*mag+1e-6 {
					t.Errorf("q80Q80Rows512Go k=%d rows=%d: out[%d] = %g, want %g", k, rows, r, twin[r], want)
				}
			}
			for _, ks := range kernelSets() {
				want := make([]float32, rows)
				if ks.name == "avx512" && hasAVX512BW {
					copy(want, twin)
				} else {
					q80Q80RowsGo(k, m.data, m.rowBytes, rows, a, want)
				}
				got := make([]float32, rows+1)
				got[rows] = 42
				ks.q80Q80Decode(k, m.data, m.rowBytes, rows, a, got[:rows])
				if got[rows] != 42 {
					t.Errorf("%s k=%d rows=%d wrote past out", ks.name, k, rows)
				}
				for r := range want {
					if math.Float32bits(got[r]) != math.Float32bits(want[r]) {
						t.Errorf("%s Q8_0 decode k=%d rows=%d: out[%d] = %g, twin %g", ks.name, k, rows, r, got[r], want[r])
					}
				}
			}
		}
	}
}
