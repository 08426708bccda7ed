//go:build !amd64

package stages

// useAsm is false off amd64: the Go twins run. The stubs below are never called.
const useAsm, useAVX512 = false, false

func fwhtUnit8AVX(dst, src, scale *float32, n int) { panic("stages: no assembly") }
func fwhtRadix4AVX(x *float32, n, h int)           { panic("stages: no assembly") }
func fwhtRadix2AVX(x *float32, n, h int)           { panic("stages: no assembly") }
func mulAVX(dst, a, b *float32, n int)             { panic("stages: no assembly") }

func e8EncodeAVX(codes *int16, x *float32, nb int, inv, clampHi float32, lim int32, sat, halfParity bool) {
	panic("stages: no assembly")
}
func amaxBitsAVX(x *float32, n int) int32 { panic("stages: no assembly") }
func scalarEncodeAVX(codes *int16, x *float32, n int, a, inv, top float32, half int32, sat bool) {
	panic("stages: no assembly")
}
func maxAVX(x *float32, n int) float32 { panic("stages: no assembly") }
func accAVX(acc *float64, e *float32, n int, inv float64) {
	panic("stages: no assembly")
}
func qkAVX(q *float32, nq int, k *float32, nk, d int, out *float32, ldo int, scale float32) {
	panic("stages: no assembly")
}
func decodeLatticeAVX(x *float32, codes *int16, n int, halfS float32) {
	panic("stages: no assembly")
}
func decodeScalarAVX(x *float32, codes *int16, n int, negS, step float32, half int32) {
	panic("stages: no assembly")
}
func dequantNibblesAVX(x *float32, src *byte, h int, halfS float32) {
	panic("stages: no assembly")
}
func dequantInt8AVX(x *float32, src *byte, n int, halfS float32) {
	panic("stages: no assembly")
}
func fwht64AVX(dst, src, pre *float32) { panic("stages: no assembly") }
func nibbleFWHT64AVX(dst *float32, src *byte, halfS float32, pre *float32) {
	panic("stages: no assembly")
}
func fwht128AVX(dst, src, pre *float32) { panic("stages: no assembly") }
func nibbleFWHT128AVX(dst *float32, src *byte, halfS float32, pre *float32) {
	panic("stages: no assembly")
}
func fwht64AVX512(dst, src, pre *float32)  { panic("stages: no assembly") }
func fwht128AVX512(dst, src, pre *float32) { panic("stages: no assembly") }
func nibbleFWHT64AVX512(dst *float32, src *byte, halfS float32, pre *float32) {
	panic("stages: no assembly")
}
func nibbleFWHT128AVX512(dst *float32, src *byte, halfS float32, pre *float32) {
	panic("stages: no assembly")
}
func nibbleFWHT64RowsAVX512(dst *float32, src *byte, halfS *float32, n int, pre *float32) {
	panic("stages: no assembly")
}
func dequantNibbleRowsAVX512(dst *float32, src *byte, halfS *float32, n, w int) {
	panic("stages: no assembly")
}
