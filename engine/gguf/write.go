package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
)

// A small GGUF writer, mainly for tests that need tiny model files:
//
//	kv := []gguf.KV{
//		{Key: "general.architecture", Value: gguf.ValueOf("llama")},
//		{Key: "llama.block_count", Value: gguf.ValueOf(uint32(2))},
//		{Key: "tokenizer.ggml.tokens", Value: gguf.ValueOf([]string{"a", "b"})},
//	}
//	w, _ := gguf.NewTensor("output.weight", gguf.Q8_0, []uint64{64, 8}, floats)
//	err := gguf.WriteFile(path, 3, kv, []gguf.WTensor{w})
//
// The layout is the one llama.cpp writes: header, metadata in the given order,
// tensor infos in the given order, zero padding to the alignment, then each
// tensor's data at the next multiple of the alignment (offsets relative to the
// data section, zero padding between tensors and after the last one).

// KV is one metadata entry to write.
type KV struct {
	Key   string
	Value Value
}

// WTensor is one tensor to write. Data must hold exactly Type.Bytes(Dims)
// bytes (Dims[0] fastest, as in TensorInfo).
type WTensor struct {
	Name string
	Dims []uint64
	Type Type
	Data []byte
}

// invalidValueType marks a Value built by ValueOf from an unsupported Go type.
const invalidValueType ValueType = math.MaxUint32

// ValueOf wraps a Go value as a metadata Value, inferring its GGUF type:
// uint8…int64, float32, float64, bool and string map to the scalar types;
// slices of those ([]uint8, []string, …) to arrays; []Value to an array of
// arrays (each element must itself be an array). Any other type yields a
// Value that Write rejects.
func ValueOf(v any) Value {
	switch x := v.(type) {
	case uint8:
		return Value{Type: TypeUint8, V: x}
	case int8:
		return Value{Type: TypeInt8, V: x}
	case uint16:
		return Value{Type: TypeUint16, V: x}
	case int16:
		return Value{Type: TypeInt16, V: x}
	case uint32:
		return Value{Type: TypeUint32, V: x}
	case int32:
		return Value{Type: TypeInt32, V: x}
	case float32:
		return Value{Type: TypeFloat32, V: x}
	case bool:
		return Value{Type: TypeBool, V: x}
	case string:
		return Value{Type: TypeString, V: x}
	case uint64:
		return Value{Type: TypeUint64, V: x}
	case int64:
		return Value{Type: TypeInt64, V: x}
	case float64:
		return Value{Type: TypeFloat64, V: x}
	}
	if et, ok := sliceElemType(v); ok {
		return Value{Type: TypeArray, Elem: et, V: v}
	}
	return Value{Type: invalidValueType, V: v}
}

// sliceElemType is the GGUF element type of a typed slice, as the parser
// returns them.
func sliceElemType(v any) (ValueType, bool) {
	switch v.(type) {
	case []uint8:
		return TypeUint8, true
	case []int8:
		return TypeInt8, true
	case []uint16:
		return TypeUint16, true
	case []int16:
		return TypeInt16, true
	case []uint32:
		return TypeUint32, true
	case []int32:
		return TypeInt32, true
	case []float32:
		return TypeFloat32, true
	case []bool:
		return TypeBool, true
	case []string:
		return TypeString, true
	case []uint64:
		return TypeUint64, true
	case []int64:
		return TypeInt64, true
	case []float64:
		return TypeFloat64, true
	case []Value:
		return TypeArray, true
	}
	return 0, false
}

// NewTensor builds a WTensor of the given type and shape from float32 values
// (Elements() of them, row-major with Dims[0] fastest), quantizing them with
// QuantizeRow (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1).
func NewTensor(name string, t Type, dims []uint64, values []float32) (WTensor, error) {
	size, err := t.Bytes(dims)
	if err != nil {
		return WTensor{}, fmt.Errorf("gguf: tensor %s: %w", name, err)
	}
	n := uint64(1)
	for _, d := range dims {
		n *= d
	}
	if uint64(len(values)) != n {
		return WTensor{}, fmt.Errorf("gguf: tensor %s: shape %v needs %d values, got %d", name, dims, n, len(values))
	}
	data := make([]byte, size)
	if err := QuantizeRow(t, values, data); err != nil {
		return WTensor{}, fmt.Errorf("gguf: tensor %s: %w", name, err)
	}
	return WTensor{Name: name, Dims: append([]uint64(nil), dims...), Type: t, Data: data}, nil
}

// WriteFile writes a GGUF file to path (see Write).
func WriteFile(path string, version uint32, kv []KV, tensors []WTensor) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := Write(f, version, kv, tensors); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Write encodes a complete GGUF file of the given version (2 or 3) to w. The
// alignment is DefaultAlignment unless kv holds "general.alignment" (a uint32
// power of two, as llama.cpp writes it). Keys and tensor names must be unique
// and every tensor's data must match its type and shape; Write checks this
// before writing anything.
func Write(w io.Writer, version uint32, kv []KV, tensors []WTensor) error {
	if version != 2 && version != 3 {
		return fmt.Errorf("gguf: write: unsupported version %d (2 or 3)", version)
	}
	align := uint64(DefaultAlignment)
	seen := make(map[string]bool, len(kv))
	for _, e := range kv {
		if seen[e.Key] {
			return fmt.Errorf("gguf: write: duplicate metadata key %q", e.Key)
		}
		seen[e.Key] = true
		if err := checkValue(e.Value, 0); err != nil {
			return fmt.Errorf("gguf: write: metadata %q: %w", e.Key, err)
		}
		if e.Key == "general.alignment" {
			a, ok := e.Value.V.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return fmt.Errorf("gguf: write: general.alignment must be a uint32 power of two, got %v", e.Value.V)
			}
			align = uint64(a)
		}
	}
	offsets := make([]uint64, len(tensors))
	names := make(map[string]bool, len(tensors))
	var off uint64
	for i, t := range tensors {
		if names[t.Name] {
			return fmt.Errorf("gguf: write: duplicate tensor name %q", t.Name)
		}
		names[t.Name] = true
		if len(t.Dims) == 0 || len(t.Dims) > maxDims {
			return fmt.Errorf("gguf: write: tensor %q: rank %d outside 1..%d", t.Name, len(t.Dims), maxDims)
		}
		size, err := t.Type.Bytes(t.Dims)
		if err != nil {
			return fmt.Errorf("gguf: write: tensor %q: %w", t.Name, err)
		}
		if size != uint64(len(t.Data)) {
			return fmt.Errorf("gguf: write: tensor %q: %s %v needs %d bytes, got %d", t.Name, t.Type, t.Dims, size, len(t.Data))
		}
		offsets[i] = off
		off = padTo(off+size, align)
	}

	e := &encoder{w: bufio.NewWriter(w)}
	e.raw([]byte(Magic))
	e.u32(version)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kv)))
	for _, kv := range kv {
		e.str(kv.Key)
		e.u32(uint32(kv.Value.Type))
		e.value(kv.Value)
	}
	for i, t := range tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(offsets[i])
	}
	e.pad(align)
	e.n = 0 // offsets count from the data section
	for _, t := range tensors {
		e.raw(t.Data)
		e.pad(align)
	}
	if e.err != nil {
		return e.err
	}
	return e.w.Flush()
}

// padTo rounds n up to a multiple of align.
func padTo(n, align uint64) uint64 { return (n + align - 1) / align * align }

// checkValue reports whether v's Go value matches its declared GGUF type.
func checkValue(v Value, depth int) error {
	if v.Type == TypeArray {
		if depth >= maxNesting {
			return fmt.Errorf("arrays nested deeper than %d", maxNesting)
		}
		et, ok := sliceElemType(v.V)
		if !ok || et != v.Elem {
			return fmt.Errorf("array declared as %s elements holds %T", v.Elem, v.V)
		}
		if sub, ok := v.V.([]Value); ok {
			for i, s := range sub {
				if s.Type != TypeArray {
					return fmt.Errorf("element %d of an array of arrays is a %s", i, s.Type)
				}
				if err := checkValue(s, depth+1); err != nil {
					return fmt.Errorf("element %d: %w", i, err)
				}
			}
		}
		return nil
	}
	if got := ValueOf(v.V); got.Type != v.Type || v.Type == invalidValueType {
		return fmt.Errorf("value of Go type %T cannot be written as %s", v.V, v.Type)
	}
	return nil
}

// encoder writes little-endian GGUF primitives, keeping the first error and
// counting bytes for padding.
type encoder struct {
	w   *bufio.Writer
	n   uint64
	err error
	buf [8]byte
}

// raw writes b.
func (e *encoder) raw(b []byte) {
	if e.err != nil {
		return
	}
	_, e.err = e.w.Write(b)
	e.n += uint64(len(b))
}

// u8 writes one byte.
func (e *encoder) u8(x uint8) { e.buf[0] = x; e.raw(e.buf[:1]) }

// u16 writes a little-endian uint16.
func (e *encoder) u16(x uint16) {
	binary.LittleEndian.PutUint16(e.buf[:], x)
	e.raw(e.buf[:2])
}

// u32 writes a little-endian uint32.
func (e *encoder) u32(x uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], x)
	e.raw(e.buf[:4])
}

// u64 writes a little-endian uint64.
func (e *encoder) u64(x uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], x)
	e.raw(e.buf[:8])
}

// str writes a GGUF string: uint64 length, then the bytes.
func (e *encoder) str(s string) { e.u64(uint64(len(s))); e.raw([]byte(s)) }

// bool writes a bool as one byte, 0 or 1.
func (e *encoder) bool(b bool) {
	if b {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

// pad writes zeros up to the next multiple of align.
func (e *encoder) pad(align uint64) {
	var zero [64]byte
	for k := padTo(e.n, align) - e.n; k > 0; {
		c := min(k, uint64(len(zero)))
		e.raw(zero[:c])
		k -= c
	}
}

// value writes v's payload (its type tag is written by the caller). v has
// been checked by checkValue.
func (e *encoder) value(v Value) {
	switch x := v.V.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case bool:
		e.bool(x)
	case string:
		e.str(x)
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	default:
		e.array(v)
	}
}

// array writes an array's element type, length and elements.
func (e *encoder) array(v Value) {
	e.u32(uint32(v.Elem))
	switch x := v.V.(type) {
	case []uint8:
		e.u64(uint64(len(x)))
		e.raw(x)
	case []int8:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.u8(uint8(y))
		}
	case []uint16:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.u16(y)
		}
	case []int16:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.u16(uint16(y))
		}
	case []uint32:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.u32(y)
		}
	case []int32:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.u32(uint32(y))
		}
	case []float32:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.u32(math.Float32bits(y))
		}
	case []bool:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.bool(y)
		}
	case []string:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.str(y)
		}
	case []uint64:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.u64(y)
		}
	case []int64:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.u64(uint64(y))
		}
	case []float64:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.u64(math.Float64bits(y))
		}
	case []Value:
		e.u64(uint64(len(x)))
		for _, y := range x {
			e.array(y)
		}
	}
}
