package engine

import (
	"fmt"
	"unsafe"

	"nexusquant/engine/gguf"
)

// matrix is a rows×cols weight matrix left in the mapped file in its GGUF
// encoding; row r is data[r*rowBytes:(r+1)*rowBytes].
type matrix struct {
	name       string
	typ        gguf.Type
	rows, cols int
	rowBytes   int
	data       []byte
	f32        []float32 // F32 weights viewed in place (nil for other types)
}

// newMatrix wraps tensor t, which must have GGUF dims [cols, rows].
func newMatrix(t *gguf.TensorInfo, rows, cols int) (*matrix, error) {
	if err := checkDims(t, cols, rows); err != nil {
		return nil, err
	}
	if !gguf.CanDequantize(t.Type) {
		return nil, fmt.Errorf("tensor %s: type %s is not supported for weights", t.Name, t.Type)
	}
	rb, err := t.Type.RowBytes(cols)
	if err != nil {
		return nil, fmt.Errorf("tensor %s: %v", t.Name, err)
	}
	if len(t.Data) != rb*rows {
		return nil, fmt.Errorf("tensor %s: holds %d bytes, %d rows of %s need %d", t.Name, len(t.Data), rows, t.Type, rb*rows)
	}
	w := &matrix{name: t.Name, typ: t.Type, rows: rows, cols: cols, rowBytes: rb, data: t.Data}
	if t.Type == gguf.F32 {
		w.f32 = float32View(t.Data)
	}
	return w, nil
}

// rowView returns rows [r0, r1) of w as a matrix of their own, aliasing w's
// data (the parts of a fused tensor such as attn_qkv).
func (w *matrix) rowView(r0, r1 int) *matrix {
	v := &matrix{name: fmt.Sprintf("%s[%d:%d]", w.name, r0, r1), typ: w.typ, rows: r1 - r0, cols: w.cols, rowBytes: w.rowBytes,
		data: w.data[r0*w.rowBytes : r1*w.rowBytes]}
	if w.f32 != nil {
		v.f32 = w.f32[r0*w.cols : r1*w.cols]
	}
	return v
}

// float32View returns little-endian float32 data as a []float32, aliasing it
// when the machine is little-endian and the bytes are 4-byte aligned (always
// so for mapped GGUF tensors), else as a decoded copy.
func float32View(b []byte) []float32 {
	if len(b) == 0 {
		return []float32{}
	}
	if nativeLittleEndian && uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
	}
	out := make([]float32, len(b)/4)
	_ = gguf.DequantizeRow(gguf.F32, b, out) // sizes match by construction
	return out
}

var nativeLittleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// dequant writes rows [r0, r1) as float32 to dst ((r1-r0)*cols values).
func (w *matrix) dequant(ks *kernelSet, r0, r1 int, dst []float32) error {
	n := (r1 - r0) * w.cols
	dst = dst[:n]
	if w.f32 != nil {
		copy(dst, w.f32[r0*w.cols:r1*w.cols])
		return nil
	}
	src := w.data[r0*w.rowBytes : r1*w.rowBytes]
	switch w.typ {
	case gguf.F16:
		ks.f16(dst, src)
	case gguf.Q8_0:
		ks.q80(dst, src)
	case gguf.Q4_K:
		ks.q4k(dst, src)
	case gguf.Q6_K:
		ks.q6k(dst, src)
	default:
		if err := gguf.DequantizeRow(w.typ, src, dst); err != nil {
			return fmt.Errorf("tensor %s: %w", w.name, err)
		}
	}
	return nil
}

// checkDims returns an error naming t unless its GGUF dims are exactly want
// (ne[0] first).
func checkDims(t *gguf.TensorInfo, want ...int) error {
	ok := len(t.Dims) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = t.Dims[i] == uint64(want[i])
	}
	if !ok {
		return fmt.Errorf("tensor %s has shape %v, the model config needs %v", t.Name, t.Dims, want)
	}
	return nil
}

// vector reads a 1-D tensor of n values (norm weights, biases) as float32.
func vector(t *gguf.TensorInfo, n int) ([]float32, error) {
	if err := checkDims(t, n); err != nil {
		return nil, err
	}
	v, err := t.Float32s()
	if err != nil {
		return nil, fmt.Errorf("tensor %s: %w", t.Name, err)
	}
	return v, nil
}
