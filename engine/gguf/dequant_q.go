package gguf

// Kernels for the 32-element block types (ggml-common.h):
//
//	Q4_0  d f16 | qs[16]              x = d·(q−8),  q 4-bit
//	Q4_1  d f16, m f16 | qs[16]       x = d·q + m,  q 4-bit
//	Q5_0  d f16 | qh[4] | qs[16]      x = d·(q−16), q 5-bit
//	Q5_1  d f16, m f16 | qh[4] | qs   x = d·q + m,  q 5-bit
//	Q8_0  d f16 | qs[32] int8         x = d·q
//
// In the 4- and 5-bit types byte j of qs holds element j in its low nibble and
// element j+16 in its high nibble; bit j of the little-endian uint32 qh is the
// fifth bit of element j (bits 16..31 for elements 16..31).

// Lookup tables replace integer-to-float conversions in the kernels (a load
// is cheaper than CVTSI2SS on amd64); every entry is a small exact integer,
// so results are identical to converting.
var (
	// i8Float[b] = float32(int8(b)).
	i8Float = func() (t [256]float32) {
		for i := range t {
			t[i] = float32(int8(i))
		}
		return t
	}()
	// nibFloat[b] = {low nibble, high nibble} of b.
	nibFloat = func() (t [256][2]float32) {
		for i := range t {
			t[i] = [2]float32{float32(i & 15), float32(i >> 4)}
		}
		return t
	}()
	// nibFloat8[b] = {low nibble − 8, high nibble − 8} of b.
	nibFloat8 = func() (t [256][2]float32) {
		for i := range t {
			t[i] = [2]float32{float32(i&15 - 8), float32(i>>4 - 8)}
		}
		return t
	}()
	// smallFloat[i] = float32(i) for 0 ≤ i < 64.
	smallFloat = func() (t [64]float32) {
		for i := range t {
			t[i] = float32(i)
		}
		return t
	}()
)

// dequantQ4_0 decodes Q4_0 blocks: x = d·(q−8).
func dequantQ4_0(src []byte, dst []float32) {
	tab := &nibFloat8
	for len(src) >= 18 {
		b := (*[18]byte)(src)
		y := (*[32]float32)(dst)
		d := le16(b[0], b[1])
		q := (*[16]byte)(b[2:])
		for j := 0; j < 16; j += 4 {
			p0, p1, p2, p3 := &tab[q[j]], &tab[q[j+1]], &tab[q[j+2]], &tab[q[j+3]]
			y[j] = p0[0] * d
			y[j+1] = p1[0] * d
			y[j+2] = p2[0] * d
			y[j+3] = p3[0] * d
			y[j+16] = p0[1] * d
			y[j+17] = p1[1] * d
			y[j+18] = p2[1] * d
			y[j+19] = p3[1] * d
		}
		src, dst = src[18:], dst[32:]
	}
}

// dequantQ4_1 decodes Q4_1 blocks: x = d·q + m.
func dequantQ4_1(src []byte, dst []float32) {
	tab := &nibFloat
	for len(src) >= 20 {
		b := (*[20]byte)(src)
		y := (*[32]float32)(dst)
		d, m := le16(b[0], b[1]), le16(b[2], b[3])
		q := (*[16]byte)(b[4:])
		for j := 0; j < 16; j += 2 {
			p0, p1 := &tab[q[j]], &tab[q[j+1]]
			y[j] = float32(p0[0]*d) + m
			y[j+1] = float32(p1[0]*d) + m
			y[j+16] = float32(p0[1]*d) + m
			y[j+17] = float32(p1[1]*d) + m
		}
		src, dst = src[20:], dst[32:]
	}
}

// dequantQ5_0 decodes Q5_0 blocks: x = d·(q−16), the fifth bit of q from qh.
func dequantQ5_0(src []byte, dst []float32) {
	tab := &smallFloat
	for len(src) >= 22 {
		b := (*[22]byte)(src)
		y := (*[32]float32)(dst)
		d := le16(b[0], b[1])
		qh := uint32(b[2]) | uint32(b[3])<<8 | uint32(b[4])<<16 | uint32(b[5])<<24
		q := (*[16]byte)(b[6:])
		for j := 0; j < 16; j++ { // qh is shifted right once per element
			lo := uint32(q[j]&15) | qh&1<<4
			hi := uint32(q[j]>>4) | qh>>16&1<<4
			y[j] = (tab[lo&31] - 16) * d
			y[j+16] = (tab[hi&31] - 16) * d
			qh >>= 1
		}
		src, dst = src[22:], dst[32:]
	}
}

// dequantQ5_1 decodes Q5_1 blocks: x = d·q + m, the fifth bit of q from qh.
func dequantQ5_1(src []byte, dst []float32) {
	tab := &smallFloat
	for len(src) >= 24 {
		b := (*[24]byte)(src)
		y := (*[32]float32)(dst)
		d, m := le16(b[0], b[1]), le16(b[2], b[3])
		qh := uint32(b[4]) | uint32(b[5])<<8 | uint32(b[6])<<16 | uint32(b[7])<<24
		q := (*[16]byte)(b[8:])
		for j := 0; j < 16; j++ { // qh is shifted right once per element
			lo := uint32(q[j]&15) | qh&1<<4
			hi := uint32(q[j]>>4) | qh>>16&1<<4
			y[j] = float32(tab[lo&31]*d) + m
			y[j+16] = float32(tab[hi&31]*d) + m
			qh >>= 1
		}
		src, dst = src[24:], dst[32:]
	}
}

// dequantQ8_0 decodes Q8_0 blocks: x = d·q.
func dequantQ8_0(src []byte, dst []float32) {
	tab := &i8Float
	for len(src) >= 34 {
		b := (*[34]byte)(src)
		y := (*[32]float32)(dst)
		d := le16(b[0], b[1])
		q := (*[32]byte)(b[2:])
		for j := 0; j < 32; j += 8 {
			y[j] = tab[q[j]] * d
			y[j+1] = tab[q[j+1]] * d
			y[j+2] = tab[q[j+2]] * d
			y[j+3] = tab[q[j+3]] * d
			y[j+4] = tab[q[j+4]] * d
			y[j+5] = tab[q[j+5]] * d
			y[j+6] = tab[q[j+6]] * d
			y[j+7] = tab[q[j+7]] * d
		}
		src, dst = src[34:], dst[32:]
	}
}
