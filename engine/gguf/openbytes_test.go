package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// TestOpenBytes parses an in-memory image at every start alignment: the
// tensor data lands on 64-byte-aligned addresses offset by the tensor
// offsets, equals the image's bytes, aliases data when data was already
// aligned, and is cut off by Close.
func TestOpenBytes(t *testing.T) {
	img := sampleFile(t)
	want, err := Parse("want.gguf", img)
	if err != nil {
		t.Fatal(err)
	}
	backing := make([]byte, len(img)+2*dataAlign)
	for shift := 0; shift < dataAlign; shift++ {
		data := backing[shift : shift+len(img)]
		copy(data, img)
		f, err := OpenBytes("mem.gguf", data)
		if err != nil {
			t.Fatalf("shift %d: %v", shift, err)
		}
		if f.Path != "mem.gguf" || f.Size() != int64(len(img)) || len(f.Tensors) != len(want.Tensors) {
			t.Fatalf("shift %d: path %q, size %d, %d tensors", shift, f.Path, f.Size(), len(f.Tensors))
		}
		base := uintptr(unsafe.Pointer(&f.Header()[0]))
		if base%dataAlign != 0 {
			t.Fatalf("shift %d: image starts at %#x, not %d-byte aligned", shift, base, dataAlign)
		}
		aliased := base == uintptr(unsafe.Pointer(&data[0]))
		if aliased != (uintptr(unsafe.Pointer(&data[0]))%dataAlign == 0) {
			t.Fatalf("shift %d: aliased = %v for a start at %#x", shift, aliased, uintptr(unsafe.Pointer(&data[0])))
		}
		for i := range f.Tensors {
			ti := &f.Tensors[i]
			if !bytes.Equal(ti.Data, want.Tensors[i].Data) {
				t.Fatalf("shift %d: tensor %s data differs", shift, ti.Name)
			}
			if p := uintptr(unsafe.Pointer(&ti.Data[0])); p%tensorAlign(f.Alignment) != 0 {
				t.Fatalf("shift %d: tensor %s at %#x, not aligned", shift, ti.Name, p)
			}
		}
		ti := &f.Tensors[0]
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if ti.Data != nil || f.Header() != nil {
			t.Fatal("tensor data or header still reachable after Close")
		}
		if err := f.Close(); err != nil {
			t.Fatal("second Close:", err)
		}
	}
}

// tensorAlign is the alignment OpenBytes promises tensor data: the file's,
// capped at dataAlign.
func tensorAlign(a int) uintptr { return uintptr(min(a, dataAlign)) }

// TestOpenBytesTruncated opens every prefix of an image, each at an odd start
// address so that OpenBytes copies it: a prefix that cuts into the header or
// any tensor's data is a *FormatError naming the file, never a panic.
func TestOpenBytesTruncated(t *testing.T) {
	img := sampleFile(t)
	full, err := Parse("full.gguf", img)
	if err != nil {
		t.Fatal(err)
	}
	end := 0
	for _, ti := range full.Tensors {
		end = max(end, int(full.DataOffset)+int(ti.Offset)+len(ti.Data))
	}
	const name = "demo/cut.gguf"
	for n := 0; n < len(img); n++ {
		buf := make([]byte, n+1)
		copy(buf[1:], img[:n])
		f, err := OpenBytes(name, buf[1:])
		if n >= end {
			if err != nil {
				t.Fatalf("prefix of %d bytes (all tensor data present) failed: %v", n, err)
			}
			continue
		}
		if err == nil {
			f.Close()
			t.Fatalf("prefix of %d bytes (of %d) opened without error", n, len(img))
		}
		var fe *FormatError
		if !errors.As(err, &fe) || fe.File != name || !strings.Contains(err.Error(), name) {
			t.Fatalf("prefix of %d bytes: error %q (%T) does not name %s", n, err, err, name)
		}
	}
}

// FuzzOpenBytes: OpenBytes never panics, and fails only with a *FormatError
// naming the file; whatever it opens has the invariants Parse guarantees.
//
//	go test ./engine/gguf -run '^$' -fuzz FuzzOpenBytes -fuzztime 30s
func FuzzOpenBytes(f *testing.F) {
	img := sampleFile(f)
	f.Add(img)
	for _, b := range demoSeeds(f) {
		f.Add(b)
	}
	f.Add(img[:len(img)/2])
	f.Add(img[:40])
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz-bytes.gguf"
		g, err := OpenBytes(name, data)
		if err != nil {
			checkFormatError(t, err, name)
			return
		}
		checkParsed(t, g, data)
		g.Close()
	})
}

// TestHostileCountCostsNoMemory: a string array whose count claims far more
// elements than the file holds is refused without reserving memory for the
// claim (a mutation campaign finding: such a count cost 6× the file size).
func TestHostileCountCostsNoMemory(t *testing.T) {
	var buf bytes.Buffer
	pad := strings.Repeat("x", 1<<20) // a 1 MiB string keeps the file large
	if err := Write(&buf, 3, []KV{{Key: "a.tokens", Value: ValueOf([]string{"a", "b", "c"})}, {Key: "b.pad", Value: ValueOf(pad)}}, nil); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	key := bytes.Index(data, []byte("a.tokens"))
	countAt := key + len("a.tokens") + 4 + 4 // after the key: value type, element type, then the count
	if got := binary.LittleEndian.Uint64(data[countAt:]); got != 3 {
		t.Fatalf("count at %d reads %d, want 3", countAt, got)
	}
	binary.LittleEndian.PutUint64(data[countAt:], uint64(len(data)/9)) // as many as could fit
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	_, err := Parse("hostile.gguf", data)
	runtime.ReadMemStats(&b)
	if err == nil {
		t.Fatal("a count past the data was accepted")
	}
	if alloc := b.TotalAlloc - a.TotalAlloc; alloc > uint64(len(data))/2 {
		t.Errorf("parsing allocated %d bytes for a %d-byte file", alloc, len(data))
	}
}
