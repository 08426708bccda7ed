package engine

import "nexusquant/engine/gguf"

// Plain Go twins of the assembly kernels (matmul_amd64.s). Their loops are the
// kernels' specification; matmul_test.go checks each fast kernel against its
// twin, and they run wherever the assembly cannot (other architectures, CPUs
// without AVX2+FMA+F16C).

// gemm4x2Go sets out[i*ldo+r] = Σ_{j<k} w[r*ldw+j]·x[i*ldx+j] for r < 4, i < 2:
// four weight rows against two activation rows.
func gemm4x2Go(k int, w []float32, ldw int, x []float32, ldx int, out []float32, ldo int) {
	for i := 0; i < 2; i++ {
		gemm4x1Go(k, w, ldw, x[i*ldx:], out[i*ldo:])
	}
}

// gemm4x1Go sets out[r] = Σ_{j<k} w[r*ldw+j]·x[j] for r < 4.
func gemm4x1Go(k int, w []float32, ldw int, x []float32, out []float32) {
	for r := 0; r < 4; r++ {
		out[r] = dotGo(w[r*ldw:r*ldw+k], x[:k])
	}
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
