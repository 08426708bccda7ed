package synth

import (
	"bytes"
	"encoding/binary"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"nexusquant/engine"
	"nexusquant/engine/gguf"
)

// TestSpecsLoad: every spec in every type is deterministic and loads as its
// architecture with the layer types the spec asks for.
func TestSpecsLoad(t *testing.T) {
	for _, s := range Specs() {
		for _, typ := range Types {
			t.Run(FileName(s, typ), func(t *testing.T) {
				var a, b bytes.Buffer
				for _, w := range []*bytes.Buffer{&a, &b} {
					kv, ts, err := Build(s, typ)
					if err != nil {
						t.Fatal(err)
					}
					if err := gguf.Write(w, 3, kv, ts); err != nil {
						t.Fatal(err)
					}
				}
				if !bytes.Equal(a.Bytes(), b.Bytes()) {
					t.Fatal("two builds of the same spec differ")
				}
				m, err := engine.LoadBytes(FileName(s, typ), a.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				c := m.Config
				if c.Arch != s.Arch || c.HeadDim != s.HeadDim || c.KVHeads != s.KVHeads || c.Layers != s.Layers || c.Ctx != s.Ctx {
					t.Errorf("loaded %s %d layers × %d KV heads × d=%d ctx %d, spec %s %d × %d × %d ctx %d",
						c.Arch, c.Layers, c.KVHeads, c.HeadDim, c.Ctx, s.Arch, s.Layers, s.KVHeads, s.HeadDim, s.Ctx)
				}
				kinds := map[string]int{}
				for l := range c.Layers {
					kinds[c.Layer(l).Kind()]++
				}
				want := map[string]map[string]int{
					"gemma3": {"sliding": 5, "full": 1}, "gemma2": {"sliding": 2, "full": 2},
					"smollm3": {"full": 3, "no-rope": 1},
				}[s.Arch]
				if want == nil {
					want = map[string]int{"full": s.Layers}
				}
				for k, n := range want {
					if kinds[k] != n {
						t.Errorf("layer kinds %v, want %v", kinds, want)
						break
					}
				}
				if c.QKNorm != s.QKNorm {
					t.Errorf("QKNorm %v, spec %v", c.QKNorm, s.QKNorm)
				}
			})
		}
	}
}

func TestLookupAndWrite(t *testing.T) {
	if _, err := Lookup("syn-nonesuch"); err == nil {
		t.Error("Lookup of an unknown name succeeded")
	}
	s, err := Lookup("syn-gemma2")
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(filepath.Join(t.TempDir(), "x.gguf"), s, gguf.Q4_0); err == nil {
		t.Error("Write accepted Q4_0")
	}
}

// logitsFile builds a llama-perplexity logits file for rows of logits
// (n_chunk 1, so n_ctx = 2·(rows+1)), encoding rows as log_softmax does.
func logitsFile(rows [][]float32, vocab int) []byte {
	nctx := 2 * (len(rows) + 1)
	le := binary.LittleEndian
	b := []byte("_logits_")
	for _, v := range []int32{int32(nctx), int32(vocab), 1} {
		b = le.AppendUint32(b, uint32(v))
	}
	for i := range nctx {
		b = le.AppendUint32(b, uint32(i%vocab))
	}
	nv := 2*((vocab+1)/2) + 4
	for _, row := range rows {
		mx := slices.Max(row)
		mn := max(slices.Min(row), mx-16)
		scale := (mx - mn) / 65535
		b = le.AppendUint32(b, math.Float32bits(scale))
		b = le.AppendUint32(b, 0) // min_log_prob, unused here
		for i := range nv - 4 {
			var q uint16
			if i < len(row) && row[i] > mn {
				q = uint16(math.Round(float64((row[i] - mn) / scale)))
			}
			b = le.AppendUint16(b, q)
		}
	}
	return b
}

func TestParseLogits(t *testing.T) {
	rows := [][]float32{{0, 3, 2.5, -1, 0.2}, {5, 1, 4.99, 0, 0}}
	data := logitsFile(rows, 5)
	_, argmax, gap, err := ParseLogits(data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(argmax, []int32{1, 0}) {
		t.Errorf("argmax %v, want [1 0]", argmax)
	}
	for i, want := range []float32{0.5, 0.01} {
		if math.Abs(float64(gap[i]-want)) > 3e-4 {
			t.Errorf("row %d: gap %g, want %g", i, gap[i], want)
		}
	}
	for _, bad := range [][]byte{nil, []byte("_logits_"), data[:len(data)-1], append([]byte("_logitz_"), data[8:]...)} {
		if _, _, _, err := ParseLogits(bad); err == nil {
			t.Errorf("ParseLogits accepted %d bytes", len(bad))
		}
	}
}

func TestParsePPL(t *testing.T) {
	p, e, err := ParsePPL([]byte("...\n0.02 I Final estimate: PPL = 961.7333 +/- 38.76047\n"))
	if err != nil || p != 961.7333 || e != 38.76047 {
		t.Errorf("ParsePPL = %v, %v, %v", p, e, err)
	}
	if _, _, err := ParsePPL([]byte("perplexity: failed")); err == nil {
		t.Error("ParsePPL accepted a log without the estimate")
	}
}

// FuzzParseLogits: any bytes give rows or an error, never a panic.
func FuzzParseLogits(f *testing.F) {
	f.Add(logitsFile([][]float32{{0, 1, 2}}, 3))
	f.Add([]byte("_logits_\x04\x00\x00\x00\xff\xff\xff\x7f\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, argmax, gap, err := ParseLogits(data)
		if err == nil && len(argmax) != len(gap) {
			t.Fatalf("%d argmax values, %d gaps", len(argmax), len(gap))
		}
	})
}
