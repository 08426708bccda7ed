package gguf

import (
	"strconv"
	"strings"
)

// maxNameInError bounds how much of a key or tensor name an error message
// quotes: names come from the file and may be as long as the file itself.
const maxNameInError = 64

// field names a place in the file for error messages, such as
// "metadata[tokenizer.ggml.tokens][7]" or "tensor[blk.0.attn_q.weight].dims[1]".
// It is a value type that is only formatted when an error is reported, so
// parsing a long array does not build a name per element (which, with a long
// key, would allocate quadratically in the file size).
type field struct {
	base   string // "magic", "metadata", "tensor", …
	name   string // a key or tensor name printed as base[name]; "" for none
	named  bool
	idx    [maxNesting + 1]uint64
	n      int // used entries of idx
	suffix [2]string
	ns     int // used entries of suffix
}

// fieldOf returns a field with the given base name.
func fieldOf(base string) field { return field{base: base} }

// named returns the field kind[name] (name clipped when formatted). It
// allocates nothing: the name is only copied into a message on error.
func named(kind, name string) field {
	return field{base: kind, name: name, named: true}
}

// at appends an index: f[i].
func (f field) at(i uint64) field {
	if f.n < len(f.idx) {
		f.idx[f.n] = i
		f.n++
	}
	return f
}

// dot appends a member: f.s. Indexes added after a member are not supported
// (they would print before it); use a member name such as "dims[1]" instead.
func (f field) dot(s string) field {
	if f.ns < len(f.suffix) {
		f.suffix[f.ns] = s
		f.ns++
	}
	return f
}

// dimField names dims[d] of a tensor without building a string.
var dimField = [maxDims]string{"dims[0]", "dims[1]", "dims[2]", "dims[3]"}

// String formats the field.
func (f field) String() string {
	var b strings.Builder
	b.WriteString(f.base)
	if f.named {
		b.WriteByte('[')
		b.WriteString(clip(f.name))
		b.WriteByte(']')
	}
	for _, i := range f.idx[:f.n] {
		b.WriteByte('[')
		b.WriteString(strconv.FormatUint(i, 10))
		b.WriteByte(']')
	}
	for _, s := range f.suffix[:f.ns] {
		b.WriteByte('.')
		b.WriteString(s)
	}
	return b.String()
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) <= maxNameInError {
		return s
	}
	return s[:maxNameInError] + "…"
}
