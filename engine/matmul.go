package engine

import (
	"fmt"
	"sync"

	"nexusquant/engine/gguf"
)

// kernelSet is one implementation of the inner loops: the assembly kernels
// where the CPU has them, else the Go twins.
type kernelSet struct {
	name     string
	gemm4x2  func(k int, w []float32, ldw int, x []float32, ldx int, out []float32, ldo int)
	gemm4x1  func(k int, w []float32, ldw int, x []float32, out []float32)
	dot      func(a, b []float32) float32
	axpy     func(alpha float32, x, y []float32)
	f16      func(dst []float32, src []byte)
	q80      func(dst []float32, src []byte)
	q4k      func(dst []float32, src []byte)
	q6k      func(dst []float32, src []byte)
	exp      func(x []float32)
	siluMul  func(g, u []float32)
	roundF16 func(x, dst []float32)
	roundQ80 func(x, dst []float32)
	// gemvF16 sets out[r] = Σ_{j<k} half(w[r*ldw+2j:])·x[j] for r < 4 (ldw
	// in bytes): the decode product for F16 weights, converting in place.
	gemvF16 func(k int, w []byte, ldw int, x []float32, out []float32)
}

var goKernels = kernelSet{
	name:     "go",
	gemm4x2:  gemm4x2Go,
	gemm4x1:  gemm4x1Go,
	dot:      dotGo,
	axpy:     axpyGo,
	f16:      f16Go,
	q80:      q80Go,
	q4k:      q4kGo,
	q6k:      q6kGo,
	exp:      expGo,
	siluMul:  siluMulGo,
	roundF16: roundF16Go,
	roundQ80: roundQ80Go,
	gemvF16:  gemvF16Go,
}

// kern is the kernel set in use; init in matmul_amd64.go upgrades it.
var kern = goKernels

// Kernels names the inner-loop implementation in use: "avx2" (assembly) or
// "go" (the portable twins).
func Kernels() string { return kern.name }

// UseKernels switches the inner loops to "avx2" or "go" (for side-by-side
// benchmarks). It must not be called while a Forward runs.
func UseKernels(name string) error {
	switch {
	case name == "go":
		kern = goKernels
	case name == "avx2" && hasAVX2:
		kern = avxKernels
	default:
		return fmt.Errorf("engine: kernels %q are not available on this CPU (have: go%s)", name, map[bool]string{true: ", avx2"}[hasAVX2])
	}
	return nil
}

// mulJob is one matrix product out = x·wᵀ over n rows: x is n×w.cols, out is
// n×w.rows, both row-major.
type mulJob struct {
	w      *matrix
	x, out []float32
}

// tileRows is how many weight rows a worker dequantizes at once: about 16 KB of
// float32 so the tile stays in L1 while every activation row passes over it.
func tileRows(cols int) int {
	r := (4096 / cols) &^ 3
	return min(max(r, 4), 64)
}

// minParallelMACs is the least work (multiply-adds) worth waking another
// goroutine for.
const minParallelMACs = 1 << 16

var tilePool = sync.Pool{New: func() any { return new([]float32) }}

// mul runs the jobs (products sharing one batch size n) in parallel over
// tiles of output rows. Each tile of weight rows is dequantized to float32
// once and multiplied against all n activation rows while it is in cache.
// With round, each job's activations are first rounded as llama.cpp rounds
// them for its weight type (actround.go); jobs sharing an input share the
// rounded copy.
func mul(n int, round bool, jobs ...mulJob) error {
	if round {
		roundInputs(n, jobs)
	}
	first := make([]int, len(jobs)+1) // first tile index of each job
	var macs int64
	maxTile := 0
	for j, jb := range jobs {
		if len(jb.x) < n*jb.w.cols || len(jb.out) < n*jb.w.rows {
			panic(fmt.Sprintf("engine: mul %s: x %d out %d for n %d", jb.w.name, len(jb.x), len(jb.out), n))
		}
		tr := tileRows(jb.w.cols)
		first[j+1] = first[j] + (jb.w.rows+tr-1)/tr
		macs += int64(n) * int64(jb.w.rows) * int64(jb.w.cols)
		if jb.w.f32 == nil {
			maxTile = max(maxTile, tr*jb.w.cols)
		}
	}
	units := first[len(jobs)]
	workers := min(Threads(), int(macs/minParallelMACs)+1)
	errs := make([]error, max(workers, 1))
	parallel(units, workers, func(worker, u int) {
		j := 0
		for u >= first[j+1] {
			j++
		}
		jb := jobs[j]
		w := jb.w
		tr := tileRows(w.cols)
		r0 := (u - first[j]) * tr
		r1 := min(r0+tr, w.rows)
		if n == 1 && w.typ == gguf.F16 {
			// Decode: convert float16 rows on the fly, no tile.
			mulF16Row(w, jb.x, r0, r1, jb.out)
			return
		}
		var tile []float32
		if w.f32 != nil {
			tile = w.f32[r0*w.cols : r1*w.cols]
		} else {
			bp := tilePool.Get().(*[]float32)
			defer tilePool.Put(bp)
			if cap(*bp) < maxTile {
				*bp = make([]float32, maxTile)
			}
			tile = (*bp)[:(r1-r0)*w.cols]
			if err := w.dequant(r0, r1, tile); err != nil {
				errs[worker] = err
				return
			}
		}
		mulTile(n, jb.x, w.cols, w.cols, tile, w.cols, r1-r0, jb.out[r0:], w.rows)
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// mulF16Row sets out[r] = w_r·x for rows [r0, r1) of an F16 matrix.
func mulF16Row(w *matrix, x []float32, r0, r1 int, out []float32) {
	r := r0
	for ; r+4 <= r1; r += 4 {
		kern.gemvF16(w.cols, w.data[r*w.rowBytes:], w.rowBytes, x, out[r:])
	}
	for ; r < r1; r++ {
		var o [4]float32
		gemvF16Go(w.cols, w.data[r*w.rowBytes:], 0, x, o[:])
		out[r] = o[0]
	}
}

// mulTile sets out[i*ldo+r] = Σ_{j<k} x[i*ldx+j]·wt[r*ldw+j] for i < n and
// r < rows: n activation rows against a tile of weight rows.
func mulTile(n int, x []float32, ldx, k int, wt []float32, ldw, rows int, out []float32, ldo int) {
	i := 0
	for ; i+2 <= n; i += 2 {
		xi, oi := x[i*ldx:], out[i*ldo:]
		r := 0
		for ; r+4 <= rows; r += 4 {
			kern.gemm4x2(k, wt[r*ldw:], ldw, xi, ldx, oi[r:], ldo)
		}
		for ; r < rows; r++ {
			wr := wt[r*ldw : r*ldw+k]
			oi[r] = kern.dot(wr, xi)
			oi[ldo+r] = kern.dot(wr, xi[ldx:])
		}
	}
	if i < n {
		xi, oi := x[i*ldx:i*ldx+k], out[i*ldo:]
		r := 0
		for ; r+4 <= rows; r += 4 {
			kern.gemm4x1(k, wt[r*ldw:], ldw, xi, oi[r:])
		}
		for ; r < rows; r++ {
			oi[r] = kern.dot(wt[r*ldw:r*ldw+k], xi)
		}
	}
}

// roundInputs replaces each job's x by its rounded copy (see actKindOf).
func roundInputs(n int, jobs []mulJob) {
	type key struct {
		x    *float32
		kind actKind
	}
	done := map[key][]float32{}
	for j := range jobs {
		kind := actKindOf(jobs[j].w.typ)
		cols := jobs[j].w.cols
		if kind == actNone || n*cols == 0 {
			continue
		}
		x := jobs[j].x[:n*cols]
		k := key{&x[0], kind}
		r, ok := done[k]
		if !ok {
			r = make([]float32, len(x))
			workers := min(Threads(), n*cols/(1<<14)+1)
			parallel(n, workers, func(_, i int) {
				roundActs(kind, x[i*cols:(i+1)*cols], r[i*cols:(i+1)*cols])
			})
			done[k] = r
		}
		jobs[j].x = r
	}
}
