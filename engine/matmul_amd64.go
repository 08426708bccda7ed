//go:build amd64

package engine

import (
	"os"

	"golang.org/x/sys/cpu"

	"nexusquant/internal/vec"
)

// The assembly kernels (matmul_amd64.s, vecmath_amd64.s) need AVX2, FMA and
// F16C; cpu.X86 reports AVX2 only when the OS saves the YMM registers.
// NEXUSQUANT_NOASM=1 forces the Go twins (for debugging and comparison).
var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C

// hasAVX512 adds the AVX-512F batch kernels (gemm512_amd64.s) to the AVX2
// set; cpu.X86 reports AVX-512F only when the OS saves the ZMM and mask
// registers.
var hasAVX512 = hasAVX2 && cpu.X86.HasAVX512F

// hasAVX512BW adds the byte and word forms, and the 256-bit EVEX forms, the
// AVX-512 decode kernels use (q4k512, q6k512 and q80512_amd64.s, and the
// F16 one's masked tail).
var hasAVX512BW = hasAVX512 && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL

// cpuKernels is the kernel set models use by default: the fastest this CPU
// runs, or the Go twins under NEXUSQUANT_NOASM. Set once, at start-up.
var cpuKernels = func() *kernelSet {
	switch {
	case os.Getenv("NEXUSQUANT_NOASM") != "":
		return &goKernels
	case hasAVX512:
		return &avx512Kernels
	case hasAVX2:
		return &avxKernels
	}
	return &goKernels
}()

//go:noescape
func q4kQ8KRows512(nb int, w *byte, ldw int, rows int, qp *int8, d *float32, bsum *int32, out *float32, pf int)

//go:noescape
func q6kQ8KRows512(nb int, w *byte, ldw int, rows int, q *int8, d *float32, bsum16 *int16, out *float32, pf int)

// q6kQ8KRowsAVX2 is the AVX2 integer decode product of Q6_K rows with Q8_K
// activations (q6kavx2_amd64.s; twin q6kQ8KRowsL8Go).
//
//go:noescape
func q6kQ8KRowsAVX2(nb int, w *byte, ldw int, rows int, q *int8, d *float32, bsum16 *int16, out *float32, pf int)

//go:noescape
func q80Q80Rows512(nb int, w *byte, ldw int, rows int, q16 *int16, d *float32, out *float32, pf int)

//go:noescape
func roundQ8KAVX512(nb int, x, dst *float32)

// roundQ8KAVX2 is roundQ8KAVX512 in AVX2 registers (the same bits).
//
//go:noescape
func roundQ8KAVX2(nb int, x, dst *float32)

// pvAcc2x32AVX, pvAcc1x32AVX and scaleMaxAVX are the AVX2 attention
// kernels (attnavx2_amd64.s; twins pvAccGo, scaleMaxGo).
//
//go:noescape
func pvAcc2x32AVX(used int, s *float32, lds int, v *float32, ldv int, acc *float32, ldacc int)

//go:noescape
func pvAcc1x32AVX(used int, s *float32, v *float32, ldv int, acc *float32)

//go:noescape
func scaleMaxAVX(n int, x *float32, scale float32) float32

//go:noescape
func pvAcc4x64AVX512(used int, s *float32, lds int, v *float32, ldv int, acc *float32, ldacc int)

//go:noescape
func pvAcc1x64AVX512(used int, s *float32, v *float32, ldv int, acc *float32)

//go:noescape
func scaleMaxAVX512(n int, x *float32, scale float32) float32

//go:noescape
func gemvF16x4AVX512(k int, w *byte, ldw int, x *float32, out *float32, pf int)

//go:noescape
func ropeAdjAVX(n int, x, cs *float32, inverse bool)

//go:noescape
func ropeNeoxAVX(half int, x, cs *float32, inverse bool)

// ropeAdjAVX512 and ropeNeoxAVX512 are ropeAdjAVX (n a multiple of 16) and
// ropeNeoxAVX (half a multiple of 16) sixteen lanes at a time: the same
// bits.
//
//go:noescape
func ropeAdjAVX512(n int, x, cs *float32, inverse bool)

//go:noescape
func ropeNeoxAVX512(half int, x, cs *float32, inverse bool)

// ropeNeoxRowsAVX512 and ropeAdjRowsAVX512 rotate n head vectors, vector k
// at x[k·stride:], with the (cos, sin) row pos[k]−first of page (dims
// floats a row): ropeNeoxAVX512 (dims/2 a multiple of 16) and
// ropeAdjAVX512 (dims a multiple of 16) of each, the same bits.
//
//go:noescape
func ropeNeoxRowsAVX512(x *float32, stride int, page *float32, pos *int32, n, first, dims int, inverse bool)

//go:noescape
func ropeAdjRowsAVX512(x *float32, stride int, page *float32, pos *int32, n, first, dims int, inverse bool)

//go:noescape
func q4kDeq512(nb int, src *byte, dst *float32)

//go:noescape
func gemm4x4AVX512(k int, w *float32, ldw int, x *float32, ldx int, out *float32, ldo int)

//go:noescape
func gemm4x1AVX512(k int, w *float32, ldw int, x *float32, out *float32)

//go:noescape
func f16AVX512(k int, src *byte, dst *float32)

//go:noescape
func q80AVX512(nb int, src *byte, dst *float32)

//go:noescape
func prefetchL2(p *byte, n int)

// prefetch asks for b to be brought into L2.
func prefetch(b []byte) {
	if len(b) > 0 {
		prefetchL2(&b[0], len(b))
	}
}

//go:noescape
func gemm4x2AVX(k int, w *float32, ldw int, x *float32, ldx int, out *float32, ldo int)

// gemm4x3AVX is gemm4x2AVX for three activation rows (twelve accumulators:
// seven loads feed twelve FMAs instead of six feeding eight).
//
//go:noescape
func gemm4x3AVX(k int, w *float32, ldw int, x *float32, ldx int, out *float32, ldo int)

//go:noescape
func gemm4x1AVX(k int, w *float32, ldw int, x *float32, out *float32)

//go:noescape
func gemvF16RowsAVX(k int, w *byte, ldw int, rows int, x *float32, out *float32, pf int)

//go:noescape
func q80GemvRowsAVX(nb int, w *byte, ldw int, rows int, x *float32, out *float32, pf int)

//go:noescape
func q4kGemvRowsAVX(nb int, w *byte, ldw int, rows int, x *float32, out *float32, pf int)

//go:noescape
func q6kGemvRowsAVX(nb int, w *byte, ldw int, rows int, x *float32, out *float32, pf int)

//go:noescape
func q4kQ8KRowsAVX(nb int, w *byte, ldw int, rows int, q *int8, d *float32, bsum *int32, out *float32, pf int)

//go:noescape
func q80Q80RowsAVX(nb int, w *byte, ldw int, rows int, q *int8, d *float32, out *float32, pf int)

//go:noescape
func dotAVX(k int, a, b *float32) float32

//go:noescape
func axpyAVX(k int, alpha float32, x, y *float32)

//go:noescape
func f16AVX(k int, src *byte, dst *float32)

//go:noescape
func q80AVX(nb int, src *byte, dst *float32)

var avxKernels = kernelSet{
	name:     "avx2",
	gemm4x2:  gemm4x2A,
	gemm4x3:  gemm4x3A,
	gemm4x1:  gemm4x1A,
	dot:      dotA,
	axpy:     axpyA,
	f16:      f16A,
	q80:      q80A,
	q4k:      q4kA,
	q6k:      q6kA,
	exp:      vec.Exp,
	siluMul:  vec.SiluMul,
	roundF16: roundF16A,
	roundQ80: roundQ80A,
	roundQ8K: roundQ8KA,
	scaleMax: scaleMaxA,
	pvAcc:    pvAccA,
	ropeAdj:  ropeAdjA,
	ropeNeox: ropeNeoxA,

	gemvF16Rows: gemvF16RowsA,

	gemvF16Decode: gemvF16RowsA,
	q80GemvRows:   q80GemvRowsA,
	q4kGemvRows:   q4kGemvRowsA,
	q6kGemvRows:   q6kGemvRowsA,
	q4kQ8K:        q4kQ8KRowsA,
	q80Q80:        q80Q80RowsA,

	q4kQ8KDecode: q4kQ8KRowsA,
	q6kQ8KDecode: q6kQ8KRowsAVX2A,
	q80Q80Decode: q80Q80RowsA,
}

// avx512Kernels is the AVX2 set with AVX-512 (16-lane) batch products,
// tile dequantization, Q8_K rounding, attention and RoPE kernels, and with
// AVX-512BW/VL the decode products (F16, and integer Q4_K, Q6_K and Q8_0);
// Exact mode's products (q4kQ8K, q80Q80) and the tile-path single-row
// kernels stay AVX2, whose order they reproduce.
var avx512Kernels = func() kernelSet {
	ks := avxKernels
	ks.name = "avx512"
	ks.gemm4x4 = gemm4x4A512
	ks.gemm4x1L16 = gemm4x1A512
	ks.f16 = f16A512
	ks.q80 = q80A512
	ks.q4k = q4kA512
	if hasAVX512BW {
		ks.q4kQ8KDecode = q4kQ8KRows512A
		ks.q6kQ8KDecode = q6kQ8KRows512A
		ks.q80Q80Decode = q80Q80Rows512A
		ks.gemvF16Decode = gemvF16RowsA512
	}
	if hasAVX512 {
		ks.roundQ8K = roundQ8KA512
		ks.pvAcc = pvAccA512
		ks.scaleMax = scaleMaxA512
		ks.ropeAdj = ropeAdjA512
		ks.ropeNeox = ropeNeoxA512
		ks.ropeRows = ropeRowsA512
	}
	return ks
}()

// f16A512 and q80A512 convert as f16A and q80A do, 16 lanes at a time (the
// same bits: the conversions are exact and d·q is one rounding).
func f16A512(dst []float32, src []byte) {
	k := len(dst)
	k16 := k &^ 15
	src = src[:2*k]
	if k16 > 0 {
		f16AVX512(k16, &src[0], &dst[0])
	}
	if k16 < k {
		f16Go(dst[k16:], src[2*k16:])
	}
}

func q80A512(dst []float32, src []byte) {
	nb := len(dst) / 32
	if nb == 0 {
		return
	}
	_ = src[:34*nb]
	_ = dst[:32*nb]
	q80AVX512(nb, &src[0], &dst[0])
}

func gemm4x4A512(k int, w []float32, ldw int, x []float32, ldx int, out []float32, ldo int) {
	_ = w[3*ldw : 3*ldw+k]
	_ = x[3*ldx : 3*ldx+k]
	_ = out[3*ldo : 3*ldo+4]
	if k == 0 {
		gemm4x4L16Go(k, w, ldw, x, ldx, out, ldo)
		return
	}
	gemm4x4AVX512(k, &w[0], ldw, &x[0], ldx, &out[0], ldo)
}

func gemm4x1A512(k int, w []float32, ldw int, x []float32, out []float32) {
	_ = w[3*ldw : 3*ldw+k]
	_ = x[:k]
	_ = out[:4]
	if k == 0 {
		gemm4x1L16Go(k, w, ldw, x, out)
		return
	}
	gemm4x1AVX512(k, &w[0], ldw, &x[0], &out[0])
}

// The wrappers below check bounds (by slicing, so a bad call panics in Go
// rather than reading out of bounds in assembly), run the assembly on the
// largest multiple of 8 and finish the tail with the Go twin.

func gemm4x2A(k int, w []float32, ldw int, x []float32, ldx int, out []float32, ldo int) {
	k8 := k &^ 7
	_ = w[3*ldw : 3*ldw+k]
	_ = x[ldx : ldx+k]
	_ = out[ldo : ldo+4]
	if k8 == 0 {
		gemm4x2Go(k, w, ldw, x, ldx, out, ldo)
		return
	}
	gemm4x2AVX(k8, &w[0], ldw, &x[0], ldx, &out[0], ldo)
	if k8 < k {
		for i := 0; i < 2; i++ {
			for r := 0; r < 4; r++ {
				out[i*ldo+r] += dotGo(w[r*ldw+k8:r*ldw+k], x[i*ldx+k8:])
			}
		}
	}
}

func gemm4x3A(k int, w []float32, ldw int, x []float32, ldx int, out []float32, ldo int) {
	k8 := k &^ 7
	_ = w[3*ldw : 3*ldw+k]
	_ = x[2*ldx : 2*ldx+k]
	_ = out[2*ldo : 2*ldo+4]
	if k8 == 0 {
		gemm4x3Go(k, w, ldw, x, ldx, out, ldo)
		return
	}
	gemm4x3AVX(k8, &w[0], ldw, &x[0], ldx, &out[0], ldo)
	if k8 < k {
		for i := 0; i < 3; i++ {
			for r := 0; r < 4; r++ {
				out[i*ldo+r] += dotGo(w[r*ldw+k8:r*ldw+k], x[i*ldx+k8:])
			}
		}
	}
}

func gemm4x1A(k int, w []float32, ldw int, x []float32, out []float32) {
	k8 := k &^ 7
	_ = w[3*ldw : 3*ldw+k]
	_ = x[:k]
	_ = out[:4]
	if k8 == 0 {
		gemm4x1Go(k, w, ldw, x, out)
		return
	}
	gemm4x1AVX(k8, &w[0], ldw, &x[0], &out[0])
	for r := 0; k8 < k && r < 4; r++ {
		out[r] += dotGo(w[r*ldw+k8:r*ldw+k], x[k8:])
	}
}

func dotA(a, b []float32) float32 {
	k := len(a)
	k8 := k &^ 7
	b = b[:k]
	var s float32
	if k8 > 0 {
		s = dotAVX(k8, &a[0], &b[0])
	}
	if k8 < k {
		s += dotGo(a[k8:], b[k8:])
	}
	return s
}

func axpyA(alpha float32, x, y []float32) {
	k := len(x)
	k8 := k &^ 7
	y = y[:k]
	if k8 > 0 {
		axpyAVX(k8, alpha, &x[0], &y[0])
	}
	if k8 < k {
		axpyGo(alpha, x[k8:], y[k8:])
	}
}

func f16A(dst []float32, src []byte) {
	k := len(dst)
	k8 := k &^ 7
	src = src[:2*k]
	if k8 > 0 {
		f16AVX(k8, &src[0], &dst[0])
	}
	if k8 < k {
		f16Go(dst[k8:], src[2*k8:])
	}
}

func q80A(dst []float32, src []byte) {
	nb := len(dst) / 32
	if nb == 0 {
		return
	}
	_ = src[:34*nb]
	_ = dst[:32*nb]
	q80AVX(nb, &src[0], &dst[0])
}

// streamPrefetch is how far ahead of the rows being read the streaming
// decode kernels prefetch (best measured: 4–8 KB).
const streamPrefetch = 4096

func gemvF16RowsA(k int, w []byte, ldw, rows int, x []float32, out []float32) {
	k8 := k &^ 7
	r4 := rows &^ 3
	if r4 > 0 && k8 > 0 {
		_ = w[(r4-1)*ldw : (r4-1)*ldw+2*k]
		_ = x[:k]
		_ = out[:r4]
		gemvF16RowsAVX(k8, &w[0], ldw, r4, &x[0], &out[0], streamPrefetch)
		if k8 < k {
			var tail [4]float32
			for r := 0; r < r4; r += 4 {
				gemvF16Go(k-k8, w[r*ldw+2*k8:], ldw, x[k8:], tail[:])
				for i, t := range tail {
					out[r+i] += t
				}
			}
		}
	} else {
		r4 = 0
	}
	// The last rows % 4 rows: the same kernel on four copies of the row
	// (ldw 0), so that every row is summed in the same order.
	for r := r4; r < rows; r++ {
		var o [4]float32
		if k8 > 0 {
			_ = w[r*ldw : r*ldw+2*k]
			gemvF16RowsAVX(k8, &w[r*ldw], 0, 4, &x[0], &o[0], 0)
		}
		if k8 < k {
			var tail [4]float32
			gemvF16Go(k-k8, w[r*ldw+2*k8:], 0, x[k8:], tail[:])
			o[0] += tail[0]
		}
		out[r] = o[0]
	}
}

func q80GemvRowsA(k int, w []byte, ldw, rows int, x []float32, out []float32) {
	gemvQuantA(q80GemvRowsAVX, k, 32, 34, q80A, w, ldw, rows, x, out)
}

func q4kGemvRowsA(k int, w []byte, ldw, rows int, x []float32, out []float32) {
	gemvQuantA(q4kGemvRowsAVX, k, 256, 144, q4kA, w, ldw, rows, x, out)
}

func q6kGemvRowsA(k int, w []byte, ldw, rows int, x []float32, out []float32) {
	gemvQuantA(q6kGemvRowsAVX, k, 256, 210, q6kA, w, ldw, rows, x, out)
}

// gemvQuantA runs a fused quantized decode kernel over the rows in groups of
// four and finishes the remainder as mulTile does: dequantize, then dotA.
// Rows are k values in blocks of vpb values and bb bytes, ldw bytes apart.
func gemvQuantA(asm func(nb int, w *byte, ldw int, rows int, x *float32, out *float32, pf int),
	k, vpb, bb int, deq func(dst []float32, src []byte), w []byte, ldw, rows int, x []float32, out []float32) {
	nb := k / vpb
	rb := nb * bb
	x = x[:k]
	r4 := rows &^ 3
	if r4 > 0 && nb > 0 {
		_ = w[(r4-1)*ldw : (r4-1)*ldw+rb]
		_ = out[:r4]
		asm(nb, &w[0], ldw, r4, &x[0], &out[0], streamPrefetch)
	} else {
		r4 = 0
	}
	if r4 < rows {
		row := make([]float32, k)
		for r := r4; r < rows; r++ {
			deq(row, w[r*ldw:r*ldw+rb])
			out[r] = dotA(row, x)
		}
	}
}

// q4kKernel and q6kKernel are the assembly decode products of Q4_K and
// Q6_K rows with Q8_K activations (q: the activations' quants in the order
// the kernel reads them; sums: their 32-value sums for Q4_K, 16-value sums
// for Q6_K).
type (
	q4kKernel func(nb int, w *byte, ldw int, rows int, q *int8, d *float32, bsum *int32, out *float32, pf int)
	q6kKernel func(nb int, w *byte, ldw int, rows int, q *int8, d *float32, bsum16 *int16, out *float32, pf int)
)

// q4kRowsA runs the Q4_K kernel asm over slices: rows Q4_K rows of k values
// (ldw bytes apart) against a, whose quants q are a.q or a.qp as asm reads
// them.
func q4kRowsA(asm q4kKernel, q []int8, k int, w []byte, ldw, rows int, a *q8kActs, out []float32) {
	nb := k / 256
	if nb == 0 || rows == 0 {
		clear(out[:rows])
		return
	}
	_ = w[(rows-1)*ldw : (rows-1)*ldw+nb*144]
	_ = q[:nb*256]
	_ = a.d[:nb]
	_ = a.bsum[:nb*8]
	_ = out[:rows]
	asm(nb, &w[0], ldw, rows, &q[0], &a.d[0], &a.bsum[0], &out[0], streamPrefetch)
}

// q6kRowsA is q4kRowsA for Q6_K rows and a Q6_K kernel.
func q6kRowsA(asm q6kKernel, k int, w []byte, ldw, rows int, a *q8kActs, out []float32) {
	nb := k / 256
	if nb == 0 || rows == 0 {
		clear(out[:rows])
		return
	}
	_ = w[(rows-1)*ldw : (rows-1)*ldw+nb*210]
	_ = a.q[:nb*256]
	_ = a.d[:nb]
	_ = a.bsum16[:nb*16]
	_ = out[:rows]
	asm(nb, &w[0], ldw, rows, &a.q[0], &a.d[0], &a.bsum16[0], &out[0], streamPrefetch)
}

// q4kQ8KRowsA is q4kQ8KRowsAVX over slices (twin q4kQ8KRowsGo).
func q4kQ8KRowsA(k int, w []byte, ldw, rows int, a *q8kActs, out []float32) {
	q4kRowsA(q4kQ8KRowsAVX, a.q, k, w, ldw, rows, a, out)
}

// q4kQ8KRows512A is q4kQ8KRows512 over slices (twin q4kQ8KRows512Go).
func q4kQ8KRows512A(k int, w []byte, ldw, rows int, a *q8kActs, out []float32) {
	q4kRowsA(q4kQ8KRows512, a.qp, k, w, ldw, rows, a, out)
}

// q6kQ8KRowsAVX2A is q6kQ8KRowsAVX2 over slices (twin q6kQ8KRowsL8Go).
func q6kQ8KRowsAVX2A(k int, w []byte, ldw, rows int, a *q8kActs, out []float32) {
	q6kRowsA(q6kQ8KRowsAVX2, k, w, ldw, rows, a, out)
}

// q6kQ8KRows512A is q6kQ8KRows512 over slices (twin q6kQ8KRows512Go).
func q6kQ8KRows512A(k int, w []byte, ldw, rows int, a *q8kActs, out []float32) {
	q6kRowsA(q6kQ8KRows512, k, w, ldw, rows, a, out)
}

// pvAccA is the AVX2 weights·V product: two rows of weights and 32 columns
// at a time, each output one FMA chain in order of r (twin pvAccGo; d a
// multiple of 32).
func pvAccA(rows, d, used int, s []float32, lds int, v []float32, ldv int, acc []float32, ldacc int) {
	if rows == 0 || d == 0 || used == 0 {
		return
	}
	_ = s[(rows-1)*lds+used-1]
	_ = acc[(rows-1)*ldacc+d-1]
	_ = v[(used-1)*ldv+d-1]
	i := 0
	for ; i+2 <= rows; i += 2 {
		for c := 0; c < d; c += 32 {
			pvAcc2x32AVX(used, &s[i*lds], lds, &v[c], ldv, &acc[i*ldacc+c], ldacc)
		}
	}
	for ; i < rows; i++ {
		for c := 0; c < d; c += 32 {
			pvAcc1x32AVX(used, &s[i*lds], &v[c], ldv, &acc[i*ldacc+c])
		}
	}
}

// scaleMaxA is scaleMaxAVX over a slice, the tail of fewer than 8 in Go
// (twin scaleMaxGo).
func scaleMaxA(x []float32, scale float32) float32 {
	n8 := len(x) &^ 7
	m := negInf
	if n8 > 0 {
		m = scaleMaxAVX(n8, &x[0], scale)
	}
	if n8 < len(x) {
		m = max(m, scaleMaxGo(x[n8:], scale))
	}
	return m
}

// pvAccA512 is the pvAcc of the AVX-512 set (twin pvAccGo): four rows of
// weights at a time, then single rows, over 64-column chunks.
func pvAccA512(rows, d, used int, s []float32, lds int, v []float32, ldv int, acc []float32, ldacc int) {
	if rows == 0 || d == 0 || used == 0 {
		return
	}
	_ = s[(rows-1)*lds+used-1]
	_ = acc[(rows-1)*ldacc+d-1]
	_ = v[(used-1)*ldv+d-1]
	i := 0
	for ; i+4 <= rows; i += 4 {
		for c := 0; c < d; c += 64 {
			pvAcc4x64AVX512(used, &s[i*lds], lds, &v[c], ldv, &acc[i*ldacc+c], ldacc)
		}
	}
	for ; i < rows; i++ {
		for c := 0; c < d; c += 64 {
			pvAcc1x64AVX512(used, &s[i*lds], &v[c], ldv, &acc[i*ldacc+c])
		}
	}
}

// gemvF16RowsA512 is the AVX-512 F16 decode product: four rows at a time,
// each summed as dotL16Go sums it (twin gemvF16RowsL16Go).
func gemvF16RowsA512(k int, w []byte, ldw, rows int, x []float32, out []float32) {
	if rows == 0 {
		return
	}
	if k == 0 {
		clear(out[:rows])
		return
	}
	_ = w[(rows-1)*ldw : (rows-1)*ldw+2*k]
	_ = x[:k]
	_ = out[:rows]
	r := 0
	for ; r+4 <= rows; r += 4 {
		gemvF16x4AVX512(k, &w[r*ldw], ldw, &x[0], &out[r], streamPrefetch)
	}
	var t [4]float32
	for ; r < rows; r++ {
		gemvF16x4AVX512(k, &w[r*ldw], 0, &x[0], &t[0], streamPrefetch) // one row, four times
		out[r] = t[0]
	}
}

// ropeAdjA and ropeNeoxA rotate one head with the AVX kernels (twin:
// rope.apply's loop).
func ropeAdjA(x, cs []float32, inverse bool) {
	_ = cs[len(x)-1]
	ropeAdjAVX(len(x), &x[0], &cs[0], inverse)
}

func ropeNeoxA(x, cs []float32, inverse bool) {
	_ = cs[len(x)-1]
	ropeNeoxAVX(len(x)/2, &x[0], &cs[0], inverse)
}

// ropeAdjA512 and ropeNeoxA512 are ropeAdjA and ropeNeoxA with the AVX-512
// kernels where the length allows (16 floats, or 16 pairs, at a time).
func ropeAdjA512(x, cs []float32, inverse bool) {
	if len(x)%16 != 0 {
		ropeAdjA(x, cs, inverse)
		return
	}
	_ = cs[len(x)-1]
	ropeAdjAVX512(len(x), &x[0], &cs[0], inverse)
}

// ropeRowsA512 rotates the head vectors rows[k·stride:] (k < len(pos)) by
// the rows pos[k]−first of page with the AVX-512 rows kernels, or reports
// false where they do not fit (dims not a multiple of 16, or of 32 for
// NEOX pairs). The caller has checked that every row and table row lies
// within rows and page.
func ropeRowsA512(neox bool, rows []float32, stride int, page []float32, pos []int32, first, dims int, inverse bool) bool {
	if len(pos) == 0 {
		return true
	}
	switch {
	case neox && dims%32 == 0:
		ropeNeoxRowsAVX512(&rows[0], stride, &page[0], &pos[0], len(pos), first, dims, inverse)
	case !neox && dims%16 == 0:
		ropeAdjRowsAVX512(&rows[0], stride, &page[0], &pos[0], len(pos), first, dims, inverse)
	default:
		return false
	}
	return true
}

func ropeNeoxA512(x, cs []float32, inverse bool) {
	if len(x)%32 != 0 {
		ropeNeoxA(x, cs, inverse)
		return
	}
	_ = cs[len(x)-1]
	ropeNeoxAVX512(len(x)/2, &x[0], &cs[0], inverse)
}

// scaleMaxA512 is scaleMaxAVX512 over a slice (twin scaleMaxGo).
func scaleMaxA512(x []float32, scale float32) float32 {
	if len(x) == 0 {
		return negInf
	}
	return scaleMaxAVX512(len(x), &x[0], scale)
}

// q4kA512 dequantizes Q4_K blocks with q4kDeq512 (the same bits as q4kA).
func q4kA512(dst []float32, src []byte) {
	nb := len(dst) / 256
	if nb > 0 {
		_ = src[:nb*144]
		q4kDeq512(nb, &src[0], &dst[0])
	}
}

// roundQ8KA is roundQ8KAVX2 over slices (twin roundQ8KGo).
func roundQ8KA(x, dst []float32) {
	nb := len(x) / 256
	dst = dst[:len(x)]
	if nb > 0 {
		roundQ8KAVX2(nb, &x[0], &dst[0])
	}
}

// roundQ8KA512 is roundQ8KAVX512 over slices (twin roundQ8KGo).
func roundQ8KA512(x, dst []float32) {
	nb := len(x) / 256
	dst = dst[:len(x)]
	if nb > 0 {
		roundQ8KAVX512(nb, &x[0], &dst[0])
	}
}

// q80Q80Rows512A is q80Q80Rows512 over slices (twin q80Q80Rows512Go).
func q80Q80Rows512A(k int, w []byte, ldw, rows int, a *q8Acts, out []float32) {
	nb := k / 32
	if nb == 0 || rows == 0 {
		clear(out[:rows])
		return
	}
	_ = w[(rows-1)*ldw : (rows-1)*ldw+nb*34]
	_ = a.q16[:nb*32]
	_ = a.d[:nb]
	_ = out[:rows]
	q80Q80Rows512(nb, &w[0], ldw, rows, &a.q16[0], &a.d[0], &out[0], streamPrefetch)
}

func q80Q80RowsA(k int, w []byte, ldw, rows int, a *q8Acts, out []float32) {
	nb := k / 32
	if nb == 0 || rows == 0 {
		clear(out[:rows])
		return
	}
	_ = w[(rows-1)*ldw : (rows-1)*ldw+nb*34]
	_ = a.q[:nb*32]
	_ = a.d[:nb]
	_ = out[:rows]
	q80Q80RowsAVX(nb, &w[0], ldw, rows, &a.q[0], &a.d[0], &out[0], streamPrefetch)
}
