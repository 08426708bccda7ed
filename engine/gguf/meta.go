package gguf

// Typed metadata accessors. Each returns ok=false when the key is absent or
// holds another type; integer accessors accept any integer width.

// String returns a string value.
func (f *File) String(key string) (string, bool) {
	s, ok := f.Metadata[key].V.(string)
	return s, ok
}

// Uint returns a non-negative integer value.
func (f *File) Uint(key string) (uint64, bool) {
	v, ok := f.Metadata[key]
	if !ok {
		return 0, false
	}
	return v.Uint()
}

// Float returns a numeric value.
func (f *File) Float(key string) (float64, bool) {
	v, ok := f.Metadata[key]
	if !ok {
		return 0, false
	}
	return v.Float()
}

// Bool returns a bool value.
func (f *File) Bool(key string) (bool, bool) {
	b, ok := f.Metadata[key].V.(bool)
	return b, ok
}

// Strings returns an array of strings.
func (f *File) Strings(key string) ([]string, bool) {
	s, ok := f.Metadata[key].V.([]string)
	return s, ok
}

// Float32s returns an array of float32.
func (f *File) Float32s(key string) ([]float32, bool) {
	s, ok := f.Metadata[key].V.([]float32)
	return s, ok
}

// Int32s returns an array of 32-bit integers (int32 or uint32 elements).
func (f *File) Int32s(key string) ([]int32, bool) {
	switch s := f.Metadata[key].V.(type) {
	case []int32:
		return s, true
	case []uint32:
		out := make([]int32, len(s))
		for i, x := range s {
			out[i] = int32(x)
		}
		return out, true
	}
	return nil, false
}

// Arch is general.architecture ("" when absent).
func (f *File) Arch() string {
	s, _ := f.String("general.architecture")
	return s
}
