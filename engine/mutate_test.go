package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"nexusquant/engine/gguf"
	"nexusquant/internal/testfiles"
)

// TestMutatedModels corrupts real model files — single- and multi-byte
// changes, length fields set huge, truncations — and loads each one from
// memory and runs one forward step. Every case must end in a model that
// runs or an error naming the file and the field; none may panic, hang (20 s a case) or
// allocate more than a bound tied to the file's size. CI runs 150 cases per
// file; the campaign is
//
//	NEXUSQUANT_MUTATIONS=10000 go test ./engine -run MutatedModels -v -timeout 60m
func TestMutatedModels(t *testing.T) {
	n := 150
	if v := os.Getenv("NEXUSQUANT_MUTATIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("NEXUSQUANT_MUTATIONS=%q: want a positive count", v)
		}
	}
	for _, rel := range []string{"models/stories260K.gguf", "models/syn-qwen2.Q4_K_M.gguf"} {
		t.Run(rel, func(t *testing.T) {
			data, err := os.ReadFile(testfiles.Path(t, rel))
			if err != nil {
				t.Fatal(err)
			}
			name := rel[strings.LastIndexByte(rel, '/')+1:]
			// What a clean load and step allocate bounds what a corrupt one may.
			clean := allocOf(func() {
				if err := loadAndStep(name, data); err != nil {
					t.Fatalf("the clean file fails: %v", err)
				}
			})
			bound := 3*clean + uint64(len(data))
			hdr := headerLen(t, name, data)
			rng := rand.New(rand.NewPCG(7, uint64(len(data))))
			counts := map[string]int{}
			var worst uint64
			start := time.Now()
			for i := range n {
				mut, kind := mutate(rng, data, hdr)
				var err error
				var panicked any
				done := make(chan struct{})
				var alloc uint64
				go func() {
					defer close(done)
					defer func() { panicked = recover() }()
					alloc = allocOf(func() { err = loadAndStep(name, mut) })
				}()
				select {
				case <-done:
				case <-time.After(20 * time.Second):
					t.Fatalf("case %d (%s): no answer in 20 s", i, kind)
				}
				switch {
				case panicked != nil:
					t.Fatalf("case %d (%s): panic: %v", i, kind, panicked)
				case err != nil && !strings.Contains(err.Error(), name):
					t.Errorf("case %d (%s): the error does not name the file: %v", i, kind, err)
				case err != nil && !namesField(err):
					t.Errorf("case %d (%s): the error does not name the field at fault: %v", i, kind, err)
				case alloc > bound:
					t.Errorf("case %d (%s): allocated %d bytes, bound %d (clean load %d, file %d)", i, kind, alloc, bound, clean, len(data))
				}
				worst = max(worst, alloc)
				result := "loads and runs"
				if err != nil {
					result = "refused"
					var fe *gguf.FormatError
					if errors.As(err, &fe) {
						result = "refused (format: " + fe.Field + ")"
						if i := strings.IndexAny(fe.Field, "[0123456789"); i > 0 {
							result = "refused (format: " + fe.Field[:i] + ")"
						}
					}
				}
				counts[kind+" → "+result]++
			}
			t.Logf("%s: %d cases in %s; worst allocation %.1f MiB (clean %.1f MiB, file %.1f MiB)", name, n, time.Since(start).Round(time.Second),
				float64(worst)/(1<<20), float64(clean)/(1<<20), float64(len(data))/(1<<20))
			for _, k := range slices.Sorted(maps.Keys(counts)) {
				t.Logf("  %5d  %s", counts[k], k)
			}
		})
	}
}

// namesField reports whether err says what in the file is wrong: a GGUF
// format error carries its field; the engine names the tensor, the metadata
// key or the tokenizer array, or the step that failed.
func namesField(err error) bool {
	var fe *gguf.FormatError
	if errors.As(err, &fe) {
		return fe.Field != ""
	}
	msg := err.Error()
	for _, w := range []string{"tensor ", "metadata ", "tokenizer", "forward", "general.", "llama.", "qwen2."} {
		if strings.Contains(msg, w) {
			return true
		}
	}
	return false
}

// loadAndStep loads a model from bytes and runs one token through it.
func loadAndStep(name string, data []byte) error {
	m, err := LoadBytes(name, data)
	if err != nil {
		return err
	}
	defer m.Close()
	tok := int32(0)
	if m.Tok != nil && m.Tok.BOS() >= 0 {
		tok = m.Tok.BOS()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, _, err := m.Forward(ctx, m.NewCache(), []int32{tok}, 0, ForwardOptions{}); err != nil {
		return fmt.Errorf("%s: forward: %w", name, err)
	}
	return nil
}

// allocOf is the bytes fn allocates (all goroutines; run cases one at a time).
func allocOf(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// headerLen is where the tensor data starts: most mutations go before it,
// where lengths and offsets live.
func headerLen(t *testing.T, name string, data []byte) int {
	f, err := gguf.Parse(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return int(f.DataOffset)
}

// mutate returns a corrupted copy of data and the kind of corruption.
func mutate(rng *rand.Rand, data []byte, hdr int) ([]byte, string) {
	out := append([]byte(nil), data...)
	at := func() int { // 90% in the header
		if rng.IntN(10) < 9 {
			return rng.IntN(hdr)
		}
		return rng.IntN(len(data))
	}
	switch k := rng.IntN(10); {
	case k < 4:
		i := at()
		out[i] ^= byte(1 + rng.IntN(255))
		return out, "one byte"
	case k < 7:
		for range 2 + rng.IntN(15) {
			out[at()] = byte(rng.IntN(256))
		}
		return out, "several bytes"
	case k < 9: // a length or count field made huge or negative
		i := at() &^ 7
		for j := range 8 {
			if i+j < len(out) {
				out[i+j] = 0xFF
			}
		}
		if rng.IntN(2) == 0 && i+7 < len(out) {
			out[i+7] = 0x7F
		}
		return out, "8 bytes to 0xFF"
	}
	return out[:rng.IntN(len(data))], "truncated"
}
