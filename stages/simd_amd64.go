//go:build amd64

package stages

import (
	"os"

	"golang.org/x/sys/cpu"
)

// The assembly kernels (hadamard_amd64.s, lattice_amd64.s, score_amd64.s) need
// AVX2 and FMA; cpu.X86 reports AVX2 only when the OS saves the YMM registers.
// NEXUSQUANT_NOASM=1 forces the Go twins, which are the specification: every
// kernel has a differential test against its twin (simd_amd64_test.go).
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA && os.Getenv("NEXUSQUANT_NOASM") == ""

// useAVX512 adds the AVX-512F forms of the in-register transforms
// (fwht512_amd64.s), bit-identical to the AVX2 ones and the Go twins. Set
// once at start-up, like useAsm.
var useAVX512 = useAsm && cpu.X86.HasAVX512F

// fwht64AVX512, fwht128AVX512, nibbleFWHT64AVX512 and nibbleFWHT128AVX512
// are fwht64AVX, fwht128AVX, nibbleFWHT64AVX and nibbleFWHT128AVX in
// AVX-512 registers: the same butterflies, the same floats.
//
//go:noescape
func fwht64AVX512(dst, src, pre *float32)

//go:noescape
func fwht128AVX512(dst, src, pre *float32)

//go:noescape
func nibbleFWHT64AVX512(dst *float32, src *byte, halfS float32, pre *float32)

//go:noescape
func nibbleFWHT128AVX512(dst *float32, src *byte, halfS float32, pre *float32)

// nibbleFWHT64RowsAVX512 is nibbleFWHT64AVX512 over n consecutive rows: the
// 32 bytes of row r at src[32r:] with halfS[r] into dst[64r:64r+64], two
// rows at a time so that their dependency chains overlap.
//
//go:noescape
func nibbleFWHT64RowsAVX512(dst *float32, src *byte, halfS *float32, n int, pre *float32)

// dequantNibbleRowsAVX512 is dequantNibblesAVX over n consecutive nibble
// rows of w codes (w a multiple of 32), row r with halfS[r], into
// dst[r·w:(r+1)·w].
//
//go:noescape
func dequantNibbleRowsAVX512(dst *float32, src *byte, halfS *float32, n, w int)

// fwhtUnit8AVX applies the butterfly stages h = 1, 2, 4 to each block of 8 of
// the first n values (n a multiple of 8), reading src and writing dst (which
// may be src). With scale non-nil the input is first multiplied by scale[i].
//
//go:noescape
func fwhtUnit8AVX(dst, src, scale *float32, n int)

// fwhtRadix4AVX applies the stages h and 2h to x (len n); h a multiple of 8,
// 4h <= n.
//
//go:noescape
func fwhtRadix4AVX(x *float32, n, h int)

// fwhtRadix2AVX applies the stage h to x (len n); h a multiple of 8, 2h <= n.
//
//go:noescape
func fwhtRadix2AVX(x *float32, n, h int)

// mulAVX sets dst[i] = a[i]·b[i] for i < n (n a multiple of 8).
//
//go:noescape
func mulAVX(dst, a, b *float32, n int)

// e8EncodeAVX is encodeLattice's loop over nb batches of 8 groups (64 values
// of x, 64 codes): y = x·inv, clamped to ±clampHi (NaN → 0) when sat, the
// nearest point by nearestDoubled, codes clamped to ±lim.
//
//go:noescape
func e8EncodeAVX(codes *int16, x *float32, nb int, inv, clampHi float32, lim int32, sat, halfParity bool)

// amaxBitsAVX returns the largest int32(Float32bits(x[i]) &^ (1<<31)) over
// i < n (n a multiple of 8), at least 0.
//
//go:noescape
func amaxBitsAVX(x *float32, n int) int32

// scalarEncodeAVX is encodeScalar's loop over n values (n a multiple of 8).
//
//go:noescape
func scalarEncodeAVX(codes *int16, x *float32, n int, a, inv, top float32, half int32, sat bool)

// maxAVX returns max x[i] over i < n (a multiple of 8, > 0).
//
//go:noescape
func maxAVX(x *float32, n int) float32

// accAVX sets acc[i] += float64(e[i])·inv for i < n (a multiple of 8).
//
//go:noescape
func accAVX(acc *float64, e *float32, n int, inv float64)

// qkAVX sets out[b*ldo+t] = (q_b·k_t)·scale for b < nq (a multiple of 4) and
// t < nk (a multiple of 2), rows of d values (a multiple of 8).
//
//go:noescape
func qkAVX(q *float32, nq int, k *float32, nk, d int, out *float32, ldo int, scale float32)

// decodeLatticeAVX sets x[i] = float32(codes[i])·halfS for i < n (a multiple
// of 8): Decode for e8 and relaxed.
//
//go:noescape
func decodeLatticeAVX(x *float32, codes *int16, n int, halfS float32)

// decodeScalarAVX sets x[i] = negS + float32(codes[i]+half)·step for i < n (a
// multiple of 8): Decode for scalar.
//
//go:noescape
func decodeScalarAVX(x *float32, codes *int16, n int, negS, step float32, half int32)

// dequantNibblesAVX sets x[j] and x[h+j] to the low and high nibble of
// src[j] (4-bit two's complement) times halfS, for j < h (a multiple of 8):
// dequantPacked for a nibble row of e8 or relaxed codes.
//
//go:noescape
func dequantNibblesAVX(x *float32, src *byte, h int, halfS float32)

// dequantInt8AVX sets x[i] = float32(int8(src[i]))·halfS for i < n (a
// multiple of 8): dequantPacked for an int8 row of e8 or relaxed codes.
//
//go:noescape
func dequantInt8AVX(x *float32, src *byte, n int, halfS float32)

// fwht64AVX sets dst[i] = fwht(src)[i]·pre[i] for i < 64, the whole
// transform in registers: Hadamard.InverseScratch for DPad 64.
//
//go:noescape
func fwht64AVX(dst, src, pre *float32)

// nibbleFWHT64AVX is dequantNibblesAVX of one nibble row of 64 codes (32
// bytes of src) with halfS, then fwht64AVX into dst with pre.
//
//go:noescape
func nibbleFWHT64AVX(dst *float32, src *byte, halfS float32, pre *float32)

// fwht128AVX is fwht64AVX for 128-vectors (dst[i] = fwht(src)[i]·pre[i],
// i < 128); dst must not overlap src.
//
//go:noescape
func fwht128AVX(dst, src, pre *float32)

// nibbleFWHT128AVX is nibbleFWHT64AVX for a nibble row of 128 codes (64
// bytes of src).
//
//go:noescape
func nibbleFWHT128AVX(dst *float32, src *byte, halfS float32, pre *float32)
