package gguf

import (
	"bytes"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sampleKV holds one entry of every metadata value type, arrays of every
// element type and nested arrays.
func sampleKV() []KV {
	return []KV{
		{"general.architecture", ValueOf("llama")},
		{"general.alignment", ValueOf(uint32(64))},
		{"u8", ValueOf(uint8(200))},
		{"i8", ValueOf(int8(-100))},
		{"u16", ValueOf(uint16(60000))},
		{"i16", ValueOf(int16(-30000))},
		{"u32", ValueOf(uint32(4000000000))},
		{"i32", ValueOf(int32(-2000000000))},
		{"f32", ValueOf(float32(1.5))},
		{"bool.true", ValueOf(true)},
		{"bool.false", ValueOf(false)},
		{"str", ValueOf("héllo\x00world")},
		{"str.empty", ValueOf("")},
		{"u64", ValueOf(uint64(1) << 63)},
		{"i64", ValueOf(int64(-1) << 62)},
		{"f64", ValueOf(2.25)},
		{"arr.u8", ValueOf([]uint8{1, 2, 255})},
		{"arr.i8", ValueOf([]int8{-1, 2})},
		{"arr.u16", ValueOf([]uint16{1, 65535})},
		{"arr.i16", ValueOf([]int16{-5})},
		{"arr.u32", ValueOf([]uint32{7, 8, 9})},
		{"arr.i32", ValueOf([]int32{-7, 8})},
		{"arr.f32", ValueOf([]float32{0.5, -1})},
		{"arr.bool", ValueOf([]bool{true, false, true})},
		{"arr.str", ValueOf([]string{"a", "", "ccc"})},
		{"arr.u64", ValueOf([]uint64{1 << 40})},
		{"arr.i64", ValueOf([]int64{-1 << 40})},
		{"arr.f64", ValueOf([]float64{1e300})},
		{"arr.arr", ValueOf([]Value{ValueOf([]int32{1, 2}), ValueOf([]string{"x"}), ValueOf([]Value{ValueOf([]uint8{9})})})},
	}
}

// sampleTensors returns tensors of several types with deterministic values.
func sampleTensors(t testing.TB) []WTensor {
	r := rng(9)
	mk := func(name string, typ Type, dims ...uint64) WTensor {
		n := uint64(1)
		for _, d := range dims {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = r.norm()
		}
		w, err := NewTensor(name, typ, dims, v)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	return []WTensor{
		mk("norm", F32, 8),
		mk("emb", F16, 32, 3),
		mk("w.q8", Q8_0, 64, 2),
		mk("w.q4", Q4_0, 32, 1, 2),
		mk("w.bf16", BF16, 4, 2, 1, 1),
	}
}

// sampleFile encodes sampleKV and sampleTensors.
func sampleFile(t testing.TB) []byte {
	var buf bytes.Buffer
	if err := Write(&buf, 3, sampleKV(), sampleTensors(t)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestWriteRoundTrip writes every value type and several tensors and parses
// them back unchanged, with the requested alignment.
func TestWriteRoundTrip(t *testing.T) {
	for _, version := range []uint32{2, 3} {
		kv, tensors := sampleKV(), sampleTensors(t)
		var buf bytes.Buffer
		if err := Write(&buf, version, kv, tensors); err != nil {
			t.Fatal(err)
		}
		f, err := Parse("rt.gguf", buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if f.Version != version || f.Alignment != 64 || f.DataOffset%64 != 0 {
			t.Fatalf("version %d alignment %d data offset %d", f.Version, f.Alignment, f.DataOffset)
		}
		if len(f.Keys) != len(kv) {
			t.Fatalf("%d keys, want %d", len(f.Keys), len(kv))
		}
		for i, e := range kv {
			if f.Keys[i] != e.Key {
				t.Fatalf("key %d = %q, want %q", i, f.Keys[i], e.Key)
			}
			if got := f.Metadata[e.Key]; !reflect.DeepEqual(got, e.Value) {
				t.Errorf("%s = %#v, want %#v", e.Key, got, e.Value)
			}
		}
		if len(f.Tensors) != len(tensors) {
			t.Fatalf("%d tensors", len(f.Tensors))
		}
		for i, w := range tensors {
			ti := &f.Tensors[i]
			if ti.Name != w.Name || ti.Type != w.Type || !reflect.DeepEqual(ti.Dims, w.Dims) || !bytes.Equal(ti.Data, w.Data) {
				t.Errorf("tensor %d: %s %v %s, want %s %v %s", i, ti.Name, ti.Dims, ti.Type, w.Name, w.Dims, w.Type)
			}
			if ti.Offset%64 != 0 {
				t.Errorf("tensor %s offset %d not aligned", ti.Name, ti.Offset)
			}
		}
		if s, _ := f.String("general.architecture"); s != "llama" || f.Arch() != "llama" {
			t.Error("String accessor")
		}
		if u, _ := f.Uint("u16"); u != 60000 {
			t.Error("Uint accessor")
		}
		if _, ok := f.Uint("i8"); ok {
			t.Error("Uint accepted a negative value")
		}
		if x, _ := f.Float("f64"); x != 2.25 {
			t.Error("Float accessor")
		}
		if b, ok := f.Bool("bool.true"); !ok || !b {
			t.Error("Bool accessor")
		}
		if a, ok := f.Int32s("arr.u32"); !ok || !reflect.DeepEqual(a, []int32{7, 8, 9}) {
			t.Error("Int32s accessor on uint32")
		}
		if a, ok := f.Float32s("arr.f32"); !ok || len(a) != 2 {
			t.Error("Float32s accessor")
		}
		if a, ok := f.Strings("arr.str"); !ok || len(a) != 3 {
			t.Error("Strings accessor")
		}
	}
}

// TestWriteFile writes a file to disk and opens it.
func TestWriteFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.gguf")
	if err := WriteFile(p, 3, []KV{{"a", ValueOf(uint32(1))}}, sampleTensors(t)); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Alignment != DefaultAlignment || len(f.Tensors) != 5 {
		t.Fatalf("alignment %d, %d tensors", f.Alignment, len(f.Tensors))
	}
	ti, ok := f.Tensor("w.q8")
	if !ok {
		t.Fatal("w.q8 missing")
	}
	if _, err := ti.Float32s(); err != nil {
		t.Fatal(err)
	}
	// No tensors, no metadata: still a valid file.
	var buf bytes.Buffer
	if err := Write(&buf, 3, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("empty", buf.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// TestWriteErrors checks that invalid input is refused before writing.
func TestWriteErrors(t *testing.T) {
	good := sampleTensors(t)[0]
	cases := []struct {
		name    string
		version uint32
		kv      []KV
		tensors []WTensor
		want    string
	}{
		{"version", 1, nil, nil, "version 1"},
		{"duplicate key", 3, []KV{{"a", ValueOf(1.0)}, {"a", ValueOf(2.0)}}, nil, "duplicate"},
		{"unsupported go type", 3, []KV{{"a", ValueOf(42)}}, nil, "int"},
		{"type mismatch", 3, []KV{{"a", Value{Type: TypeUint32, V: "x"}}}, nil, "uint32"},
		{"array elem mismatch", 3, []KV{{"a", Value{Type: TypeArray, Elem: TypeString, V: []int32{1}}}}, nil, "string"},
		{"array of non-arrays", 3, []KV{{"a", Value{Type: TypeArray, Elem: TypeArray, V: []Value{ValueOf(uint8(1))}}}}, nil, "element 0"},
		{"too deep", 3, []KV{{"a", ValueOf([]Value{ValueOf([]Value{ValueOf([]Value{ValueOf([]Value{ValueOf([]Value{})})})})})}}, nil, "nested"},
		{"alignment type", 3, []KV{{"general.alignment", ValueOf(uint64(32))}}, nil, "alignment"},
		{"alignment value", 3, []KV{{"general.alignment", ValueOf(uint32(48))}}, nil, "alignment"},
		{"duplicate tensor", 3, nil, []WTensor{good, good}, "duplicate tensor"},
		{"short data", 3, nil, []WTensor{{Name: "x", Dims: []uint64{4}, Type: F32, Data: make([]byte, 15)}}, "needs 16 bytes"},
		{"block size", 3, nil, []WTensor{{Name: "x", Dims: []uint64{16}, Type: Q8_0, Data: make([]byte, 17)}}, "block size"},
		{"rank", 3, nil, []WTensor{{Name: "x", Dims: []uint64{1, 1, 1, 1, 1}, Type: F32, Data: make([]byte, 4)}}, "rank"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, c.version, c.kv, c.tensors)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
			if buf.Len() != 0 {
				t.Fatalf("wrote %d bytes before failing", buf.Len())
			}
		})
	}
	if _, err := NewTensor("x", Q8_0, []uint64{32}, make([]float32, 31)); err == nil {
		t.Error("NewTensor with wrong value count: no error")
	}
	if err := Write(failWriter{}, 3, sampleKV(), nil); err == nil {
		t.Error("write error not reported")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
