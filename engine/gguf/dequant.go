package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"nexusquant/internal/half"
)

// Dequantization of ggml tensor types to float32.
//
// The block layouts follow ggml-common.h; the arithmetic follows ggml's
// reference dequantize_row_* functions, including the order of operations
// (for example Q4_K computes (d·scale)·q − dmin·min), so results are
// bit-identical to ggml's scalar code. Every multiply-add is written with an
// explicit float32 conversion between the multiply and the add so that Go
// never fuses it into an FMA: the output is the same on every architecture.
//
// Kernels work block by block through fixed-size array pointers, which lets the
// compiler drop per-element bounds checks.

// CanDequantize reports whether DequantizeRow supports t.
func CanDequantize(t Type) bool {
	switch t {
	case F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K:
		return true
	}
	return false
}

// DequantizeRow converts one row of n = len(dst) elements stored as type t in
// src (exactly t.RowBytes(n) bytes) into dst. n must be a multiple of the
// type's block size. It returns an error naming the type when t is not
// supported (see CanDequantize) and when the sizes do not match; it never
// panics. dst may be any run of whole blocks, not only a full tensor row.
func DequantizeRow(t Type, src []byte, dst []float32) error {
	if !CanDequantize(t) {
		return fmt.Errorf("gguf: cannot dequantize tensor type %s", t)
	}
	want, err := t.RowBytes(len(dst))
	if err != nil {
		return fmt.Errorf("gguf: dequantize %s: %w", t, err)
	}
	if len(src) != want {
		return fmt.Errorf("gguf: dequantize %s: %d elements need %d bytes, got %d", t, len(dst), want, len(src))
	}
	switch t {
	case F32:
		dequantF32(src, dst)
	case F16:
		dequantF16(src, dst)
	case BF16:
		dequantBF16(src, dst)
	case Q4_0:
		dequantQ4_0(src, dst)
	case Q4_1:
		dequantQ4_1(src, dst)
	case Q5_0:
		dequantQ5_0(src, dst)
	case Q5_1:
		dequantQ5_1(src, dst)
	case Q8_0:
		dequantQ8_0(src, dst)
	case Q2_K:
		dequantQ2_K(src, dst)
	case Q3_K:
		dequantQ3_K(src, dst)
	case Q4_K:
		dequantQ4_K(src, dst)
	case Q5_K:
		dequantQ5_K(src, dst)
	case Q6_K:
		dequantQ6_K(src, dst)
	}
	return nil
}

// Float32s dequantizes the whole tensor into a new slice of Elements() floats.
func (t *TensorInfo) Float32s() ([]float32, error) {
	if !CanDequantize(t.Type) {
		return nil, fmt.Errorf("gguf: tensor %s: cannot dequantize tensor type %s", clip(t.Name), t.Type)
	}
	size, err := t.Type.Bytes(t.Dims)
	if err != nil {
		return nil, fmt.Errorf("gguf: tensor %s: %w", clip(t.Name), err)
	}
	if size != uint64(len(t.Data)) {
		return nil, fmt.Errorf("gguf: tensor %s: holds %d bytes, its %s shape %v needs %d", clip(t.Name), len(t.Data), t.Type, t.Dims, size)
	}
	// The data length is checked against the shape, so the element count is at
	// most a small multiple of len(t.Data) and fits in an int.
	out := make([]float32, t.Elements())
	if err := DequantizeRow(t.Type, t.Data, out); err != nil {
		return nil, fmt.Errorf("gguf: tensor %s: %w", clip(t.Name), err)
	}
	return out, nil
}

// Row returns the bytes of row i (Dims[0] elements) of the tensor, a 2-D
// matrix of Rows() rows (higher dimensions are flattened into rows). It
// returns nil when i is out of range or the tensor's data does not match its
// shape. The slice aliases Data (capacity clipped to the row).
func (t *TensorInfo) Row(i int) []byte {
	if len(t.Dims) == 0 || i < 0 {
		return nil
	}
	ti, ok := t.Type.info()
	n := t.Dims[0]
	if !ok || n == 0 || n%uint64(ti.blockElems) != 0 || n/uint64(ti.blockElems) > uint64(len(t.Data)) {
		return nil
	}
	rb := int(n) / ti.blockElems * ti.blockBytes
	if rb == 0 || i >= len(t.Data)/rb {
		return nil
	}
	start := i * rb
	return t.Data[start : start+rb : start+rb]
}

// F16ToF32 converts IEEE half-precision bits to float32 exactly, except that
// a NaN comes back quiet (as ggml's table gives it; see internal/half).
func F16ToF32(h uint16) float32 { return half.ToFloat32Quiet(h) }

// BF16ToF32 converts bfloat16 bits to float32 (exact).
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// le16 reads a little-endian half from b[0:2] as a float32.
func le16(b0, b1 byte) float32 { return half.ToFloat32Quiet(uint16(b0) | uint16(b1)<<8) }

// littleEndian reports whether the machine stores float32 little-endian, so
// F32 rows can be copied as raw memory.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// dequantF32 copies little-endian float32s (a memmove on little-endian machines).
func dequantF32(src []byte, dst []float32) {
	if len(dst) == 0 {
		return
	}
	if littleEndian {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 4*len(dst)), src)
		return
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

// dequantF16 converts halves with half.ToFloat32Quiet (a table), eight at a
// time.
func dequantF16(src []byte, dst []float32) {
	le := binary.LittleEndian
	for len(dst) >= 8 {
		s := (*[16]byte)(src)
		d := (*[8]float32)(dst)
		x, y := le.Uint64(s[0:8]), le.Uint64(s[8:16])
		d[0] = half.ToFloat32Quiet(uint16(x))
		d[1] = half.ToFloat32Quiet(uint16(x >> 16))
		d[2] = half.ToFloat32Quiet(uint16(x >> 32))
		d[3] = half.ToFloat32Quiet(uint16(x >> 48))
		d[4] = half.ToFloat32Quiet(uint16(y))
		d[5] = half.ToFloat32Quiet(uint16(y >> 16))
		d[6] = half.ToFloat32Quiet(uint16(y >> 32))
		d[7] = half.ToFloat32Quiet(uint16(y >> 48))
		src, dst = src[16:], dst[8:]
	}
	for i := range dst {
		dst[i] = half.ToFloat32Quiet(le.Uint16(src[2*i:]))
	}
}

// dequantBF16 widens bfloat16s (the top 16 bits of a float32), four at a time.
func dequantBF16(src []byte, dst []float32) {
	le := binary.LittleEndian
	for len(dst) >= 4 {
		s := (*[8]byte)(src)
		d := (*[4]float32)(dst)
		x := le.Uint64(s[:])
		d[0] = math.Float32frombits(uint32(x) << 16)
		d[1] = math.Float32frombits(uint32(x>>16) << 16)
		d[2] = math.Float32frombits(uint32(x>>32) << 16)
		d[3] = math.Float32frombits(uint32(x>>48) << 16)
		src, dst = src[8:], dst[4:]
	}
	for i := range dst {
		dst[i] = math.Float32frombits(uint32(le.Uint16(src[2*i:])) << 16)
	}
}
