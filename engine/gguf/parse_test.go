package gguf

import (
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// raw builds GGUF bytes by hand, for headers the Writer refuses to produce.
type raw []byte

func (r raw) u32(x uint32) raw { return binary.LittleEndian.AppendUint32(r, x) }
func (r raw) u64(x uint64) raw { return binary.LittleEndian.AppendUint64(r, x) }
func (r raw) str(s string) raw { return append(r.u64(uint64(len(s))), s...) }

// hdr starts a file: magic, version and the two counts.
func hdr(version uint32, nTensors, nKV uint64) raw {
	return raw(Magic).u32(version).u64(nTensors).u64(nKV)
}

// kvU32 appends a uint32 metadata entry.
func (r raw) kvU32(key string, v uint32) raw { return r.str(key).u32(uint32(TypeUint32)).u32(v) }

// tensor appends a tensor info.
func (r raw) tensor(name string, typ Type, offset uint64, dims ...uint64) raw {
	r = r.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		r = r.u64(d)
	}
	return r.u32(uint32(typ)).u64(offset)
}

// pad appends zeros to a multiple of 32 and then n bytes of data.
func (r raw) pad(n int) raw {
	for len(r)%32 != 0 {
		r = append(r, 0)
	}
	return append(r, make([]byte, n)...)
}

// parseChecked parses data and checks that any error is a *FormatError that
// names the file and a field, and that parsing allocated at most a small
// multiple of the file size. It returns the error.
func parseChecked(t *testing.T, name string, data []byte) error {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Parse(name, data)
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > allocBudget(len(data)) {
		t.Errorf("parsing %d bytes allocated %d bytes (budget %d)", len(data), alloc, allocBudget(len(data)))
	}
	if err == nil {
		return nil
	}
	var fe *FormatError
	if !errors.As(err, &fe) || !errors.Is(err, ErrFormat) {
		t.Fatalf("error %v (%T) is not a *FormatError", err, err)
	}
	if fe.File != name || fe.Field == "" || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), fe.Field) {
		t.Fatalf("error %q does not name the file %q and a field (%q)", err, name, fe.Field)
	}
	return err
}

// allocBudget is the most a parse of n bytes may allocate: the metadata and
// tensor tables cost a few times the bytes that encode them (a string header
// is 16 bytes for an 8-byte length; a Value 24 bytes for a 12-byte array
// header; a map entry ~50 bytes for a 16-byte minimal KV), plus a fixed
// overhead. Measured worst case: 6.2× for a file of 5000 minimal KVs.
func allocBudget(n int) uint64 { return 8*uint64(n) + 64<<10 }

// TestParseTruncated parses every prefix of a generated file: every prefix
// that cuts into the header or any tensor's data is an error naming the file
// and a field, never a panic; prefixes that only drop the final padding parse.
func TestParseTruncated(t *testing.T) {
	data := sampleFile(t)
	full, err := Parse("full.gguf", data)
	if err != nil {
		t.Fatal(err)
	}
	end := 0
	for _, ti := range full.Tensors {
		end = max(end, int(full.DataOffset)+int(ti.Offset)+len(ti.Data))
	}
	for n := 0; n < len(data); n++ {
		prefix := append([]byte(nil), data[:n]...)
		err := parseChecked(t, "cut.gguf", prefix)
		if n < end && err == nil {
			t.Fatalf("prefix of %d bytes (of %d) parsed without error", n, len(data))
		}
		if n >= end && err != nil {
			t.Fatalf("prefix of %d bytes (all tensor data present) failed: %v", n, err)
		}
	}
}

// TestParseHostile feeds hand-made hostile headers; each must fail with an
// error naming the expected field, within the allocation budget.
func TestParseHostile(t *testing.T) {
	long := strings.Repeat("k", 50000)
	nested := raw(nil) // 5 levels of arrays of arrays, one element each
	for i := 0; i < 5; i++ {
		nested = nested.u32(uint32(TypeArray)).u64(1)
	}
	strArray := hdr(3, 0, 1).str(long).u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(20000)
	for i := 0; i < 20000; i++ {
		strArray = strArray.u64(0)
	}
	strArrayBad := append(append(raw(nil), strArray...), 0) // then an array of arrays of empty arrays, truncated
	arrArray := hdr(3, 0, 1).str(long).u32(uint32(TypeArray)).u32(uint32(TypeArray)).u64(8000)
	for i := 0; i < 8000; i++ {
		arrArray = arrArray.u32(uint32(TypeUint8)).u64(0)
	}
	manyKV := hdr(3, 0, 5000) // the smallest possible entries: 1-byte key, uint8 value
	for i := 0; i < 5000; i++ {
		manyKV = manyKV.str(string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))).u32(uint32(TypeUint8))
		manyKV = append(manyKV, 1)
	}
	manyTensors := hdr(3, 3000, 0)
	for i := 0; i < 3000; i++ {
		manyTensors = manyTensors.tensor(string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676)), F32, uint64(32*i), 1)
	}
	manyTensors = manyTensors.pad(32 * 3000)
	cases := []struct {
		name  string
		data  raw
		field string // substring of the error's field
		ok    bool   // the file is valid (a size check, not an error case)
	}{
		{"empty", nil, "magic", false},
		{"bad magic", raw("GGML").u32(3).u64(0).u64(0), "magic", false},
		{"version 1", hdr(1, 0, 0), "version", false},
		{"version 4", hdr(4, 0, 0), "version", false},
		{"huge tensor count", hdr(3, 1<<62, 0), "tensor_count", false},
		{"huge kv count", hdr(3, 0, 1<<62), "metadata_kv_count", false},
		{"kv count past file", hdr(3, 0, 3).kvU32("a", 1), "metadata_kv_count", false},
		{"huge key length", hdr(3, 0, 1).u64(1 << 62).pad(32), "metadata[0].key", false},
		{"huge string value", hdr(3, 0, 1).str("s").u32(uint32(TypeString)).u64(1 << 62).pad(32), "metadata[s]", false},
		{"huge scalar array", hdr(3, 0, 1).str("a").u32(uint32(TypeArray)).u32(uint32(TypeUint64)).u64(1 << 61).pad(64), "metadata[a]", false},
		{"huge string array", hdr(3, 0, 1).str("a").u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(1 << 61).pad(64), "metadata[a]", false},
		{"huge array of arrays", hdr(3, 0, 1).str("a").u32(uint32(TypeArray)).u32(uint32(TypeArray)).u64(1 << 61).pad(64), "metadata[a]", false},
		{"nested too deep", append(hdr(3, 0, 1).str("n").u32(uint32(TypeArray)), nested...).pad(64), "metadata[n][0][0][0]", false},
		{"unknown value type", hdr(3, 0, 1).str("x").u32(13).pad(8), "metadata[x]", false},
		{"unknown array elem type", hdr(3, 0, 1).str("x").u32(uint32(TypeArray)).u32(99).u64(1).pad(8), "metadata[x]", false},
		{"bad bool", hdr(3, 0, 1).str("b").u32(uint32(TypeBool)).u32(2), "metadata[b]", false},
		{"bad bool in array", hdr(3, 0, 1).str("b").u32(uint32(TypeArray)).u32(uint32(TypeBool)).u64(3).u32(0x00050001), "metadata[b][2]", false},
		{"duplicate key", hdr(3, 0, 2).kvU32("a", 1).kvU32("a", 2), "metadata[a]", false},
		{"alignment not power of two", hdr(3, 0, 1).kvU32("general.alignment", 48), "general.alignment", false},
		{"alignment zero", hdr(3, 0, 1).kvU32("general.alignment", 0), "general.alignment", false},
		{"alignment huge", hdr(3, 0, 1).kvU32("general.alignment", 1<<30), "general.alignment", false},
		{"alignment string", hdr(3, 0, 1).str("general.alignment").u32(uint32(TypeString)).str("32"), "general.alignment", false},
		{"rank 0", hdr(3, 1, 0).tensor("w", F32, 0).pad(64), "tensor[w].n_dims", false},
		{"rank 5", hdr(3, 1, 0).tensor("w", F32, 0, 1, 1, 1, 1, 1).pad(64), "tensor[w].n_dims", false},
		{"zero dim", hdr(3, 1, 0).tensor("w", F32, 0, 4, 0).pad(64), "tensor[w].dims", false},
		{"huge dim", hdr(3, 1, 0).tensor("w", F32, 0, 1<<41).pad(64), "tensor[w].dims", false},
		{"dims overflow", hdr(3, 1, 0).tensor("w", F32, 0, 1<<40, 1<<40).pad(64), "tensor[w].dims", false},
		{"size overflow", hdr(3, 1, 0).tensor("w", F64, 0, 1<<40, 1<<20).pad(64), "tensor[w]", false},
		{"unknown tensor type", hdr(3, 1, 0).tensor("w", Type(99), 0, 4).pad(64), "tensor[w].type", false},
		{"block size", hdr(3, 1, 0).tensor("w", Q4_0, 0, 33).pad(64), "tensor[w]", false},
		{"offset past EOF", hdr(3, 1, 0).tensor("w", F32, 1<<40, 4).pad(64), "tensor[w]", false},
		{"data past EOF", hdr(3, 1, 0).tensor("w", F32, 0, 64).pad(64), "tensor[w]", false},
		{"offset overflow", hdr(3, 1, 0).tensor("w", F32, 1<<64-32, 4).pad(64), "tensor[w]", false},
		{"unaligned offset", hdr(3, 1, 0).tensor("w", F32, 4, 4).pad(64), "tensor[w].offset", false},
		{"overlap", hdr(3, 2, 0).tensor("a", F32, 0, 16).tensor("b", F32, 32, 16).pad(128), "tensor[b]", false},
		{"overlap reversed", hdr(3, 2, 0).tensor("a", F32, 32, 16).tensor("b", F32, 0, 16).pad(128), "tensor[a]", false},
		{"duplicate tensor", hdr(3, 2, 0).tensor("a", F32, 0, 4).tensor("a", F32, 32, 4).pad(64), "tensor[a]", false},
		{"tensor count past file", hdr(3, 5, 0).tensor("a", F32, 0, 4).pad(32), "tensor_count", false},
		{"data section past EOF", hdr(3, 1, 0).tensor("a", F32, 0, 1), "tensor data", false},
		{"many tiny entries", manyKV, "", true},
		{"many tiny tensors", manyTensors, "", true},
		{"long key string array", strArray, "", true},
		{"long key string array, cut", strArrayBad[:len(strArrayBad)-9], "metadata[kkkk", false},
		{"long key array of arrays", arrArray, "", true},
		{"long key array of arrays, cut", arrArray[:len(arrArray)-3], "metadata[kkkk", false},
		{"long tensor name", hdr(3, 1, 0).tensor(long, F32, 0, 4).pad(0), "tensor[kkkk", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := parseChecked(t, "hostile.gguf", c.data)
			if c.ok {
				if err != nil {
					t.Fatalf("valid file failed: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("parsed without error")
			}
			var fe *FormatError
			errors.As(err, &fe)
			if !strings.Contains(fe.Field, c.field) {
				t.Fatalf("error field %q, want it to contain %q (error: %v)", fe.Field, c.field, err)
			}
			if len(err.Error()) > 1000 {
				t.Fatalf("error message of %d bytes", len(err.Error()))
			}
		})
	}
}
