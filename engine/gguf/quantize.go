package gguf

import (
	"encoding/binary"
	"fmt"
	"math"

	"nexusquant/internal/half"
)

// Quantization to the simple ggml types, matching ggml's reference quantizers
// (quantize_row_*_ref in ggml-quants.c) bit for bit: the scale is computed in
// float32 from the block's extremes, stored rounded to half precision, and the
// quants are computed with the unrounded float32 inverse scale, exactly as ggml
// does. These are used to build test files and for llama.cpp-style q8_0/q4_0
// KV-cache baselines.
//
// Note: llama.cpp's CPU backend converts activations and KV-cache rows with
// ggml-cpu's own quantize_row_q8_0, which on x86/ARM SIMD builds may round
// halves to even instead of away from zero; results can differ from the
// reference in the last quant of values exactly halfway between two steps.

// CanQuantize reports whether QuantizeRow supports t.
func CanQuantize(t Type) bool {
	switch t {
	case F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0:
		return true
	}
	return false
}

// QuantizeRow encodes src (a multiple of t's block size) as type t into dst,
// which must be exactly t.RowBytes(len(src)) bytes.
func QuantizeRow(t Type, src []float32, dst []byte) error {
	if !CanQuantize(t) {
		return fmt.Errorf("gguf: cannot quantize to tensor type %s", t)
	}
	if err := checkQuantSizes(t, src, dst); err != nil {
		return err
	}
	le := binary.LittleEndian
	switch t {
	case F32:
		for i, x := range src {
			le.PutUint32(dst[4*i:], math.Float32bits(x))
		}
	case F16:
		for i, x := range src {
			le.PutUint16(dst[2*i:], F32ToF16(x))
		}
	case BF16:
		for i, x := range src {
			le.PutUint16(dst[2*i:], F32ToBF16(x))
		}
	case Q4_0:
		quantQ4_0(src, dst)
	case Q4_1:
		quantQ4_1(src, dst)
	case Q5_0:
		quantQ5_0(src, dst)
	case Q5_1:
		quantQ5_1(src, dst)
	case Q8_0:
		quantQ8_0(src, dst)
	}
	return nil
}

// Quantize encodes src as type t into a new slice (see QuantizeRow).
func Quantize(t Type, src []float32) ([]byte, error) {
	n, err := t.RowBytes(len(src))
	if err != nil {
		return nil, fmt.Errorf("gguf: quantize %s: %w", t, err)
	}
	dst := make([]byte, n)
	if err := QuantizeRow(t, src, dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// QuantizeRowQ8_0 encodes src as Q8_0 blocks exactly like ggml's
// quantize_row_q8_0_ref: per 32 values d = max|x|/127, q = round(x·(1/d)) with
// halves rounded away from zero; d is stored as half precision.
func QuantizeRowQ8_0(src []float32, dst []byte) error { return QuantizeRow(Q8_0, src, dst) }

// QuantizeRowQ4_0 encodes src as Q4_0 blocks exactly like ggml's
// quantize_row_q4_0_ref: per 32 values, with m the value of largest magnitude
// (the first one on ties), d = m/−8 and q = min(15, trunc(x·(1/d) + 8.5)).
func QuantizeRowQ4_0(src []float32, dst []byte) error { return QuantizeRow(Q4_0, src, dst) }

// checkQuantSizes reports whether dst is exactly the size of src as type t.
func checkQuantSizes(t Type, src []float32, dst []byte) error {
	want, err := t.RowBytes(len(src))
	if err != nil {
		return fmt.Errorf("gguf: quantize %s: %w", t, err)
	}
	if len(dst) != want {
		return fmt.Errorf("gguf: quantize %s: %d elements need %d bytes, got %d", t, len(src), want, len(dst))
	}
	return nil
}

// putF16 stores f as little-endian half precision at b[0:2].
func putF16(b []byte, f float32) { binary.LittleEndian.PutUint16(b, F32ToF16(f)) }

// inverse returns 1/d, or 0 when d is 0 (as ggml's "d ? 1.0f/d : 0.0f").
func inverse(d float32) float32 {
	if d == 0 {
		return 0
	}
	return 1 / d
}

// truncClamp converts v to an integer toward zero (C's float-to-int cast)
// and clamps it to [lo, hi]; NaN gives lo. ggml's casts are undefined outside
// the type's range, which only non-finite inputs can reach.
func truncClamp(v float32, lo, hi int32) int32 {
	if !(v >= float32(lo)) {
		return lo
	}
	if v >= float32(hi) {
		return hi
	}
	return int32(v)
}

// signedMax returns the value of largest magnitude in x (the first on ties).
func signedMax(x []float32) float32 {
	var amax, max float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); amax < a {
			amax, max = a, v
		}
	}
	return max
}

// minMax returns the smallest and largest values of x.
func minMax(x []float32) (lo, hi float32) {
	lo, hi = float32(math.MaxFloat32), -float32(math.MaxFloat32)
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

// quantQ8_0 is ggml's quantize_row_q8_0_ref.
func quantQ8_0(src []float32, dst []byte) {
	for len(src) >= 32 {
		x := (*[32]float32)(src)
		b := (*[34]byte)(dst)
		var amax float32
		for _, v := range x {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		id := inverse(d)
		putF16(b[0:2], d)
		for j, v := range x {
			r := math.Round(float64(float32(v * id)))
			b[2+j] = byte(int8(truncClamp(float32(r), -128, 127)))
		}
		src, dst = src[32:], dst[34:]
	}
}

// quantQ4_0 is ggml's quantize_row_q4_0_ref.
func quantQ4_0(src []float32, dst []byte) {
	for len(src) >= 32 {
		x := (*[32]float32)(src)
		b := (*[18]byte)(dst)
		d := signedMax(x[:]) / -8
		id := inverse(d)
		putF16(b[0:2], d)
		for j := 0; j < 16; j++ {
			q0 := truncClamp(float32(float32(x[j]*id)+8.5), 0, 15)
			q1 := truncClamp(float32(float32(x[j+16]*id)+8.5), 0, 15)
			b[2+j] = byte(q0) | byte(q1)<<4
		}
		src, dst = src[32:], dst[18:]
	}
}

// quantQ4_1 is ggml's quantize_row_q4_1_ref: d = (max−min)/15, m = min.
func quantQ4_1(src []float32, dst []byte) {
	for len(src) >= 32 {
		x := (*[32]float32)(src)
		b := (*[20]byte)(dst)
		lo, hi := minMax(x[:])
		d := (hi - lo) / 15
		id := inverse(d)
		putF16(b[0:2], d)
		putF16(b[2:4], lo)
		for j := 0; j < 16; j++ {
			q0 := truncClamp(float32(float32((x[j]-lo)*id)+0.5), 0, 15)
			q1 := truncClamp(float32(float32((x[j+16]-lo)*id)+0.5), 0, 15)
			b[4+j] = byte(q0) | byte(q1)<<4
		}
		src, dst = src[32:], dst[20:]
	}
}

// quantQ5_0 is ggml's quantize_row_q5_0_ref: d = m/−16.
func quantQ5_0(src []float32, dst []byte) {
	for len(src) >= 32 {
		x := (*[32]float32)(src)
		b := (*[22]byte)(dst)
		d := signedMax(x[:]) / -16
		id := inverse(d)
		putF16(b[0:2], d)
		var qh uint32
		for j := 0; j < 16; j++ {
			q0 := truncClamp(float32(float32(x[j]*id)+16.5), 0, 31)
			q1 := truncClamp(float32(float32(x[j+16]*id)+16.5), 0, 31)
			b[6+j] = byte(q0&15) | byte(q1&15)<<4
			qh |= uint32(q0>>4) << j
			qh |= uint32(q1>>4) << (j + 16)
		}
		binary.LittleEndian.PutUint32(b[2:6], qh)
		src, dst = src[32:], dst[22:]
	}
}

// quantQ5_1 is ggml's quantize_row_q5_1_ref: d = (max−min)/31, m = min.
func quantQ5_1(src []float32, dst []byte) {
	for len(src) >= 32 {
		x := (*[32]float32)(src)
		b := (*[24]byte)(dst)
		lo, hi := minMax(x[:])
		d := (hi - lo) / 31
		id := inverse(d)
		putF16(b[0:2], d)
		putF16(b[2:4], lo)
		var qh uint32
		for j := 0; j < 16; j++ {
			q0 := truncClamp(float32(float32((x[j]-lo)*id)+0.5), 0, 31)
			q1 := truncClamp(float32(float32((x[j+16]-lo)*id)+0.5), 0, 31)
			b[8+j] = byte(q0&15) | byte(q1&15)<<4
			qh |= uint32(q0>>4) << j
			qh |= uint32(q1>>4) << (j + 16)
		}
		binary.LittleEndian.PutUint32(b[4:8], qh)
		src, dst = src[32:], dst[24:]
	}
}

// F32ToF16 converts f to IEEE half precision, rounding to nearest even (as
// ggml's GGML_FP32_TO_FP16); overflow gives ±Inf and NaN stays NaN (quiet).
// It is internal/half's FromFloat32, which stages uses too.
func F32ToF16(f float32) uint16 { return half.FromFloat32(f) }

// F32ToBF16 converts f to bfloat16, rounding to nearest even; NaN stays NaN.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40 // quiet NaN
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}
