// Package gguf reads GGUF model files (versions 2 and 3): the header, every
// metadata value type, tensor infos and alignment, with tensor data mapped from
// the file rather than copied (Open), or viewed in a GGUF image already in
// memory, such as an embedded model (OpenBytes).
//
// Every count, length, offset and shape read from the file is checked against
// the file size before it is used, so a truncated or hostile file yields an
// error that names the file and the field, never a panic and never an
// allocation larger than the file itself.
package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"unsafe"
)

// Magic is the four bytes every GGUF file starts with.
const Magic = "GGUF"

// DefaultAlignment is the tensor data alignment when general.alignment is absent.
const DefaultAlignment = 32

// maxDims is the largest tensor rank ggml supports.
const maxDims = 4

// preallocMax bounds the capacity reserved from a count in the file before
// its elements are read; beyond it tables grow as elements arrive.
const preallocMax = 1 << 12

// prealloc is how many elements of an array may be reserved before they
// are read when left bytes of the file remain: a real vocabulary's tens of
// thousands of strings are reserved at once, while a hostile count reserves
// at most about a quarter of the file's size in string headers.
func prealloc(left int) uint64 { return max(preallocMax, uint64(left)/64) }

// File is an opened GGUF file. Tensor data slices alias the mapping and are
// valid until Close.
type File struct {
	Path      string
	Version   uint32
	Alignment int
	// Metadata maps each key to its value; Keys keeps the file order.
	Metadata map[string]Value
	Keys     []string
	Tensors  []TensorInfo
	// DataOffset is where the tensor data section starts in the file.
	DataOffset int64

	byName map[string]int
	data   []byte
	unmap  func() error
}

// TensorInfo describes one tensor. Dims[0] is the fastest-varying (ggml ne[0]):
// a weight with Dims [in, out] is a row-major (out × in) matrix.
type TensorInfo struct {
	Name   string
	Dims   []uint64
	Type   Type
	Offset uint64 // relative to the data section
	// Data is the tensor's bytes inside the mapping (exactly Size() bytes).
	Data []byte
}

// Elements is the product of the dimensions.
func (t *TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Rows is the number of rows of Dims[0] elements each.
func (t *TensorInfo) Rows() int {
	if len(t.Dims) == 0 || t.Dims[0] == 0 {
		return 0
	}
	return int(t.Elements() / t.Dims[0])
}

// Open maps path and parses it. The caller must Close the file.
func Open(path string) (*File, error) {
	data, unmap, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: %w", path, err)
	}
	return open(path, data, unmap)
}

// dataAlign is the start alignment OpenBytes gives a GGUF image, so that
// tensor data (at multiples of general.alignment from an aligned data
// section) is as aligned as in a mapped file, up to 64 bytes: enough for the
// engine's float32 and float16 views and for cache-line-aligned loads.
const dataAlign = 64

// OpenBytes parses a GGUF image held in memory, as Open parses a mapped
// file, with the same checks; name stands for the path in File.Path and in
// errors (e.g. the file name of an embedded model). The tensor data aliases
// data when it starts on a 64-byte boundary, and an aligned copy of it
// otherwise; either way the caller must not modify data while the File is in
// use. Close clears the tensor data as for a mapped file; there is nothing
// to unmap.
func OpenBytes(name string, data []byte) (*File, error) {
	return open(name, alignedBytes(data), nil)
}

// alignedBytes returns data if it starts on a dataAlign boundary (or is
// empty), else a copy that does.
func alignedBytes(data []byte) []byte {
	if len(data) == 0 || uintptr(unsafe.Pointer(&data[0]))%dataAlign == 0 {
		return data
	}
	buf := make([]byte, len(data)+dataAlign-1)
	off := (dataAlign - int(uintptr(unsafe.Pointer(&buf[0]))%dataAlign)) % dataAlign
	buf = buf[off : off+len(data) : off+len(data)]
	copy(buf, data)
	return buf
}

// open parses data as name and attaches unmap (nil for memory that needs no
// release), releasing the data if parsing fails.
func open(name string, data []byte, unmap func() error) (*File, error) {
	f, err := Parse(name, data)
	if err != nil {
		if unmap != nil {
			unmap()
		}
		return nil, err
	}
	f.unmap = unmap
	return f, nil
}

// Close releases the mapping. Tensor data must not be used afterwards: Close
// clears every TensorInfo.Data so that later use through this File fails
// cleanly (Float32s errors, Row returns nil), but copies of those slices made
// before Close point at unmapped memory. Closing a File twice, or one that
// Parse or OpenBytes made, is allowed.
func (f *File) Close() error {
	for i := range f.Tensors {
		f.Tensors[i].Data = nil
	}
	f.data = nil
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap = nil
	return err
}

// Size is the size of the file in bytes.
func (f *File) Size() int64 { return int64(len(f.data)) }

// Header returns the file's bytes before the tensor data section (magic,
// metadata and tensor infos): a cheap identity of the model for hashing.
// It is nil after Close.
func (f *File) Header() []byte {
	if int64(len(f.data)) < f.DataOffset {
		return nil
	}
	return f.data[:f.DataOffset]
}

// Parse reads a GGUF image held in memory; name is used in error messages.
func Parse(name string, data []byte) (*File, error) {
	r := &reader{name: name, buf: data}
	f := &File{Path: name, data: data}

	magic, err := r.bytes(fieldOf("magic"), 4)
	if err != nil {
		return nil, err
	}
	if string(magic) != Magic {
		return nil, r.errf(fieldOf("magic"), "not a GGUF file (starts with %q)", magic)
	}
	if f.Version, err = r.u32(fieldOf("version")); err != nil {
		return nil, err
	}
	if f.Version != 2 && f.Version != 3 {
		return nil, r.errf(fieldOf("version"), "unsupported GGUF version %d (supported: 2, 3)", f.Version)
	}
	nTensors, err := r.u64(fieldOf("tensor_count"))
	if err != nil {
		return nil, err
	}
	nKV, err := r.u64(fieldOf("metadata_kv_count"))
	if err != nil {
		return nil, err
	}
	// Each KV takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at
	// least 8 + 4 + 8 + 4 + 8. Refuse counts the file cannot possibly hold.
	if nKV > uint64(r.left())/13 {
		return nil, r.errf(fieldOf("metadata_kv_count"), "%d entries cannot fit in %d remaining bytes", nKV, r.left())
	}
	// The tables grow with what is read: a count is only a claim, and a
	// hostile one must not cost more memory than the bytes behind it.
	f.Metadata = make(map[string]Value, min(nKV, preallocMax))
	f.Keys = make([]string, 0, min(nKV, preallocMax))
	for i := uint64(0); i < nKV; i++ {
		key, err := r.str(fieldOf("metadata").at(i).dot("key"))
		if err != nil {
			return nil, err
		}
		field := named("metadata", key)
		vt, err := r.u32(field.dot("type"))
		if err != nil {
			return nil, err
		}
		v, err := r.value(field, ValueType(vt), 0)
		if err != nil {
			return nil, err
		}
		if _, dup := f.Metadata[key]; dup {
			return nil, r.errf(field, "duplicate metadata key")
		}
		f.Metadata[key] = v
		f.Keys = append(f.Keys, key)
	}

	f.Alignment = DefaultAlignment
	if v, ok := f.Metadata["general.alignment"]; ok {
		a, ok := v.Uint()
		if !ok || a == 0 || a > 1<<20 || a&(a-1) != 0 {
			return nil, r.errf(named("metadata", "general.alignment"), "must be a power of two up to 1 MiB, got %v", v.V)
		}
		f.Alignment = int(a)
	}

	if nTensors > uint64(r.left())/32 {
		return nil, r.errf(fieldOf("tensor_count"), "%d tensors cannot fit in %d remaining bytes", nTensors, r.left())
	}
	f.Tensors = make([]TensorInfo, 0, min(nTensors, preallocMax))
	f.byName = make(map[string]int, min(nTensors, preallocMax))
	for i := uint64(0); i < nTensors; i++ {
		t, err := r.tensorInfo(i)
		if err != nil {
			return nil, err
		}
		if _, dup := f.byName[t.Name]; dup {
			return nil, r.errf(named("tensor", t.Name), "duplicate tensor name")
		}
		f.byName[t.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}

	off := int64(r.off)
	if rem := off % int64(f.Alignment); rem != 0 {
		off += int64(f.Alignment) - rem
	}
	if off > int64(len(data)) && nTensors > 0 {
		return nil, r.errf(fieldOf("tensor data"), "data section starts at %d, past the end of the file (%d bytes)", off, len(data))
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	f.DataOffset = off
	dataLen := uint64(int64(len(data)) - off)

	// Bind tensor data, checking alignment and bounds; tensors must not overlap.
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		field := named("tensor", t.Name)
		if t.Offset%uint64(f.Alignment) != 0 {
			return nil, r.errf(field.dot("offset"), "offset %d is not a multiple of the alignment %d", t.Offset, f.Alignment)
		}
		size, err := t.Type.Bytes(t.Dims)
		if err != nil {
			return nil, r.errf(field, "%v", err)
		}
		if t.Offset > dataLen || size > dataLen-t.Offset {
			return nil, r.errf(field, "%d bytes of data at offset %d run past the end of the data section (%d bytes; file truncated?)", size, t.Offset, dataLen)
		}
		t.Data = data[off+int64(t.Offset) : off+int64(t.Offset)+int64(size) : off+int64(t.Offset)+int64(size)]
	}
	sort.Slice(order, func(a, b int) bool { return f.Tensors[order[a]].Offset < f.Tensors[order[b]].Offset })
	for k := 1; k < len(order); k++ {
		prev, cur := &f.Tensors[order[k-1]], &f.Tensors[order[k]]
		if prev.Offset+uint64(len(prev.Data)) > cur.Offset {
			return nil, r.errf(named("tensor", cur.Name), "data overlaps tensor %q", clip(prev.Name))
		}
	}
	return f, nil
}

// Tensor returns the named tensor.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// ErrFormat is wrapped by every parse error.
var ErrFormat = errors.New("malformed GGUF")

// FormatError names the file, the field and the byte offset of a parse failure.
type FormatError struct {
	File   string
	Field  string
	Offset int
	Msg    string
}

// Error formats the error as "gguf: FILE: FIELD (at byte N): MESSAGE".
func (e *FormatError) Error() string {
	return fmt.Sprintf("gguf: %s: %s (at byte %d): %s", e.File, e.Field, e.Offset, e.Msg)
}

// Unwrap makes errors.Is(err, ErrFormat) true.
func (e *FormatError) Unwrap() error { return ErrFormat }

type reader struct {
	name string
	buf  []byte
	off  int
}

// left is the number of unread bytes.
func (r *reader) left() int { return len(r.buf) - r.off }

// errf returns a *FormatError for field at the current offset.
func (r *reader) errf(f field, format string, args ...any) error {
	return &FormatError{File: r.name, Field: f.String(), Offset: r.off, Msg: fmt.Sprintf(format, args...)}
}

// bytes consumes n bytes, failing (without allocating) if fewer are left.
func (r *reader) bytes(field field, n uint64) ([]byte, error) {
	if n > uint64(r.left()) {
		return nil, r.errf(field, "needs %d bytes, only %d left (file truncated?)", n, r.left())
	}
	b := r.buf[r.off : r.off+int(n)]
	r.off += int(n)
	return b, nil
}

// u32 reads a little-endian uint32.
func (r *reader) u32(field field) (uint32, error) {
	b, err := r.bytes(field, 4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

// u64 reads a little-endian uint64.
func (r *reader) u64(field field) (uint64, error) {
	b, err := r.bytes(field, 8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// str reads a GGUF string: a uint64 length and that many bytes.
func (r *reader) str(field field) (string, error) {
	n, err := r.u64(field.dot("length"))
	if err != nil {
		return "", err
	}
	b, err := r.bytes(field, n)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// tensorInfo reads tensor info i: name, rank, dims, type and offset.
func (r *reader) tensorInfo(i uint64) (TensorInfo, error) {
	var t TensorInfo
	var err error
	if t.Name, err = r.str(fieldOf("tensor").at(i).dot("name")); err != nil {
		return t, err
	}
	field := named("tensor", t.Name)
	nd, err := r.u32(field.dot("n_dims"))
	if err != nil {
		return t, err
	}
	if nd == 0 || nd > maxDims {
		return t, r.errf(field.dot("n_dims"), "rank %d outside 1..%d", nd, maxDims)
	}
	t.Dims = make([]uint64, nd)
	total := uint64(1)
	for d := range t.Dims {
		if t.Dims[d], err = r.u64(field.dot(dimField[d])); err != nil {
			return t, err
		}
		if t.Dims[d] == 0 || t.Dims[d] > 1<<40 {
			return t, r.errf(field.dot("dims"), "dimension %d is %d", d, t.Dims[d])
		}
		if total > math.MaxUint64/t.Dims[d] {
			return t, r.errf(field.dot("dims"), "element count overflows")
		}
		total *= t.Dims[d]
	}
	typ, err := r.u32(field.dot("type"))
	if err != nil {
		return t, err
	}
	t.Type = Type(typ)
	if !t.Type.Known() {
		return t, r.errf(field.dot("type"), "unknown or unsupported tensor type %d", typ)
	}
	if t.Offset, err = r.u64(field.dot("offset")); err != nil {
		return t, err
	}
	return t, nil
}
