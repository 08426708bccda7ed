package engine

import (
	"fmt"
	"strings"
	"sync"

	"nexusquant/engine/gguf"
	"nexusquant/internal/vec"
)

// kernelSet is one implementation of the inner loops: the assembly kernels
// where the CPU has them, else the Go twins.
type kernelSet struct {
	name    string
	gemm4x2 func(k int, w []float32, ldw int, x []float32, ldx int, out []float32, ldo int)
	// gemm4x3, where present, is gemm4x2 for three activation rows.
	gemm4x3  func(k int, w []float32, ldw int, x []float32, ldx int, out []float32, ldo int)
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
	// pvAcc, where present (AVX-512: pvAccA512, twin pvAccGo), adds the
	// attention weights times V with V in its cached layout: acc[i*ldacc+j]
	// += Σ_r s[i*lds+r]·v[r*ldv+j] for i < rows, j < d (a multiple of 64),
	// one FMA chain per output in order of r. Without it attention
	// transposes V and runs mulTile.
	pvAcc func(rows, d, used int, s []float32, lds int, v []float32, ldv int, acc []float32, ldacc int)
	// ropeAdj and ropeNeox, where present, rotate one head by (cos, sin)
	// pairs as rope.apply does, bit for bit: adjacent pairs (len(x) a
	// multiple of 8) and NEOX halves (len(x)/2 a multiple of 8).
	ropeAdj, ropeNeox func(x, cs []float32, inverse bool)
	// ropeRows, where present, rotates many heads, each by a row of one
	// page of cached tables (ropeRowsA512); false where it does not apply.
	ropeRows func(neox bool, rows []float32, stride int, page []float32, pos []int32, first, dims int, inverse bool) bool
	// scaleMax multiplies x by scale in place and returns the largest
	// result (−Inf for an empty x).
	scaleMax func(x []float32, scale float32) float32
	// roundQ8K rounds whole blocks of 256 as roundQ8_K does.
	roundQ8K func(x, dst []float32)
	// gemvF16Rows sets out[r] = Σ_{j<k} half(w[r*ldw+2j:])·x[j] for every
	// r < rows (ldw in bytes): the decode product for F16 weights,
	// converting in place and streaming.
	gemvF16Rows func(k int, w []byte, ldw, rows int, x []float32, out []float32)
	// gemvF16Decode is the F16 product decode runs: gemvF16Rows, or with
	// AVX-512 the 16-lane gemvF16RowsA512 (each row as dotL16Go sums it).
	gemvF16Decode func(k int, w []byte, ldw, rows int, x []float32, out []float32)
	// q80GemvRows is the same for Q8_0 rows of k values (a multiple of 32),
	// dequantizing in registers; it gives bit for bit what q80 into a tile
	// followed by mulTile gives.
	q80GemvRows func(k int, w []byte, ldw, rows int, x []float32, out []float32)
	// q4kGemvRows is the same for Q4_K rows (k a multiple of 256).
	q4kGemvRows func(k int, w []byte, ldw, rows int, x []float32, out []float32)
	q6kGemvRows func(k int, w []byte, ldw, rows int, x []float32, out []float32)
	// q4kQ8K sets out[r] for r < rows to Q4_K row r · the Q8_K activations
	// a, with integer dot products per block as llama.cpp computes them.
	q4kQ8K func(k int, w []byte, ldw, rows int, a *q8kActs, out []float32)
	// q4kQ8KDecode is the product decode runs (Exact mode keeps q4kQ8K,
	// llama.cpp's order): q4kQ8K, or where the CPU has AVX-512BW the 16-lane
	// q4kQ8KRows512 (twin q4kQ8KRows512Go).
	q4kQ8KDecode func(k int, w []byte, ldw, rows int, a *q8kActs, out []float32)
	// q6kQ8KDecode, where present (AVX2: q6kQ8KRowsAVX2, twin
	// q6kQ8KRowsL8Go; AVX-512BW: q6kQ8KRows512, twin q6kQ8KRows512Go), is
	// the integer Q6_K × Q8_K decode product; without it (the Go set) Q6_K
	// rows take the float kernel q6kGemvRows.
	q6kQ8KDecode func(k int, w []byte, ldw, rows int, a *q8kActs, out []float32)
	// q80Q80 is the same for Q8_0 rows and Q8_0 activations.
	q80Q80 func(k int, w []byte, ldw, rows int, a *q8Acts, out []float32)
	// q80Q80Decode is the product decode runs (Exact mode keeps q80Q80):
	// q80Q80, or where the CPU has AVX-512BW the 16-lane q80Q80Rows512
	// (twin q80Q80Rows512Go).
	q80Q80Decode func(k int, w []byte, ldw, rows int, a *q8Acts, out []float32)
	// gemm4x4 and gemm4x1L16 (nil where absent) are the products in 16
	// lanes (dotL16Go's order for every output): 4 weight rows against 4
	// activation rows, and against one. Where present, mulTile runs every
	// batch product (n ≥ 2) with them; single rows keep gemm4x1 and dot,
	// whose order the decode kernels reproduce.
	gemm4x4    func(k int, w []float32, ldw int, x []float32, ldx int, out []float32, ldo int)
	gemm4x1L16 func(k int, w []float32, ldw int, x []float32, out []float32)
}

var goKernels = kernelSet{
	name:     "go",
	gemm4x2:  gemm4x2Go,
	gemm4x3:  gemm4x3Go,
	gemm4x1:  gemm4x1Go,
	dot:      dotGo,
	axpy:     axpyGo,
	f16:      f16Go,
	q80:      q80Go,
	q4k:      q4kGo,
	q6k:      q6kGo,
	exp:      vec.ExpGo,
	siluMul:  vec.SiluMulGo,
	roundF16: roundF16Go,
	roundQ80: roundQ80Go,
	roundQ8K: roundQ8KGo,
	scaleMax: scaleMaxGo,

	gemvF16Rows: gemvF16RowsGo,

	gemvF16Decode: gemvF16RowsGo,
	q80GemvRows:   q80GemvRowsGo,
	q4kGemvRows:   q4kGemvRowsGo,
	q6kGemvRows:   q6kGemvRowsGo,
	q4kQ8K:        q4kQ8KRowsGo,
	q80Q80:        q80Q80RowsGo,

	q4kQ8KDecode: q4kQ8KRowsGo,
	q80Q80Decode: q80Q80RowsGo,
}

// decodeGemv is ks's streaming decode kernel for weights of type t, or nil.
func (ks *kernelSet) decodeGemv(t gguf.Type) func(k int, w []byte, ldw, rows int, x []float32, out []float32) {
	switch t {
	case gguf.F16:
		return ks.gemvF16Decode
	case gguf.Q8_0:
		return ks.q80GemvRows
	case gguf.Q4_K:
		return ks.q4kGemvRows
	case gguf.Q6_K:
		return ks.q6kGemvRows
	}
	return nil
}

// Kernels names the kernel set a model loaded on this CPU uses unless told
// otherwise (see Model.WithKernels): "avx512" (assembly, AVX-512 batch and
// decode products), "avx2" (assembly) or "go" (the portable twins, also
// what NEXUSQUANT_NOASM=1 forces).
func Kernels() string { return cpuKernels.name }

// KernelSets lists the kernel sets this CPU can run, fastest first.
func KernelSets() []string {
	var names []string
	if hasAVX512 {
		names = append(names, avx512Kernels.name)
	}
	if hasAVX2 {
		names = append(names, avxKernels.name)
	}
	return append(names, goKernels.name)
}

// kernelsNamed returns the kernel set called name, or an error naming the
// ones this CPU has.
func kernelsNamed(name string) (*kernelSet, error) {
	switch {
	case name == goKernels.name:
		return &goKernels, nil
	case name == avxKernels.name && hasAVX2:
		return &avxKernels, nil
	case name == avx512Kernels.name && hasAVX512:
		return &avx512Kernels, nil
	}
	return nil, fmt.Errorf("engine: kernels %q are not available on this CPU (have: %s)", name, strings.Join(KernelSets(), ", "))
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

// decodeUnitBytes is about how many bytes of weights one unit of a
// single-row product covers.
const decodeUnitBytes = 32 << 10

// maxUnitTiles is the most tiles in a unit of a batch product.
const maxUnitTiles = 4

var tilePool = sync.Pool{New: func() any { return new([]float32) }}

// mul runs the jobs (products sharing one batch size n) in parallel over
// tiles of output rows. Each tile of weight rows is dequantized to float32
// once and multiplied against all n activation rows while it is in cache.
// For n = 1 (decode) F16, Q8_0, Q4_K and Q6_K weights skip the tile: fused
// kernels stream the rows of larger units, converting in registers (Q8_0 and
// Q4_K: integer dot products with Q8_0 / Q8_K activations when rounding).
// With round, each job's activations are first rounded as llama.cpp rounds
// them for its weight type (actround.go); jobs sharing an input share the
// rounded copy.
func mul(ks *kernelSet, n int, round bool, jobs ...mulJob) error {
	// Decode with Q4_K or Q8_0 weights multiplies integers: quantize those
	// jobs' activations to Q8_K / Q8_0 (what roundInputs would round them
	// to; it leaves these jobs alone).
	var q8k []*q8kActs
	var q8 []*q8Acts
	if round {
		for j, jb := range jobs {
			if !ks.intDecode(n, jb.w.typ) {
				continue
			}
			if q8k == nil {
				q8k, q8 = make([]*q8kActs, len(jobs)), make([]*q8Acts, len(jobs))
			}
			for i := 0; i < j; i++ { // share with an earlier job of the same input
				if &jobs[i].x[0] == &jb.x[0] && jobs[i].w.cols == jb.w.cols && jobs[i].w.typ == jb.w.typ {
					q8k[j], q8[j] = q8k[i], q8[i]
				}
			}
			switch {
			case (jb.w.typ == gguf.Q4_K || jb.w.typ == gguf.Q6_K) && q8k[j] == nil:
				q8k[j] = quantQ8K(jb.x[:jb.w.cols])
			case jb.w.typ == gguf.Q8_0 && q8[j] == nil:
				q8[j] = quantQ80(jb.x[:jb.w.cols])
			}
		}
		jobs = append([]mulJob(nil), jobs...) // the caller's jobs keep their x
		bufs := roundInputs(ks, n, jobs)
		defer func() {
			for _, buf := range bufs {
				actPool.Put(buf)
			}
		}()
	}
	// A unit is tiles·tr rows of one job: up to maxUnitTiles tiles for a
	// batch, for a single row (decode) enough tiles to stream
	// ~decodeUnitBytes of weights, so handing out units costs little next to
	// the work.
	first := make([]int, len(jobs)+1) // first unit index of each job
	unitRows := make([]int, len(jobs))
	var macs int64
	maxTile := 0
	for j, jb := range jobs {
		if len(jb.x) < n*jb.w.cols || len(jb.out) < n*jb.w.rows {
			panic(fmt.Sprintf("engine: mul %s: x %d out %d for n %d", jb.w.name, len(jb.x), len(jb.out), n))
		}
		tr := tileRows(jb.w.cols)
		ur := tr
		if n == 1 {
			ur = max(tr, decodeUnitBytes/max(jb.w.rowBytes, 1)/tr*tr)
		} else if jb.w.f32 == nil {
			// Batch: a few tiles, so that each tile's weights can be
			// prefetched while the one before is multiplied, but enough
			// units for the workers to balance.
			ur = tr * min(maxUnitTiles, max(1, jb.w.rows/tr/(4*Threads())))
		}
		unitRows[j] = ur
		first[j+1] = first[j] + (jb.w.rows+ur-1)/ur
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
		u0 := (u - first[j]) * unitRows[j]
		u1 := min(u0+unitRows[j], w.rows)
		if q8k != nil && q8k[j] != nil && w.typ == gguf.Q6_K {
			ks.q6kQ8KDecode(w.cols, w.data[u0*w.rowBytes:u1*w.rowBytes], w.rowBytes, u1-u0, q8k[j], jb.out[u0:u1])
			return
		}
		if q8k != nil && q8k[j] != nil {
			ks.q4kQ8KDecode(w.cols, w.data[u0*w.rowBytes:u1*w.rowBytes], w.rowBytes, u1-u0, q8k[j], jb.out[u0:u1])
			return
		}
		if q8 != nil && q8[j] != nil {
			ks.q80Q80Decode(w.cols, w.data[u0*w.rowBytes:u1*w.rowBytes], w.rowBytes, u1-u0, q8[j], jb.out[u0:u1])
			return
		}
		if gemv := ks.decodeGemv(w.typ); n == 1 && gemv != nil {
			// Decode: convert or dequantize in registers, no tile.
			gemv(w.cols, w.data[u0*w.rowBytes:u1*w.rowBytes], w.rowBytes, u1-u0, jb.x, jb.out[u0:u1])
			return
		}
		var buf *[]float32
		if w.f32 == nil {
			buf = tilePool.Get().(*[]float32)
			defer tilePool.Put(buf)
			if cap(*buf) < maxTile {
				*buf = make([]float32, maxTile)
			}
		}
		tr := tileRows(w.cols)
		for r0 := u0; r0 < u1; r0 += tr {
			r1 := min(r0+tr, u1)
			var tile []float32
			if w.f32 != nil {
				tile = w.f32[r0*w.cols : r1*w.cols]
			} else {
				tile = (*buf)[:(r1-r0)*w.cols]
				if err := w.dequant(ks, r0, r1, tile); err != nil {
					errs[worker] = err
					return
				}
				if r1 < u1 {
					// The next tile's weights come into L2 while this
					// one is multiplied.
					prefetch(w.data[r1*w.rowBytes : min(r1+tr, u1)*w.rowBytes])
				}
			}
			mulTile(ks, n, jb.x, w.cols, w.cols, tile, w.cols, r1-r0, jb.out[r0:], w.rows)
		}
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// mulTile sets out[i*ldo+r] = Σ_{j<k} x[i*ldx+j]·wt[r*ldw+j] for i < n and
// r < rows: n activation rows against a tile of weight rows.
func mulTile(ks *kernelSet, n int, x []float32, ldx, k int, wt []float32, ldw, rows int, out []float32, ldo int) {
	if n >= 2 && ks.gemm4x4 != nil {
		mulTileL16(ks, n, x, ldx, k, wt, ldw, rows, out, ldo)
		return
	}
	i := 0
	if ks.gemm4x3 != nil {
		for ; i+3 <= n; i += 3 {
			xi, oi := x[i*ldx:], out[i*ldo:]
			r := 0
			for ; r+4 <= rows; r += 4 {
				ks.gemm4x3(k, wt[r*ldw:], ldw, xi, ldx, oi[r:], ldo)
			}
			for ; r < rows; r++ {
				wr := wt[r*ldw : r*ldw+k]
				for j := range 3 {
					oi[j*ldo+r] = ks.dot(wr, xi[j*ldx:])
				}
			}
		}
	}
	for ; i+2 <= n; i += 2 {
		xi, oi := x[i*ldx:], out[i*ldo:]
		r := 0
		for ; r+4 <= rows; r += 4 {
			ks.gemm4x2(k, wt[r*ldw:], ldw, xi, ldx, oi[r:], ldo)
		}
		for ; r < rows; r++ {
			wr := wt[r*ldw : r*ldw+k]
			oi[r] = ks.dot(wr, xi)
			oi[ldo+r] = ks.dot(wr, xi[ldx:])
		}
	}
	if i < n {
		xi, oi := x[i*ldx:i*ldx+k], out[i*ldo:]
		r := 0
		for ; r+4 <= rows; r += 4 {
			ks.gemm4x1(k, wt[r*ldw:], ldw, xi, oi[r:])
		}
		for ; r < rows; r++ {
			oi[r] = ks.dot(wt[r*ldw:r*ldw+k], xi)
		}
	}
}

// mulTileL16 is mulTile with the 16-lane kernels: blocks of 4×4 outputs,
// and the rest (rows % 4 weight rows, n % 4 activation rows) by the 4×1
// kernel, so that every output is summed in the same order (dotL16Go).
func mulTileL16(ks *kernelSet, n int, x []float32, ldx, k int, wt []float32, ldw, rows int, out []float32, ldo int) {
	g44, g41 := ks.gemm4x4, ks.gemm4x1L16
	var t [4]float32
	i := 0
	for ; i+4 <= n; i += 4 {
		xi, oi := x[i*ldx:], out[i*ldo:]
		r := 0
		for ; r+4 <= rows; r += 4 {
			g44(k, wt[r*ldw:], ldw, xi, ldx, oi[r:], ldo)
		}
		for ; r < rows; r++ {
			// One weight row against four activation rows: the 4×1 kernel
			// with the roles swapped (a·b and b·a are the same float).
			g41(k, xi, ldx, wt[r*ldw:], t[:])
			oi[r], oi[ldo+r], oi[2*ldo+r], oi[3*ldo+r] = t[0], t[1], t[2], t[3]
		}
	}
	for ; i < n; i++ {
		xi, oi := x[i*ldx:], out[i*ldo:]
		r := 0
		for ; r+4 <= rows; r += 4 {
			g41(k, wt[r*ldw:], ldw, xi, oi[r:])
		}
		for ; r < rows; r++ {
			g41(k, wt[r*ldw:], 0, xi, t[:]) // four copies of the row
			oi[r] = t[0]
		}
	}
}

// intDecode reports whether mul, rounding, multiplies n rows of activations
// with weights of type t as integers (Q8_0 / Q8_K quants, not floats): a
// single row (decode) with Q4_K or Q8_0 weights, or Q6_K where ks has the
// integer kernel.
func (ks *kernelSet) intDecode(n int, t gguf.Type) bool {
	return n == 1 && (t == gguf.Q4_K || t == gguf.Q8_0 || t == gguf.Q6_K && ks.q6kQ8KDecode != nil)
}

// actPool holds the buffers of rounded activations between products: a
// prefill rounds megabytes per layer, and fresh buffers cost more (page
// faults, zeroing, the scavenger handing them back) than the rounding.
var actPool = sync.Pool{New: func() any { return new([]float32) }}

// roundInputs replaces each job's x by its rounded copy (see actKindOf),
// except for the jobs that take integer products (intDecode), which read
// their quantized activations instead. The copies are in buffers from
// actPool, returned: put them back once the products are done.
func roundInputs(ks *kernelSet, n int, jobs []mulJob) (bufs []*[]float32) {
	type key struct {
		x    *float32
		kind actKind
	}
	done := map[key][]float32{}
	for j := range jobs {
		kind := actKindOf(jobs[j].w.typ)
		cols := jobs[j].w.cols
		if kind == actNone || n*cols == 0 || ks.intDecode(n, jobs[j].w.typ) {
			continue
		}
		x := jobs[j].x[:n*cols]
		k := key{&x[0], kind}
		r, ok := done[k]
		if !ok {
			buf := actPool.Get().(*[]float32)
			if cap(*buf) < len(x) {
				*buf = make([]float32, len(x))
			}
			bufs = append(bufs, buf)
			r = (*buf)[:len(x)]
			workers := min(Threads(), n*cols/(1<<14)+1)
			parallel(n, workers, func(_, i int) {
				roundActs(ks, kind, x[i*cols:(i+1)*cols], r[i*cols:(i+1)*cols])
			})
			done[k] = r
		}
		jobs[j].x = r
	}
	return bufs
}
