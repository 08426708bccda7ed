package gguf

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"nexusquant/internal/testfiles"
)

// FuzzParse feeds arbitrary bytes to Parse. It must never panic; errors must
// be *FormatError naming the file and a field; a successful parse must hold
// tensors inside the file that dequantize, and must survive a Write/Parse
// round trip unchanged.
//
//	go test ./engine/gguf -run '^$' -fuzz FuzzParse -fuzztime 30s
func FuzzParse(f *testing.F) {
	f.Add(sampleFile(f))
	var buf bytes.Buffer
	if err := Write(&buf, 2, []KV{{"a", ValueOf([]Value{ValueOf([]string{"x", "y"})})}}, nil); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(hdr(3, 1, 1).kvU32("general.alignment", 64).tensor("w", Q4_K, 0, 256).pad(144)))
	f.Add([]byte(hdr(3, 2, 0).tensor("a", Q8_0, 0, 32).tensor("b", Q6_K, 64, 256).pad(64 + 210)))
	for _, b := range demoSeeds(f) {
		f.Add(b)
	}
	// The first KB of the real models, when the shared data is configured
	// (optional seeds: the fuzz target itself does not need them).
	if dir, ok := testfiles.Lookup(); ok {
		for _, name := range []string{"stories260K.gguf", "syn-llama.Q4_K_M.gguf", "syn-qwen2.Q8_0.gguf"} {
			b, err := os.ReadFile(filepath.Join(dir, "models", name))
			if err == nil {
				f.Add(b[:min(len(b), 4096)])
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.gguf"
		g, err := Parse(name, data)
		if err != nil {
			checkFormatError(t, err, name)
			return
		}
		checkParsed(t, g, data)
	})
}

// checkParsed verifies the invariants of a successfully parsed file.
func checkParsed(t *testing.T, g *File, data []byte) {
	if g.DataOffset < 0 || g.DataOffset > int64(len(data)) {
		t.Fatalf("data offset %d outside the file", g.DataOffset)
	}
	for i := range g.Tensors {
		ti := &g.Tensors[i]
		size, err := ti.Type.Bytes(ti.Dims)
		if err != nil || size != uint64(len(ti.Data)) {
			t.Fatalf("tensor %q: %d bytes for %v %s (%v)", ti.Name, len(ti.Data), ti.Dims, ti.Type, err)
		}
		if got, ok := g.Tensor(ti.Name); !ok || got != ti {
			t.Fatalf("Tensor(%q) lookup failed", ti.Name)
		}
		if ti.Rows() > 0 && ti.Row(0) == nil {
			t.Fatalf("tensor %q: Row(0) nil", ti.Name)
		}
		if CanDequantize(ti.Type) && ti.Elements() <= 1<<16 {
			if _, err := ti.Float32s(); err != nil {
				t.Fatalf("tensor %q: %v", ti.Name, err)
			}
		}
	}
	// Round trip through the writer (only for files it can express:
	// general.alignment as a uint32, as llama.cpp writes it).
	kv := make([]KV, len(g.Keys))
	for i, k := range g.Keys {
		kv[i] = KV{k, g.Metadata[k]}
	}
	if a, ok := g.Metadata["general.alignment"]; ok {
		if _, ok := a.V.(uint32); !ok {
			return
		}
	}
	ws := make([]WTensor, len(g.Tensors))
	for i, ti := range g.Tensors {
		ws[i] = WTensor{ti.Name, ti.Dims, ti.Type, ti.Data}
	}
	var buf bytes.Buffer
	if err := Write(&buf, g.Version, kv, ws); err != nil {
		t.Fatalf("re-encoding a parsed file: %v", err)
	}
	h, err := Parse("again", buf.Bytes())
	if err != nil {
		t.Fatalf("parsing the re-encoded file: %v", err)
	}
	if !reflect.DeepEqual(h.Keys, g.Keys) || len(h.Tensors) != len(g.Tensors) {
		t.Fatal("round trip changed keys or tensor count")
	}
	for _, k := range g.Keys {
		if !equalValue(h.Metadata[k], g.Metadata[k]) {
			t.Fatalf("round trip changed %q: %#v → %#v", k, g.Metadata[k], h.Metadata[k])
		}
	}
	for i := range g.Tensors {
		a, b := &g.Tensors[i], &h.Tensors[i]
		if a.Name != b.Name || a.Type != b.Type || !reflect.DeepEqual(a.Dims, b.Dims) || !bytes.Equal(a.Data, b.Data) {
			t.Fatalf("round trip changed tensor %q", a.Name)
		}
	}
}

// equalValue compares values, treating NaNs with equal bits as equal and nil
// and empty slices alike.
func equalValue(a, b Value) bool {
	if a.Type != b.Type || a.Elem != b.Elem {
		return false
	}
	return bytes.Equal(encodeValue(a), encodeValue(b))
}

// encodeValue is v's payload as Write encodes it.
func encodeValue(v Value) []byte {
	var b bytes.Buffer
	e := &encoder{w: bufio.NewWriter(&b)}
	e.value(v)
	e.w.Flush()
	return b.Bytes()
}

// checkFormatError fails t unless err is a *FormatError naming file and a field.
func checkFormatError(t *testing.T, err error, file string) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) || fe.File != file || fe.Field == "" {
		t.Fatalf("bad error %v (%T)", err, err)
	}
}

// demoSeeds are real GGUF headers from the models committed as the
// explorer's demo (internal/demo): each file's first 8 KiB, and copies of it
// with a length field, a type tag and a string byte changed.
func demoSeeds(f *testing.F) [][]byte {
	f.Helper()
	var out [][]byte
	for _, name := range []string{"stories260K.gguf", "tiny-llama-hd64.Q8_0.gguf"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "internal", "demo", name))
		if err != nil {
			f.Fatalf("demo model for the fuzz seeds: %v", err)
		}
		head := b[:min(len(b), 8192)]
		out = append(out, head)
		for _, at := range []int{16, 24, 40, 100, 1000} { // counts, the first key, its type, strings
			m := append([]byte(nil), head...)
			m[at] ^= 0x5a
			out = append(out, m)
		}
	}
	return out
}
