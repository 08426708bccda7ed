package engine

import (
	"fmt"

	"nexusquant/engine/gguf"
)

// Weight products in Model.Exact mode: each output is computed with the
// operations, lane layout and summation order of the kernel llama.cpp's CPU
// backend (x86, AVX2 + FMA + F16C build, its defaults) runs for that weight
// type and batch size:
//
//   - F32/F16: the activations rounded to the weight's type; one token:
//     ggml_vec_dot_f16/f32 (dotVec); a batch: llamafile's tinyBLAS (dotTiny).
//   - Q8_0: Q8_0 activations; per block an exact integer sum in each of 8
//     lanes of 4 products, folded in by FMA with the block's scale product,
//     then hsum8 (ggml_vec_dot_q8_0_q8_0 and tinyBLAS_Q0 agree bit for bit).
//   - Q4_0: with a multiple of 8 rows llama.cpp repacks the weights
//     (q4_0_8x8): one integer sum per block, folded in by FMA; otherwise like
//     Q8_0. A tied output (token_embd) is never repacked.
//   - Q4_K, Q6_K: Q8_K activations; ggml_vec_dot_q4_K_q8_K /
//     ggml_vec_dot_q6_K_q8_K: per super-block integer sums in 8 lanes, one
//     FMA each with d, Q4_K's minimums in a separate 4-lane accumulator.
//
// Other types fall back to the default path (rounded activations, float32
// sums in our own order).

// exactRows is how many output rows one unit of work covers.
const exactRows = 32

// exactMul runs the jobs with llama.cpp's arithmetic.
func exactMul(ks *kernelSet, n int, jobs ...mulJob) error {
	for _, jb := range jobs {
		if len(jb.x) < n*jb.w.cols || len(jb.out) < n*jb.w.rows {
			return fmt.Errorf("engine: product with %s: %d activations and %d outputs for %d rows", jb.w.name, len(jb.x), len(jb.out), n)
		}
		var err error
		switch jb.w.typ {
		case gguf.F32, gguf.F16:
			err = exactMulFloat(ks, n, jb)
		case gguf.Q8_0, gguf.Q4_0:
			exactMulQ0(ks, n, jb)
		case gguf.Q4_K, gguf.Q6_K:
			exactMulK(ks, n, jb)
		default:
			err = mul(ks, n, true, jb)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// forRows runs fn over units of up to exactRows output rows of w on all
// workers.
func forRows(w *matrix, fn func(r0, r1 int)) {
	units := (w.rows + exactRows - 1) / exactRows
	parallel(units, Threads(), func(_, u int) {
		fn(u*exactRows, min((u+1)*exactRows, w.rows))
	})
}

func exactMulFloat(ks *kernelSet, n int, jb mulJob) error {
	w, k := jb.w, jb.w.cols
	x := make([]float32, n*k)
	copy(x, jb.x[:n*k])
	if w.typ == gguf.F16 {
		for i, v := range x {
			x[i] = round16(v)
		}
	}
	tiny := n >= 2 && k%tinyK == 0 && w.rows%4 == 0
	errs := make([]error, (w.rows+exactRows-1)/exactRows)
	forRows(w, func(r0, r1 int) {
		rows := make([]float32, (r1-r0)*k)
		if err := w.dequant(ks, r0, r1, rows); err != nil {
			errs[r0/exactRows] = err
			return
		}
		for i := 0; i < n; i++ {
			xi := x[i*k : (i+1)*k]
			for r := r0; r < r1; r++ {
				row := rows[(r-r0)*k : (r-r0+1)*k]
				var s float32
				if tiny {
					s = dotTiny(row, xi)
				} else {
					s = dotVec(row, xi, w.typ == gguf.F32)
				}
				jb.out[i*w.rows+r] = s
			}
		}
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func exactMulQ0(ks *kernelSet, n int, jb mulJob) {
	w, k := jb.w, jb.w.cols
	acts := make([]*q8Acts, n)
	for i := range acts {
		acts[i] = quantQ80(jb.x[i*k : (i+1)*k])
	}
	repacked := w.typ == gguf.Q4_0 && w.rows%8 == 0 && w.name != "token_embd.weight"
	forRows(w, func(r0, r1 int) {
		if w.typ == gguf.Q8_0 { // the decode kernel computes exactly this
			for i, a := range acts {
				ks.q80Q80(k, w.data[r0*w.rowBytes:], w.rowBytes, r1-r0, a, jb.out[i*w.rows+r0:i*w.rows+r1])
			}
			return
		}
		rows := unpackRows(w, r0, r1)
		for i, a := range acts {
			for r := r0; r < r1; r++ {
				if repacked {
					jb.out[i*w.rows+r] = dotQ40Repacked(&rows[r-r0], a)
				} else {
					jb.out[i*w.rows+r] = dotQ0Lanes(&rows[r-r0], a)
				}
			}
		}
	})
}

func exactMulK(ks *kernelSet, n int, jb mulJob) {
	w, k := jb.w, jb.w.cols
	acts := make([]*q8kActs, n)
	for i := range acts {
		acts[i] = quantQ8K(jb.x[i*k : (i+1)*k])
	}
	forRows(w, func(r0, r1 int) {
		if w.typ == gguf.Q4_K { // the decode kernel computes exactly this
			for i, a := range acts {
				ks.q4kQ8K(k, w.data[r0*w.rowBytes:], w.rowBytes, r1-r0, a, jb.out[i*w.rows+r0:i*w.rows+r1])
			}
			return
		}
		rows := unpackRows(w, r0, r1) // Q6_K
		for i, a := range acts {
			for r := r0; r < r1; r++ {
				jb.out[i*w.rows+r] = dotQ6KLanes(&rows[r-r0], a)
			}
		}
	})
}

func f16At(b []byte) float32 { return gguf.F16ToF32(uint16(b[0]) | uint16(b[1])<<8) }

// intRow is one weight row unpacked for the integer kernels, so that a batch
// unpacks each row once: the quants in element order (Q8_0/Q4_0 signed,
// Q4_K 0..15, Q6_K q−32) and each block's factors.
type intRow struct {
	q       []int8
	d, dmin []float32 // per block; dmin for Q4_K
	sc, mn  []int32   // Q4_K: 8 scales and 8 minimums per block; Q6_K: 16 scales
}

// unpackRows unpacks rows [r0, r1) of a Q8_0, Q4_0, Q4_K or Q6_K matrix.
func unpackRows(w *matrix, r0, r1 int) []intRow {
	rows := make([]intRow, r1-r0)
	for r := r0; r < r1; r++ {
		unpackRow(w.typ, w.cols, w.data[r*w.rowBytes:(r+1)*w.rowBytes], &rows[r-r0])
	}
	return rows
}

// grow32 returns s with length n, reusing its array when large enough.
func grow32[T int32 | float32 | int8](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// unpackRow unpacks one row of cols values of type typ into ir, reusing its
// slices.
func unpackRow(typ gguf.Type, cols int, src []byte, ir *intRow) {
	ir.q = grow32(ir.q, cols)
	switch typ {
	case gguf.Q8_0, gguf.Q4_0:
		nb := cols / 32
		ir.d = grow32(ir.d, nb)
		for b := 0; b < nb; b++ {
			ir.d[b] = q0Block(typ, src, b, (*[32]int8)(ir.q[b*32:]))
		}
	case gguf.Q4_K:
		nb := cols / 256
		ir.d, ir.dmin = grow32(ir.d, nb), grow32(ir.dmin, nb)
		ir.sc, ir.mn = grow32(ir.sc, nb*8), grow32(ir.mn, nb*8)
		for b := 0; b < nb; b++ {
			blk := src[b*144 : b*144+144]
			ir.d[b], ir.dmin[b] = f16At(blk[0:]), f16At(blk[2:])
			for j := 0; j < 8; j++ {
				ir.sc[b*8+j], ir.mn[b*8+j] = q4kScaleMin(blk[4:16], j)
			}
			qs, q := blk[16:144], ir.q[b*256:]
			for j := 0; j < 4; j++ {
				for e := 0; e < 32; e++ {
					q[64*j+e] = int8(qs[32*j+e] & 15)
					q[64*j+32+e] = int8(qs[32*j+e] >> 4)
				}
			}
		}
	case gguf.Q6_K:
		nb := cols / 256
		ir.d, ir.sc = grow32(ir.d, nb), grow32(ir.sc, nb*16)
		for b := 0; b < nb; b++ {
			blk := src[b*210 : b*210+210]
			ql, qh := blk[0:128], blk[128:192]
			ir.d[b] = f16At(blk[208:])
			for j := 0; j < 16; j++ {
				ir.sc[b*16+j] = int32(int8(blk[192+j]))
			}
			q := ir.q[b*256:]
			for j := 0; j < 2; j++ {
				for e := 0; e < 32; e++ {
					h := qh[32*j+e]
					q[128*j+e] = int8(ql[64*j+e]&15|(h&3)<<4) - 32
					q[128*j+32+e] = int8(ql[64*j+32+e]&15|(h>>2&3)<<4) - 32
					q[128*j+64+e] = int8(ql[64*j+e]>>4|(h>>4&3)<<4) - 32
					q[128*j+96+e] = int8(ql[64*j+32+e]>>4|(h>>6)<<4) - 32
				}
			}
		}
	}
}

// q0Block unpacks one Q8_0 or Q4_0 block into its scale and 32 signed quants.
func q0Block(typ gguf.Type, row []byte, b int, q *[32]int8) float32 {
	if typ == gguf.Q8_0 {
		blk := row[b*34 : b*34+34]
		for j := range q {
			q[j] = int8(blk[2+j])
		}
		return f16At(blk)
	}
	blk := row[b*18 : b*18+18]
	for j := 0; j < 16; j++ {
		q[j] = int8(blk[2+j]&15) - 8
		q[j+16] = int8(blk[2+j]>>4) - 8
	}
	return f16At(blk)
}

// lanes32 returns, for a 32-element chunk, the exact sum of the four
// products q·y at 4L..4L+3 for each lane L: the int32 lanes of ggml's
// 256-bit integer dot products.
func lanes32(q, y []int8) (s [8]int32) {
	q, y = q[:32], y[:32]
	for L := range s {
		e := 4 * L
		s[L] = int32(q[e])*int32(y[e]) + int32(q[e+1])*int32(y[e+1]) +
			int32(q[e+2])*int32(y[e+2]) + int32(q[e+3])*int32(y[e+3])
	}
	return s
}

// dotQ0Lanes is ggml_vec_dot_q8_0_q8_0 / _q4_0_q8_0 (AVX2): lane L of block
// b adds the exact sum of elements 4L..4L+3 times d_w·d_a by FMA, then hsum8.
func dotQ0Lanes(w *intRow, a *q8Acts) float32 {
	var l [8]float32
	for b := range a.d {
		d := w.d[b] * a.d[b]
		s := lanes32(w.q[b*32:], a.q[b*32:])
		for L := range l {
			l[L] = fma32(d, float32(s[L]), l[L])
		}
	}
	return hsum8(&l)
}

// dotQ40Repacked is ggml_gemv/gemm_q4_0_8x8_q8_0: one exact sum per block,
// acc = fma(sum, d_w·d_a, acc).
func dotQ40Repacked(w *intRow, a *q8Acts) float32 {
	var acc float32
	for b := range a.d {
		qw, qa := w.q[b*32:b*32+32], a.q[b*32:b*32+32]
		var s int32
		for j, v := range qw {
			s += int32(v) * int32(qa[j])
		}
		acc = fma32(float32(s), w.d[b]*a.d[b], acc)
	}
	return acc
}

// q4kScaleMin is Q4_K's 6-bit scale and minimum of sub-block j.
func q4kScaleMin(sc []byte, j int) (int32, int32) {
	if j < 4 {
		return int32(sc[j] & 63), int32(sc[j+4] & 63)
	}
	return int32(sc[j+4]&0xF | (sc[j-4]>>6)<<4), int32(sc[j+4]>>4 | (sc[j]>>6)<<4)
}

// dotQ4KLanes is ggml_vec_dot_q4_K_q8_K (AVX2): per super-block the minimums
// folded into a 4-lane accumulator (pairs of sub-blocks) and the scaled
// integer sums of each 8-lane position into another, by FMA; then
// hsum8(acc) + ((m0+m2)+(m1+m3)).
func dotQ4KLanes(w *intRow, a *q8kActs) float32 {
	var acc [8]float32
	var accm [4]float32
	for b := range a.d {
		d := a.d[b] * w.d[b]
		dmin := (-a.d[b]) * w.dmin[b]
		sc, mn, bs := w.sc[b*8:b*8+8], w.mn[b*8:b*8+8], a.bsum[b*8:b*8+8]
		for k := range accm {
			accm[k] = fma32(dmin, float32(mn[2*k]*bs[2*k]+mn[2*k+1]*bs[2*k+1]), accm[k])
		}
		var sumi [8]int32
		for s := 0; s < 8; s++ {
			p := lanes32(w.q[b*256+s*32:], a.q[b*256+s*32:])
			for L := range sumi {
				sumi[L] += sc[s] * p[L]
			}
		}
		for L := range acc {
			acc[L] = fma32(d, float32(sumi[L]), acc[L])
		}
	}
	return hsum8(&acc) + ((accm[0] + accm[2]) + (accm[1] + accm[3]))
}

// dotQ6KLanes is ggml_vec_dot_q6_K_q8_K (AVX2): lane L of each 32-element
// chunk c takes the scale of its 16-element sub-block (2c + L/4); one FMA
// per lane and super-block, then hsum8.
func dotQ6KLanes(w *intRow, a *q8kActs) float32 {
	var acc [8]float32
	for b := range a.d {
		d := a.d[b] * w.d[b]
		sc := w.sc[b*16 : b*16+16]
		var sumi [8]int32
		for c := 0; c < 8; c++ {
			p := lanes32(w.q[b*256+c*32:], a.q[b*256+c*32:])
			for L := range sumi {
				sumi[L] += sc[2*c+L/4] * p[L]
			}
		}
		for L := range acc {
			acc[L] = fma32(d, float32(sumi[L]), acc[L])
		}
	}
	return hsum8(&acc)
}
