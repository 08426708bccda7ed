package gguf

import (
	"fmt"
	"math"
)

// Type is a ggml tensor type id as stored in GGUF tensor infos.
type Type uint32

// The ggml tensor types. Only some can be dequantized (see CanDequantize); the
// rest are known by size so a file holding them still parses.
const (
	F32     Type = 0
	F16     Type = 1
	Q4_0    Type = 2
	Q4_1    Type = 3
	Q5_0    Type = 6
	Q5_1    Type = 7
	Q8_0    Type = 8
	Q8_1    Type = 9
	Q2_K    Type = 10
	Q3_K    Type = 11
	Q4_K    Type = 12
	Q5_K    Type = 13
	Q6_K    Type = 14
	Q8_K    Type = 15
	IQ2_XXS Type = 16
	IQ2_XS  Type = 17
	IQ3_XXS Type = 18
	IQ1_S   Type = 19
	IQ4_NL  Type = 20
	IQ3_S   Type = 21
	IQ2_S   Type = 22
	IQ4_XS  Type = 23
	I8      Type = 24
	I16     Type = 25
	I32     Type = 26
	I64     Type = 27
	F64     Type = 28
	IQ1_M   Type = 29
	BF16    Type = 30
	TQ1_0   Type = 34
	TQ2_0   Type = 35
)

type typeInfo struct {
	name       string
	blockElems int // elements per block
	blockBytes int // bytes per block
}

// typeTable is indexed by Type; an entry with an empty name is an unknown type.
// An array rather than a map keeps BlockBytes/RowBytes cheap on hot paths.
var typeTable = [...]typeInfo{
	F32: {"F32", 1, 4}, F16: {"F16", 1, 2}, BF16: {"BF16", 1, 2}, F64: {"F64", 1, 8},
	I8: {"I8", 1, 1}, I16: {"I16", 1, 2}, I32: {"I32", 1, 4}, I64: {"I64", 1, 8},
	Q4_0: {"Q4_0", 32, 18}, Q4_1: {"Q4_1", 32, 20}, Q5_0: {"Q5_0", 32, 22}, Q5_1: {"Q5_1", 32, 24},
	Q8_0: {"Q8_0", 32, 34}, Q8_1: {"Q8_1", 32, 36},
	Q2_K: {"Q2_K", 256, 84}, Q3_K: {"Q3_K", 256, 110}, Q4_K: {"Q4_K", 256, 144},
	Q5_K: {"Q5_K", 256, 176}, Q6_K: {"Q6_K", 256, 210}, Q8_K: {"Q8_K", 256, 292},
	IQ2_XXS: {"IQ2_XXS", 256, 66}, IQ2_XS: {"IQ2_XS", 256, 74}, IQ3_XXS: {"IQ3_XXS", 256, 98},
	IQ1_S: {"IQ1_S", 256, 50}, IQ4_NL: {"IQ4_NL", 32, 18}, IQ3_S: {"IQ3_S", 256, 110},
	IQ2_S: {"IQ2_S", 256, 82}, IQ4_XS: {"IQ4_XS", 256, 136}, IQ1_M: {"IQ1_M", 256, 56},
	TQ1_0: {"TQ1_0", 256, 54}, TQ2_0: {"TQ2_0", 256, 66},
}

// info returns the type's layout; ok is false for unknown types.
func (t Type) info() (typeInfo, bool) {
	if uint64(t) >= uint64(len(typeTable)) || typeTable[t].name == "" {
		return typeInfo{}, false
	}
	return typeTable[t], true
}

// Known reports whether the type's block layout is known.
func (t Type) Known() bool { _, ok := t.info(); return ok }

// String is the ggml name of the type ("Q4_K"), or "type(N)" if unknown.
func (t Type) String() string {
	if ti, ok := t.info(); ok {
		return ti.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockElems is the number of elements one block holds (1 for plain types,
// 0 for unknown types).
func (t Type) BlockElems() int { ti, _ := t.info(); return ti.blockElems }

// BlockBytes is the size in bytes of one block (0 for unknown types).
func (t Type) BlockBytes() int { ti, _ := t.info(); return ti.blockBytes }

// RowBytes is the size in bytes of a row of n elements; n must be a multiple
// of the block size.
func (t Type) RowBytes(n int) (int, error) {
	ti, ok := t.info()
	if !ok {
		return 0, fmt.Errorf("unknown tensor type %d", uint32(t))
	}
	if n < 0 || n%ti.blockElems != 0 {
		return 0, fmt.Errorf("row of %d elements is not a multiple of the %s block size %d", n, ti.name, ti.blockElems)
	}
	if n/ti.blockElems > math.MaxInt/ti.blockBytes {
		return 0, fmt.Errorf("row of %d %s elements overflows", n, ti.name)
	}
	return n / ti.blockElems * ti.blockBytes, nil
}

// Bytes is the size in bytes of a tensor of the given dims (dims[0] fastest).
func (t Type) Bytes(dims []uint64) (uint64, error) {
	ti, ok := t.info()
	if !ok {
		return 0, fmt.Errorf("unknown tensor type %d", uint32(t))
	}
	if len(dims) == 0 {
		return 0, fmt.Errorf("tensor has no dimensions")
	}
	if dims[0]%uint64(ti.blockElems) != 0 {
		return 0, fmt.Errorf("first dimension %d is not a multiple of the %s block size %d", dims[0], ti.name, ti.blockElems)
	}
	if dims[0]/uint64(ti.blockElems) > math.MaxUint64/uint64(ti.blockBytes) {
		return 0, fmt.Errorf("tensor size overflows")
	}
	rowBytes := dims[0] / uint64(ti.blockElems) * uint64(ti.blockBytes)
	total := rowBytes
	for _, d := range dims[1:] {
		if d != 0 && total > (1<<62)/d {
			return 0, fmt.Errorf("tensor size overflows")
		}
		total *= d
	}
	return total, nil
}
