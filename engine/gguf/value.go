package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// ValueType is a GGUF metadata value type.
type ValueType uint32

// The GGUF metadata value types.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}

// String is the GGUF name of the value type ("uint32"), or "valuetype(N)".
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("valuetype(%d)", uint32(t))
}

// fixedSize is the encoded size of a scalar type, 0 for string/array/unknown.
func (t ValueType) fixedSize() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// maxNesting bounds arrays of arrays.
const maxNesting = 4

// Value is one metadata value. V holds: uint8…int64, float32, float64, bool or
// string for scalars; for arrays of scalars a typed slice ([]uint8, []int8,
// []uint16, []int16, []uint32, []int32, []float32, []bool, []string, []uint64,
// []int64, []float64); for arrays of arrays a []Value. Elem is the element type
// of an array.
type Value struct {
	Type ValueType
	Elem ValueType
	V    any
}

// Uint returns an integer value (any width, non-negative) as uint64.
func (v Value) Uint() (uint64, bool) {
	switch x := v.V.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8:
		return uint64(x), x >= 0
	case int16:
		return uint64(x), x >= 0
	case int32:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	}
	return 0, false
}

// Int returns an integer value (any width) as int64.
func (v Value) Int() (int64, bool) {
	switch x := v.V.(type) {
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), x <= math.MaxInt64
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

// Float returns a numeric value as float64.
func (v Value) Float() (float64, bool) {
	switch x := v.V.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	case uint64: // also above MaxInt64
		return float64(x), true
	}
	i, ok := v.Int()
	return float64(i), ok
}

// value reads a value of type t; depth counts enclosing arrays.
func (r *reader) value(field field, t ValueType, depth int) (Value, error) {
	v := Value{Type: t}
	if n := t.fixedSize(); n > 0 {
		b, err := r.bytes(field, uint64(n))
		if err != nil {
			return v, err
		}
		v.V = scalar(t, b)
		if t == TypeBool && b[0] > 1 {
			return v, r.errf(field, "bool value %d is neither 0 nor 1", b[0])
		}
		return v, nil
	}
	switch t {
	case TypeString:
		s, err := r.str(field)
		v.V = s
		return v, err
	case TypeArray:
		if depth >= maxNesting {
			return v, r.errf(field, "arrays nested deeper than %d", maxNesting)
		}
		et, err := r.u32(field.dot("elem_type"))
		if err != nil {
			return v, err
		}
		v.Elem = ValueType(et)
		n, err := r.u64(field.dot("length"))
		if err != nil {
			return v, err
		}
		return r.array(field, v, n, depth)
	}
	return v, r.errf(field, "unknown value type %d", uint32(t))
}

// array reads the n elements of an array whose element type is v.Elem.
func (r *reader) array(field field, v Value, n uint64, depth int) (Value, error) {
	et := v.Elem
	if sz := et.fixedSize(); sz > 0 {
		if n > uint64(r.left())/uint64(sz) {
			return v, r.errf(field, "array of %d %s (%d bytes each) cannot fit in %d remaining bytes", n, et, sz, r.left())
		}
		b, _ := r.bytes(field, n*uint64(sz))
		v.V = scalarSlice(et, b, int(n))
		if et == TypeBool {
			for i, x := range b {
				if x > 1 {
					return v, r.errf(field.at(uint64(i)), "bool value %d is neither 0 nor 1", x)
				}
			}
		}
		return v, nil
	}
	switch et {
	case TypeString:
		// Each string takes at least its 8-byte length.
		if n > uint64(r.left())/8 {
			return v, r.errf(field, "array of %d strings cannot fit in %d bytes", n, r.left())
		}
		// Grow with what is read, not with what the count claims: a hostile
		// count must not cost more memory than the bytes behind it.
		out := make([]string, 0, min(n, prealloc(r.left())))
		for i := range n {
			s, err := r.str(field.at(i))
			if err != nil {
				return v, err
			}
			out = append(out, s)
		}
		v.V = out
		return v, nil
	case TypeArray:
		if n > uint64(r.left())/12 {
			return v, r.errf(field, "array of %d arrays cannot fit in %d bytes", n, r.left())
		}
		out := make([]Value, 0, min(n, prealloc(r.left())))
		for i := range n {
			e, err := r.value(field.at(i), TypeArray, depth+1)
			if err != nil {
				return v, err
			}
			out = append(out, e)
		}
		v.V = out
		return v, nil
	}
	return v, r.errf(field, "unknown array element type %d", uint32(et))
}

// scalar decodes a fixed-size value of type t from b.
func scalar(t ValueType, b []byte) any {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return b[0]
	case TypeInt8:
		return int8(b[0])
	case TypeBool:
		return b[0] == 1
	case TypeUint16:
		return le.Uint16(b)
	case TypeInt16:
		return int16(le.Uint16(b))
	case TypeUint32:
		return le.Uint32(b)
	case TypeInt32:
		return int32(le.Uint32(b))
	case TypeFloat32:
		return math.Float32frombits(le.Uint32(b))
	case TypeUint64:
		return le.Uint64(b)
	case TypeInt64:
		return int64(le.Uint64(b))
	case TypeFloat64:
		return math.Float64frombits(le.Uint64(b))
	}
	return nil
}

// scalarSlice decodes n fixed-size values of type t from b into a typed slice.
func scalarSlice(t ValueType, b []byte, n int) any {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return append([]uint8(nil), b...)
	case TypeInt8:
		out := make([]int8, n)
		for i := range out {
			out[i] = int8(b[i])
		}
		return out
	case TypeBool:
		out := make([]bool, n)
		for i := range out {
			out[i] = b[i] == 1
		}
		return out
	case TypeUint16:
		out := make([]uint16, n)
		for i := range out {
			out[i] = le.Uint16(b[2*i:])
		}
		return out
	case TypeInt16:
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(le.Uint16(b[2*i:]))
		}
		return out
	case TypeUint32:
		out := make([]uint32, n)
		for i := range out {
			out[i] = le.Uint32(b[4*i:])
		}
		return out
	case TypeInt32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(le.Uint32(b[4*i:]))
		}
		return out
	case TypeFloat32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
		return out
	case TypeUint64:
		out := make([]uint64, n)
		for i := range out {
			out[i] = le.Uint64(b[8*i:])
		}
		return out
	case TypeInt64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(le.Uint64(b[8*i:]))
		}
		return out
	case TypeFloat64:
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(b[8*i:]))
		}
		return out
	}
	return nil
}
