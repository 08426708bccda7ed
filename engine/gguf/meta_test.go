package gguf

import (
	"math"
	"testing"
)

// TestValueAccessors checks the conversions of Value.Uint, Int and Float
// across every scalar type, including out-of-range and non-numeric values.
func TestValueAccessors(t *testing.T) {
	cases := []struct {
		v   any
		u   uint64
		uok bool
		i   int64
		iok bool
		f   float64
		fok bool
	}{
		{uint8(200), 200, true, 200, true, 200, true},
		{int8(-3), 0, false, -3, true, -3, true},
		{uint16(60000), 60000, true, 60000, true, 60000, true},
		{int16(-300), 0, false, -300, true, -300, true},
		{uint32(4e9), 4e9, true, 4e9, true, 4e9, true},
		{int32(-7), 0, false, -7, true, -7, true},
		{uint64(math.MaxUint64), math.MaxUint64, true, 0, false, math.MaxUint64, true},
		{int64(-1 << 40), 0, false, -1 << 40, true, -1 << 40, true},
		{int64(5), 5, true, 5, true, 5, true},
		{float32(1.5), 0, false, 0, false, 1.5, true},
		{2.5, 0, false, 0, false, 2.5, true},
		{true, 0, false, 0, false, 0, false},
		{"7", 0, false, 0, false, 0, false},
	}
	for _, c := range cases {
		v := ValueOf(c.v)
		if u, ok := v.Uint(); ok != c.uok || (ok && u != c.u) {
			t.Errorf("%T(%v).Uint() = %d, %v", c.v, c.v, u, ok)
		}
		if i, ok := v.Int(); ok != c.iok || (ok && i != c.i) {
			t.Errorf("%T(%v).Int() = %d, %v", c.v, c.v, i, ok)
		}
		if f, ok := v.Float(); ok != c.fok || (ok && f != c.f) {
			t.Errorf("%T(%v).Float() = %v, %v", c.v, c.v, f, ok)
		}
	}
	if s := ValueType(42).String(); s != "valuetype(42)" || TypeString.String() != "string" {
		t.Errorf("ValueType.String: %q", s)
	}
	if Q4_K.String() != "Q4_K" || Type(1000).String() != "type(1000)" || Type(1000).Known() || Type(1000).BlockBytes() != 0 {
		t.Error("Type.String/Known/BlockBytes")
	}
	if _, err := Type(1000).RowBytes(32); err == nil {
		t.Error("RowBytes of an unknown type: no error")
	}
	if _, err := F64.RowBytes(math.MaxInt); err == nil {
		t.Error("RowBytes overflow: no error")
	}
	if _, err := F64.Bytes([]uint64{math.MaxUint64}); err == nil {
		t.Error("Bytes overflow: no error")
	}
}
