package engine

import (
	"math"

	"nexusquant/engine/gguf"
)

// Plain Go twins of the assembly kernels (matmul_amd64.s, gemm512_amd64.s).
// Their loops are the kernels' specification; matmul_test.go and
// gemm512_test.go check each fast kernel against its twin, and they run
// wherever the assembly cannot (other architectures, CPUs without
// AVX2+FMA+F16C).

// gemm4x2Go sets out[i*ldo+r] = Σ_{j<k} w[r*ldw+j]·x[i*ldx+j] for r < 4, i < 2:
// four weight rows against two activation rows.
func gemm4x2Go(k int, w []float32, ldw int, x []float32, ldx int, out []float32, ldo int) {
	for i := 0; i < 2; i++ {
		gemm4x1Go(k, w, ldw, x[i*ldx:], out[i*ldo:])
	}
}

// gemm4x3Go is gemm4x2Go for three activation rows.
func gemm4x3Go(k int, w []float32, ldw int, x []float32, ldx int, out []float32, ldo int) {
	for i := 0; i < 3; i++ {
		gemm4x1Go(k, w, ldw, x[i*ldx:], out[i*ldo:])
	}
}

// gemm4x1Go sets out[r] = Σ_{j<k} w[r*ldw+j]·x[j] for r < 4.
func gemm4x1Go(k int, w []float32, ldw int, x []float32, out []float32) {
	for r := 0; r < 4; r++ {
		out[r] = dotGo(w[r*ldw:r*ldw+k], x[:k])
	}
}

// gemm4x4L16Go sets out[i*ldo+r] = dotL16Go(w[r*ldw:r*ldw+k], x[i*ldx:]) for
// r < 4, i < 4: the twin of the AVX-512 4×4 kernel.
func gemm4x4L16Go(k int, w []float32, ldw int, x []float32, ldx int, out []float32, ldo int) {
	for i := 0; i < 4; i++ {
		gemm4x1L16Go(k, w, ldw, x[i*ldx:], out[i*ldo:])
	}
}

// gemm4x1L16Go sets out[r] = dotL16Go(w[r*ldw:r*ldw+k], x) for r < 4.
func gemm4x1L16Go(k int, w []float32, ldw int, x []float32, out []float32) {
	for r := 0; r < 4; r++ {
		out[r] = dotL16Go(w[r*ldw:r*ldw+k], x[:k])
	}
}

// dotL16Go returns Σ a[j]·b[j] over len(a) elements in the AVX-512 kernels'
// order: 16 lanes, lane l accumulating elements l, l+16, … by fused
// multiply-add (a last, partial step adds 0·0 in the lanes past the end),
// then the lanes reduced by reduce16.
func dotL16Go(a, b []float32) float32 {
	var l [16]float32
	b = b[:len(a)]
	n := (len(a) + 15) &^ 15
	for j := 0; j < n; j++ {
		var p, q float32
		if j < len(a) {
			p, q = a[j], b[j]
		}
		l[j&15] = fmaF32(p, q, l[j&15])
	}
	return reduce16(&l)
}

// fmaF32 is a·b+c rounded once to float32, as VFMADD231PS rounds it. The
// product is exact in float64; the float64 sum is made round-to-odd (its
// last bit set when the sum was inexact and the bit is clear), which, with
// 29 bits to spare, makes the final rounding to float32 the correct one
// even where a plain float64 sum would round twice the wrong way.
func fmaF32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	cd := float64(c)
	s := p + cd
	bv := s - p
	e := (p - (s - bv)) + (cd - bv) // s + e = p + c exactly (TwoSum)
	if e != 0 && !math.IsNaN(e) {   // inexact, and finite
		if bits := math.Float64bits(s); bits&1 == 0 {
			if (e > 0) == (s > 0) {
				bits++ // away from zero, toward p+c
			} else {
				bits--
			}
			s = math.Float64frombits(bits)
		}
	}
	return float32(s)
}

// dotGo returns Σ a[j]·b[j] over len(a) elements.
func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s float32
	for j, v := range a {
		s += v * b[j]
	}
	return s
}

// axpyGo adds alpha·x to y over len(x) elements.
func axpyGo(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for j, v := range x {
		y[j] += alpha * v
	}
}

// f16Go converts the IEEE half floats in src (little-endian, 2 bytes each) to
// dst, len(dst) values.
func f16Go(dst []float32, src []byte) {
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = gguf.F16ToF32(uint16(src[2*i]) | uint16(src[2*i+1])<<8)
	}
}

// q80Go dequantizes Q8_0 blocks (a float16 scale d, then 32 int8 q) into dst:
// x = d·q. len(dst) is a multiple of 32.
func q80Go(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		blk := src[b*34 : b*34+34]
		d := gguf.F16ToF32(uint16(blk[0]) | uint16(blk[1])<<8)
		out := dst[b*32 : b*32+32]
		for i := range out {
			out[i] = d * float32(int8(blk[2+i]))
		}
	}
}

// gemvF16Go sets out[r] = Σ_{j<k} half(w[r*ldw+2j:])·x[j] for r < 4 (ldw in
// bytes; with ldw 0 all four are row 0).
func gemvF16Go(k int, w []byte, ldw int, x []float32, out []float32) {
	for r := 0; r < 4; r++ {
		row := w[r*ldw : r*ldw+2*k]
		var s float32
		for j := 0; j < k; j++ {
			s += gguf.F16ToF32(uint16(row[2*j])|uint16(row[2*j+1])<<8) * x[j]
		}
		out[r] = s
	}
}

func gemvF16RowsGo(k int, w []byte, ldw, rows int, x []float32, out []float32) {
	r := 0
	for ; r+4 <= rows; r += 4 {
		gemvF16Go(k, w[r*ldw:], ldw, x, out[r:])
	}
	for ; r < rows; r++ {
		var o [4]float32
		gemvF16Go(k, w[r*ldw:], 0, x, o[:])
		out[r] = o[0]
	}
}

func q80GemvRowsGo(k int, w []byte, ldw, rows int, x []float32, out []float32) {
	gemvDequantGo(k, k/32*34, q80Go, w, ldw, rows, x, out)
}

func q4kGemvRowsGo(k int, w []byte, ldw, rows int, x []float32, out []float32) {
	gemvDequantGo(k, k/256*144, q4kGo, w, ldw, rows, x, out)
}

func q6kGemvRowsGo(k int, w []byte, ldw, rows int, x []float32, out []float32) {
	gemvDequantGo(k, k/256*210, q6kGo, w, ldw, rows, x, out)
}

// gemvDequantGo sets out[r] = deq(row r)·x for r < rows (rows of rb bytes,
// ldw apart, k values each), exactly as dequantizing into a tile and mulTile
// with the Go kernels do: groups of four rows by gemm4x1Go, the rest by dotGo.
func gemvDequantGo(k, rb int, deq func(dst []float32, src []byte), w []byte, ldw, rows int, x []float32, out []float32) {
	tile := make([]float32, 4*k)
	r := 0
	for ; r+4 <= rows; r += 4 {
		for i := 0; i < 4; i++ {
			deq(tile[i*k:(i+1)*k], w[(r+i)*ldw:(r+i)*ldw+rb])
		}
		gemm4x1Go(k, tile, k, x, out[r:])
	}
	for ; r < rows; r++ {
		deq(tile[:k], w[r*ldw:r*ldw+rb])
		out[r] = dotGo(tile[:k], x[:k])
	}
}

// intRowsGo sets out[r] = dot(row r, a) for r < rows: each quantized row of
// k values (ldw bytes apart) unpacked to integers, then dotted with the
// activations by one of the dot…Lanes / dot…L16 twins below.
func intRowsGo[A any](typ gguf.Type, k int, w []byte, ldw, rows int, a A, out []float32, dot func(*intRow, A) float32) {
	var ir intRow
	for r := 0; r < rows; r++ {
		unpackRow(typ, k, w[r*ldw:], &ir)
		out[r] = dot(&ir, a)
	}
}

// q4kQ8KRowsGo sets out[r] for r < rows to Q4_K row r (k values, ldw bytes
// apart) · the Q8_K activations a, with integer sums per block and
// llama.cpp's float steps in its order (dotQ4KLanes).
func q4kQ8KRowsGo(k int, w []byte, ldw, rows int, a *q8kActs, out []float32) {
	intRowsGo(gguf.Q4_K, k, w, ldw, rows, a, out, dotQ4KLanes)
}

// gemvF16RowsL16Go is the twin of gemvF16RowsA512: each row converted from
// float16 and summed with x as dotL16Go sums it.
func gemvF16RowsL16Go(k int, w []byte, ldw, rows int, x []float32, out []float32) {
	row := make([]float32, k)
	for r := 0; r < rows; r++ {
		f16Go(row, w[r*ldw:r*ldw+2*k])
		out[r] = dotL16Go(row, x[:k])
	}
}

// pvAccGo is the twin of pvAccA512: acc[i*ldacc+j] += Σ_r
// s[i*lds+r]·v[r*ldv+j], one FMA per term in order of r.
func pvAccGo(rows, d, used int, s []float32, lds int, v []float32, ldv int, acc []float32, ldacc int) {
	for i := 0; i < rows; i++ {
		a, si := acc[i*ldacc:i*ldacc+d], s[i*lds:i*lds+used]
		for r, w := range si {
			vr := v[r*ldv : r*ldv+d]
			for j := range a {
				a[j] = fmaF32(w, vr[j], a[j])
			}
		}
	}
}

// q4kQ8KRows512Go is the twin of the AVX-512 Q4_K decode kernel
// (q4kQ8KRows512): dotQ4KL16 per row.
func q4kQ8KRows512Go(k int, w []byte, ldw, rows int, a *q8kActs, out []float32) {
	intRowsGo(gguf.Q4_K, k, w, ldw, rows, a, out, dotQ4KL16)
}

// dotQ4KL16 is a Q4_K row times Q8_K activations in 16 lanes
// (q4k512_amd64.s): per super-block, lane L < 8 holds the exact integer sum
// of sc_s × (elements 4L…4L+3 of sub-block s) over s = 0, 1, 4, 5, lane
// L ≥ 8 the same for element group L−8 of s = 2, 3, 6, 7; each lane is folded
// in by one FMA with d_w·d_a, the eight m_j·bsum_j by FMA with dmin_w·d_a.
// The result is reduce16 of the first minus hsum8 of the second.
func dotQ4KL16(w *intRow, a *q8kActs) float32 {
	var acc [16]float32
	var accm [8]float32
	for b := range a.d {
		d := w.d[b] * a.d[b]
		dmin := w.dmin[b] * a.d[b]
		sc, mn, bs := w.sc[b*8:b*8+8], w.mn[b*8:b*8+8], a.bsum[b*8:b*8+8]
		for j := range accm {
			accm[j] = fmaF32(float32(mn[j]*bs[j]), dmin, accm[j])
		}
		var sumi [16]int32
		for s := 0; s < 8; s++ {
			p := lanes32(w.q[b*256+s*32:], a.q[b*256+s*32:])
			half := 8 * (s >> 1 & 1)
			for l := range p {
				sumi[half+l] += sc[s] * p[l]
			}
		}
		for L := range acc {
			acc[L] = fmaF32(float32(sumi[L]), d, acc[L])
		}
	}
	return reduce16(&acc) - hsum8(&accm)
}

// q6kQ8KRows512Go is the twin of the AVX-512 Q6_K decode kernel
// (q6kQ8KRows512): dotQ6KL16 per row.
func q6kQ8KRows512Go(k int, w []byte, ldw, rows int, a *q8kActs, out []float32) {
	intRowsGo(gguf.Q6_K, k, w, ldw, rows, a, out, dotQ6KL16)
}

// dotQ6KL16 is a Q6_K row times Q8_K activations in 16 lanes
// (q6k512_amd64.s): per super-block, lane L holds the exact integer sum over
// the four 64-element runs r of sc_g × (q+32)·a for elements 64r+4L…64r+4L+3
// (g their 16-element group), less, in lanes j < 8, 32·(sc_2j·bsum16_2j +
// sc_2j+1·bsum16_2j+1); each lane is folded in by one FMA with d_w·d_a, then
// reduce16.
func dotQ6KL16(w *intRow, a *q8kActs) float32 {
	var acc [16]float32
	for b := range a.d {
		d := w.d[b] * a.d[b]
		sc, bs := w.sc[b*16:b*16+16], a.bsum16[b*16:b*16+16]
		var sumi [16]int32
		for e := 0; e < 256; e++ {
			sumi[e%64/4] += sc[e/16] * (int32(w.q[b*256+e]) + 32) * int32(a.q[b*256+e])
		}
		for j := 0; j < 8; j++ {
			sumi[j] -= 32 * (sc[2*j]*int32(bs[2*j]) + sc[2*j+1]*int32(bs[2*j+1]))
		}
		for L := range acc {
			acc[L] = fmaF32(float32(sumi[L]), d, acc[L])
		}
	}
	return reduce16(&acc)
}

// q6kQ8KRowsL8Go is the twin of the AVX2 Q6_K decode kernel
// (q6kQ8KRowsAVX2): dotQ6KL8 per row.
func q6kQ8KRowsL8Go(k int, w []byte, ldw, rows int, a *q8kActs, out []float32) {
	intRowsGo(gguf.Q6_K, k, w, ldw, rows, a, out, dotQ6KL8)
}

// dotQ6KL8 is a Q6_K row times Q8_K activations in 8 lanes
// (q6kavx2_amd64.s): per super-block, lane L holds the exact integer sum
// over the eight 32-element chunks c of sc_g × (q+32)·a for elements
// 32c+4L…32c+4L+3 (g their 16-element group), less 32·(sc_2L·bsum16_2L +
// sc_2L+1·bsum16_2L+1); each lane is folded in by one FMA with d_w·d_a,
// then hsum8.
func dotQ6KL8(w *intRow, a *q8kActs) float32 {
	var acc [8]float32
	for b := range a.d {
		d := w.d[b] * a.d[b]
		sc, bs := w.sc[b*16:b*16+16], a.bsum16[b*16:b*16+16]
		var sumi [8]int32
		for e := 0; e < 256; e++ {
			sumi[e%32/4] += sc[e/16] * (int32(w.q[b*256+e]) + 32) * int32(a.q[b*256+e])
		}
		for j := range sumi {
			sumi[j] -= 32 * (sc[2*j]*int32(bs[2*j]) + sc[2*j+1]*int32(bs[2*j+1]))
		}
		for L := range acc {
			acc[L] = fmaF32(float32(sumi[L]), d, acc[L])
		}
	}
	return hsum8(&acc)
}

// q80Q80Rows512Go is the twin of the AVX-512 Q8_0 decode kernel
// (q80Q80Rows512): dotQ80L16 per row.
func q80Q80Rows512Go(k int, w []byte, ldw, rows int, a *q8Acts, out []float32) {
	intRowsGo(gguf.Q8_0, k, w, ldw, rows, a, out, dotQ80L16)
}

// dotQ80L16 is a Q8_0 row times Q8_0 activations in 16 lanes
// (q80512_amd64.s): lane L of block b adds the exact w[2L]·a[2L] +
// w[2L+1]·a[2L+1] by one FMA with d_w·d_a, into one accumulator for even
// blocks and another for odd ones; the result is reduce16 of their sum.
func dotQ80L16(w *intRow, a *q8Acts) float32 {
	var acc [2][16]float32
	for b := range a.d {
		d := w.d[b] * a.d[b]
		q, y := w.q[b*32:b*32+32], a.q[b*32:b*32+32]
		for L := 0; L < 16; L++ {
			p := int32(q[2*L])*int32(y[2*L]) + int32(q[2*L+1])*int32(y[2*L+1])
			acc[b%2][L] = fmaF32(float32(p), d, acc[b%2][L])
		}
	}
	var sum [16]float32
	for L := range sum {
		sum[L] = acc[0][L] + acc[1][L]
	}
	return reduce16(&sum)
}

// q80Q80RowsGo is the same for Q8_0 rows and Q8_0 activations
// (ggml_vec_dot_q8_0_q8_0: dotQ0Lanes).
func q80Q80RowsGo(k int, w []byte, ldw, rows int, a *q8Acts, out []float32) {
	intRowsGo(gguf.Q8_0, k, w, ldw, rows, a, out, dotQ0Lanes)
}
