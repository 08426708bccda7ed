package gguf

// Kernels for the 256-element "K-quant" super-blocks (ggml-common.h), with byte
// offsets inside one block:
//
//	Q2_K  scales[16] 0 | qs[64] 16 | d f16 80 | dmin f16 82          (84 bytes)
//	Q3_K  hmask[32] 0 | qs[64] 32 | scales[12] 96 | d f16 108        (110 bytes)
//	Q4_K  d f16 0 | dmin f16 2 | scales[12] 4 | qs[128] 16           (144 bytes)
//	Q5_K  d f16 0 | dmin f16 2 | scales[12] 4 | qh[32] 16 | qs 48    (176 bytes)
//	Q6_K  ql[128] 0 | qh[64] 128 | scales[16] int8 192 | d f16 208   (210 bytes)
//
// Q4_K and Q5_K have 8 sub-blocks of 32 elements with 6-bit scales and mins
// packed into 12 bytes (unpackScaleMin); x = (d·scale)·q − dmin·min.
// Q2_K has 16 sub-blocks of 16 with a 4-bit scale (low nibble) and min (high
// nibble) per byte; Q3_K 16 sub-blocks with 6-bit signed scales; Q6_K 16
// sub-blocks with int8 scales. The element order inside the quant arrays is
// documented at each kernel.

const qkK = 256 // elements per K-quant super-block

var (
	// q6Float[u] = float32(u − 32): a 6-bit Q6_K quant's value.
	q6Float = func() (t [64]float32) {
		for i := range t {
			t[i] = float32(i - 32)
		}
		return t
	}()
	// q3Float[u] = float32(u − 4): a 3-bit Q3_K quant's value.
	q3Float = [8]float32{-4, -3, -2, -1, 0, 1, 2, 3}
)

// unpackScaleMin decodes the 12-byte Q4_K/Q5_K scale field into 8 six-bit
// scales and 8 six-bit mins: bytes 0..3 hold scales 0..3 and bytes 4..7 mins
// 0..3 in their low 6 bits; scales and mins 4..7 keep their low 4 bits in the
// nibbles of bytes 8..11 and their top 2 bits in the top bits of bytes 0..3
// (scales) and 4..7 (mins).
func unpackScaleMin(s *[12]byte) (sc, mn [8]uint8) {
	for j := 0; j < 4; j++ {
		sc[j] = s[j] & 63
		mn[j] = s[j+4] & 63
		sc[j+4] = s[j+8]&0xF | (s[j]>>6)<<4
		mn[j+4] = s[j+8]>>4 | (s[j+4]>>6)<<4
	}
	return sc, mn
}

// dequantQ4_K: qs holds four 32-byte groups; group c gives sub-block 2c
// (low nibbles) and sub-block 2c+1 (high nibbles).
func dequantQ4_K(src []byte, dst []float32) {
	for len(src) >= 144 {
		b := (*[144]byte)(src)
		y := (*[qkK]float32)(dst)
		d, dmin := le16(b[0], b[1]), le16(b[2], b[3])
		sc, mn := unpackScaleMin((*[12]byte)(b[4:16]))
		for c := 0; c < 4; c++ {
			q := (*[32]byte)(b[16+32*c:])
			lo := (*[32]float32)(y[64*c:])
			hi := (*[32]float32)(y[64*c+32:])
			d1, m1 := d*float32(sc[2*c]), dmin*float32(mn[2*c])
			d2, m2 := d*float32(sc[2*c+1]), dmin*float32(mn[2*c+1])
			for l := 0; l < 32; l += 2 {
				p0, p1 := &nibFloat[q[l]], &nibFloat[q[l+1]]
				lo[l] = float32(d1*p0[0]) - m1
				lo[l+1] = float32(d1*p1[0]) - m1
				hi[l] = float32(d2*p0[1]) - m2
				hi[l+1] = float32(d2*p1[1]) - m2
			}
		}
		src, dst = src[144:], dst[qkK:]
	}
}

// dequantQ5_K: like Q4_K, plus qh[l] bit 2c (low nibble) and bit 2c+1 (high
// nibble) give the fifth bit of element l of sub-blocks 2c and 2c+1.
func dequantQ5_K(src []byte, dst []float32) {
	for len(src) >= 176 {
		b := (*[176]byte)(src)
		y := (*[qkK]float32)(dst)
		d, dmin := le16(b[0], b[1]), le16(b[2], b[3])
		sc, mn := unpackScaleMin((*[12]byte)(b[4:16]))
		qh := (*[32]byte)(b[16:48])
		for c := 0; c < 4; c++ {
			q := (*[32]byte)(b[48+32*c:])
			lo := (*[32]float32)(y[64*c:])
			hi := (*[32]float32)(y[64*c+32:])
			d1, m1 := d*float32(sc[2*c]), dmin*float32(mn[2*c])
			d2, m2 := d*float32(sc[2*c+1]), dmin*float32(mn[2*c+1])
			shift := uint(2 * c)
			for l := 0; l < 32; l++ {
				h := qh[l] >> shift // bit 0: sub-block 2c, bit 1: 2c+1
				lo[l] = float32(d1*smallFloat[(q[l]&15|(h&1)<<4)&63]) - m1
				hi[l] = float32(d2*smallFloat[(q[l]>>4|(h&2)<<3)&63]) - m2
			}
		}
		src, dst = src[176:], dst[qkK:]
	}
}

// dequantQ6_K: each 128-element half h uses ql[64h:64h+64], qh[32h:32h+32]
// and scales[8h:8h+8]. For l in 0..31 the four quarters are
//
//	y[l]    = ql[l]    low nibble | (qh[l]>>0 & 3)<<4
//	y[l+32] = ql[l+32] low nibble | (qh[l]>>2 & 3)<<4
//	y[l+64] = ql[l]    high nibble| (qh[l]>>4 & 3)<<4
//	y[l+96] = ql[l+32] high nibble| (qh[l]>>6 & 3)<<4
//
// each minus 32, times d·scale of its 16-element sub-block.
func dequantQ6_K(src []byte, dst []float32) {
	for len(src) >= 210 {
		b := (*[210]byte)(src)
		y := (*[qkK]float32)(dst)
		d := le16(b[208], b[209])
		var ds [16]float32
		for i := range ds {
			ds[i] = d * float32(int8(b[192+i]))
		}
		for h := 0; h < 2; h++ {
			ql := (*[64]byte)(b[64*h:])
			qh := (*[32]byte)(b[128+32*h:])
			yy := (*[128]float32)(y[128*h:])
			for g := 0; g < 2; g++ { // l in [16g, 16g+16): one scale per quarter
				s0, s1, s2, s3 := ds[8*h+g], ds[8*h+g+2], ds[8*h+g+4], ds[8*h+g+6]
				for l := 16 * g; l < 16*g+16; l++ {
					a, c, hb := ql[l], ql[l+32], qh[l]
					yy[l] = s0 * q6Float[(a&15|(hb&3)<<4)&63]
					yy[l+32] = s1 * q6Float[(c&15|(hb>>2&3)<<4)&63]
					yy[l+64] = s2 * q6Float[(a>>4|(hb>>4&3)<<4)&63]
					yy[l+96] = s3 * q6Float[(c>>4|(hb>>6)<<4)&63]
				}
			}
		}
		src, dst = src[210:], dst[qkK:]
	}
}

// dequantQ2_K: each 128-element half h uses qs[32h:32h+32]; element
// 128h + 32j + l (j = 0..3, l = 0..31) is bits 2j..2j+1 of qs[32h+l], in
// sub-block (128h + 32j + l)/16.
func dequantQ2_K(src []byte, dst []float32) {
	for len(src) >= 84 {
		b := (*[84]byte)(src)
		y := (*[qkK]float32)(dst)
		d, dmin := le16(b[80], b[81]), le16(b[82], b[83])
		for h := 0; h < 2; h++ {
			q := (*[32]byte)(b[16+32*h:])
			for j := 0; j < 4; j++ {
				shift := uint(2 * j)
				yy := (*[32]float32)(y[128*h+32*j:])
				s0, s1 := b[8*h+2*j], b[8*h+2*j+1]
				d0, m0 := d*float32(s0&15), dmin*float32(s0>>4)
				d1, m1 := d*float32(s1&15), dmin*float32(s1>>4)
				for l := 0; l < 16; l++ {
					yy[l] = float32(d0*smallFloat[q[l]>>shift&3]) - m0
					yy[l+16] = float32(d1*smallFloat[q[l+16]>>shift&3]) - m1
				}
			}
		}
		src, dst = src[84:], dst[qkK:]
	}
}

// dequantQ3_K: element 128h + 32j + l takes its low 2 bits from bits 2j..2j+1
// of qs[32h+l] and its high bit from bit 4h+j of hmask[l]; the value is the
// 3-bit q minus 4 (the high bit set means "do not subtract 4"). The 16 signed
// 6-bit scales keep their low nibbles in bytes 0..7 (scale j < 8 in the low
// nibble of byte j, scale j ≥ 8 in the high nibble of byte j−8) and their top
// 2 bits in bytes 8..11 (bits 2(j/4)..2(j/4)+1 of byte 8 + j%4); scale − 32.
func dequantQ3_K(src []byte, dst []float32) {
	for len(src) >= 110 {
		b := (*[110]byte)(src)
		y := (*[qkK]float32)(dst)
		d := le16(b[108], b[109])
		s := (*[12]byte)(b[96:108])
		var ds [16]float32
		for j := 0; j < 16; j++ {
			low := s[j&7] >> (4 * uint(j>>3)) & 15
			high := s[8+j&3] >> (2 * uint(j>>2)) & 3
			ds[j] = d * float32(int32(low|high<<4)-32)
		}
		hm := (*[32]byte)(b[0:32])
		for h := 0; h < 2; h++ {
			q := (*[32]byte)(b[32+32*h:])
			for j := 0; j < 4; j++ {
				shift := uint(2 * j)
				mbit := uint(4*h + j)
				yy := (*[32]float32)(y[128*h+32*j:])
				d0, d1 := ds[8*h+2*j], ds[8*h+2*j+1]
				for l := 0; l < 16; l++ {
					// 3-bit value: low 2 bits from qs, bit 2 from hmask; minus 4.
					v0 := (q[l]>>shift&3 | (hm[l]>>mbit&1)<<2) & 7
					v1 := (q[l+16]>>shift&3 | (hm[l+16]>>mbit&1)<<2) & 7
					yy[l] = d0 * q3Float[v0]
					yy[l+16] = d1 * q3Float[v1]
				}
			}
		}
		src, dst = src[110:], dst[qkK:]
	}
}
