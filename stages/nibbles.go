package stages

import "fmt"

// Nibble code rows: the decode form stores a code row of w codes (w even)
// that all fit a signed 4-bit integer (−8…7) in w/2 bytes, byte j holding
// code j in its low nibble and code j + w/2 in its high nibble, each as 4-bit
// two's complement. Splitting the row in halves rather than pairing
// neighbours lets a vector unpack write each half contiguously.

// nibbleCodes reports whether every code q writes fits a signed nibble
// (Levels ≤ 16: 2-bit e8 and relaxed, scalar up to 4 bits).
func nibbleCodes(q *Quantizer) bool {
	lo, hi := q.codeRange()
	return lo >= -8 && hi <= 7
}

// packNibbles packs src, one code row of len(src) int8 codes (len even), into
// dst (len(src)/2 bytes). It returns an error naming the first code outside
// −8…7, which no Quantizer that passes nibbleCodes writes.
func packNibbles(dst, src []byte) error {
	h := len(src) / 2
	dst = dst[:h]
	for j := range dst {
		a, b := int8(src[j]), int8(src[j+h])
		if a < -8 || a > 7 || b < -8 || b > 7 {
			bad, at := a, j
			if a >= -8 && a <= 7 {
				bad, at = b, j+h
			}
			return fmt.Errorf("code %d at %d does not fit a nibble", bad, at)
		}
		dst[j] = byte(a)&0x0f | byte(b)<<4
	}
	return nil
}

// unpackNibbles is packNibbles' inverse: dst (len 2·len(src)) gets the codes
// sign-extended.
func unpackNibbles(dst []int16, src []byte) {
	h := len(src)
	lo, hi := dst[:h], dst[h:2*h]
	for j, b := range src {
		lo[j] = int16(int8(b<<4) >> 4)
		hi[j] = int16(int8(b) >> 4)
	}
}

// dequantPacked writes Quantizer.Decode of one code row of the decode form
// into x (len w, the row's codes): row holds the codes packed at pack (0:
// nibbles, 1: int8, 2: int16 little-endian); codes is scratch of len ≥ w.
// The result is Decode's, bit for bit: e8 and relaxed rows at pack 0 or 1
// take one assembly pass (float32(code)·(s/2), as Decode computes it),
// everything else unpacks into codes and calls Decode.
func (q *Quantizer) dequantPacked(x []float32, row []byte, pack int, scale uint16, codes []int16) {
	w := len(x)
	if useAsm && q.Lattice != "scalar" {
		halfS := F16ToF32(scale) / 2 // as Decode: exact, s is a normal float32
		switch {
		case pack == 0 && w%16 == 0:
			dequantNibblesAVX(&x[0], &row[0], w/2, halfS)
			return
		case pack == 1 && w%8 == 0:
			dequantInt8AVX(&x[0], &row[0], w, halfS)
			return
		}
	}
	codes = codes[:w]
	if pack == 0 {
		unpackNibbles(codes, row[:w/2])
	} else {
		unpackCodes(codes, row, pack)
	}
	q.Decode(x, codes, scale)
}
