package engine

import (
	"math"
	"math/rand/v2"
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
// always, the assembly where supported.
func kernelSets() []kernelSet {
	sets := []kernelSet{goKernels}
	if hasAVX2 {
		sets = append(sets, avxKernels)
	}
	return sets
}

// forEachKernels runs f once with each kernel set in use.
func forEachKernels(t *testing.T, f func(t *testing.T)) {
	saved := kern
	defer func() { kern = saved }()
	for _, ks := range kernelSets() {
		kern = ks
		t.Run(ks.name, f)
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
func quantMatrix(t *testing.T, typ gguf.Type, w []float32, rows, cols int) *matrix {
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
	saved := kern
	defer func() { kern = saved }()
	for _, ks := range kernelSets() {
		kern = ks
		for _, threads := range []int{1, 3} {
			SetThreads(threads)
			for _, sh := range []struct{ n, rows, cols int }{{1, 5, 7}, {3, 17, 64}, {2, 130, 172}, {5, 64, 512}, {128, 33, 96}} {
				x := randVec(sh.n*sh.cols, 1)
				w := randVec(sh.rows*sh.cols, 2)
				out := make([]float32, sh.n*sh.rows)
				if err := mul(sh.n, true, mulJob{f32Matrix("w", w, sh.rows, sh.cols), x, out}); err != nil {
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
		if err := mul(n, false, mulJob{m, x, out}); err != nil {
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
		roundActs(tc.kind, x, got)
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
	roundActs(actQ8_K, x, got)
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
	fast := sets[1]
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
				t.Fatalf("%s [%d]: asm %g, gguf %g", q.typ, i, a[i], b[i])
			}
		}
	}
}
