//go:build amd64

package engine

import "nexusquant/engine/gguf"

//go:noescape
func expAVX(k int, x *float32)

//go:noescape
func siluMulAVX(k int, gate, u *float32)

//go:noescape
func roundF16AVX(k int, x, dst *float32)

//go:noescape
func roundQ80AVX(nb int, x, dst *float32)

//go:noescape
func q4kAVX(nb int, src *byte, dm *float32, dst *float32)

//go:noescape
func q6kAVX(nb int, src *byte, sc *float32, dst *float32)

func expA(x []float32) {
	k8 := len(x) &^ 7
	if k8 > 0 {
		expAVX(k8, &x[0])
	}
	expGo(x[k8:])
}

func siluMulA(g, u []float32) {
	k8 := len(g) &^ 7
	u = u[:len(g)]
	if k8 > 0 {
		siluMulAVX(k8, &g[0], &u[0])
	}
	siluMulGo(g[k8:], u[k8:])
}

func roundF16A(x, dst []float32) {
	k8 := len(x) &^ 7
	dst = dst[:len(x)]
	if k8 > 0 {
		roundF16AVX(k8, &x[0], &dst[0])
	}
	roundF16Go(x[k8:], dst[k8:])
}

func roundQ80A(x, dst []float32) {
	nb := len(x) / 32
	dst = dst[:len(x)]
	if nb > 0 {
		roundQ80AVX(nb, &x[0], &dst[0])
	}
}

// kBlocks is how many K-quant blocks the wrappers prepare scales for at once.
const kBlocks = 16

func q4kA(dst []float32, src []byte) {
	nb := len(dst) / 256
	src = src[:nb*144]
	var dm [16 * kBlocks]float32
	for b0 := 0; b0 < nb; b0 += kBlocks {
		n := min(kBlocks, nb-b0)
		for b := 0; b < n; b++ {
			blk := (*[144]byte)(src[(b0+b)*144:])
			d := gguf.F16ToF32(uint16(blk[0]) | uint16(blk[1])<<8)
			dmin := gguf.F16ToF32(uint16(blk[2]) | uint16(blk[3])<<8)
			sc, mn := unpackQ4KScales((*[12]byte)(blk[4:16]))
			for j := 0; j < 8; j++ {
				dm[16*b+2*j] = d * float32(sc[j])
				dm[16*b+2*j+1] = dmin * float32(mn[j])
			}
		}
		q4kAVX(n, &src[b0*144], &dm[0], &dst[b0*256])
	}
}

func q6kA(dst []float32, src []byte) {
	nb := len(dst) / 256
	src = src[:nb*210]
	var sc [16 * kBlocks]float32
	for b0 := 0; b0 < nb; b0 += kBlocks {
		n := min(kBlocks, nb-b0)
		for b := 0; b < n; b++ {
			blk := (*[210]byte)(src[(b0+b)*210:])
			d := gguf.F16ToF32(uint16(blk[208]) | uint16(blk[209])<<8)
			for i := 0; i < 16; i++ {
				sc[16*b+i] = d * float32(int8(blk[192+i]))
			}
		}
		q6kAVX(n, &src[b0*210], &sc[0], &dst[b0*256])
	}
}

// unpackQ4KScales decodes the 12-byte scale field of a Q4_K block into 8
// six-bit scales and mins (ggml's get_scale_min_k4).
func unpackQ4KScales(s *[12]byte) (sc, mn [8]uint8) {
	for j := 0; j < 4; j++ {
		sc[j] = s[j] & 63
		mn[j] = s[j+4] & 63
		sc[j+4] = s[j+8]&0xF | (s[j]>>6)<<4
		mn[j+4] = s[j+8]>>4 | (s[j+4]>>6)<<4
	}
	return sc, mn
}
