package engine

import (
	"math"
	"math/rand/v2"
	"testing"

	"nexusquant/engine/gguf"
)

// randomMatrix returns a rows×cols matrix of type typ with random contents:
// F32/F16/Q8_0/Q4_0 quantized from normal values, Q4_K/Q6_K random blocks
// with small positive scales.
func randomMatrix(t *testing.T, rng *rand.Rand, name string, typ gguf.Type, rows, cols int) *matrix {
	t.Helper()
	rb, err := typ.RowBytes(cols)
	if err != nil {
		t.Fatal(err)
	}
	w := &matrix{name: name, typ: typ, rows: rows, cols: cols, rowBytes: rb, data: make([]byte, rows*rb)}
	row := make([]float32, cols)
	for r := 0; r < rows; r++ {
		dst := w.data[r*rb : (r+1)*rb]
		switch typ {
		case gguf.Q4_K, gguf.Q6_K:
			for i := range dst {
				dst[i] = byte(rng.IntN(256))
			}
			bs, dOff := 144, 0
			if typ == gguf.Q6_K {
				bs, dOff = 210, 208
			}
			for b := 0; b < len(dst); b += bs {
				for _, off := range []int{dOff, 2} { // d (and Q4_K's dmin)
					if typ == gguf.Q6_K && off == 2 {
						continue
					}
					h := gguf.F32ToF16(float32(0.001 + 0.01*rng.Float64()))
					dst[b+off], dst[b+off+1] = byte(h), byte(h>>8)
				}
			}
		default:
			for i := range row {
				row[i] = float32(rng.NormFloat64())
			}
			if err := gguf.QuantizeRow(typ, row, dst); err != nil {
				t.Fatal(err)
			}
		}
	}
	if typ == gguf.F32 {
		w.f32 = float32View(w.data)
	}
	return w
}

// TestExactMulMatchesFloat64 checks every exact kernel's unpacking against a
// float64 product of the dequantized weights and the rounded activations,
// for one row and for a batch.
func TestExactMulMatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		name string
		typ  gguf.Type
		rows int
		cols int
	}{
		{"blk.0.attn_q.weight", gguf.F32, 12, 64},
		{"blk.0.attn_q.weight", gguf.F16, 12, 96},
		{"blk.0.attn_q.weight", gguf.Q8_0, 12, 96},
		{"blk.0.attn_q.weight", gguf.Q4_0, 16, 96}, // repacked: rows % 8 == 0
		{"blk.0.attn_q.weight", gguf.Q4_0, 12, 96}, // not repacked
		{"token_embd.weight", gguf.Q4_0, 16, 96},   // tied output: not repacked
		{"blk.0.attn_q.weight", gguf.Q4_K, 12, 512},
		{"blk.0.attn_q.weight", gguf.Q6_K, 12, 512},
	}
	for _, tc := range tests {
		w := randomMatrix(t, rng, tc.name, tc.typ, tc.rows, tc.cols)
		for _, n := range []int{1, 3} {
			x := make([]float32, n*tc.cols)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			out := make([]float32, n*tc.rows)
			if err := exactMul(cpuKernels, n, mulJob{w, x, out}); err != nil {
				t.Fatal(err)
			}
			xr := make([]float32, len(x))
			for i := 0; i < n; i++ {
				roundActs(cpuKernels, actKindOf(tc.typ), x[i*tc.cols:(i+1)*tc.cols], xr[i*tc.cols:(i+1)*tc.cols])
			}
			wr := make([]float32, tc.cols)
			for i := 0; i < n; i++ {
				for r := 0; r < tc.rows; r++ {
					if err := w.dequant(cpuKernels, r, r+1, wr); err != nil {
						t.Fatal(err)
					}
					var want, mag float64
					for j, wv := range wr {
						p := float64(wv) * float64(xr[i*tc.cols+j])
						want += p
						mag += math.Abs(p)
					}
					if got := float64(out[i*tc.rows+r]); math.Abs(got-want) > 2e-6*mag {
						t.Errorf("%s %s n=%d row %d: %g, float64 %g (Σ|·| %g)", tc.typ, tc.name, n, r, got, want, mag)
					}
				}
			}
		}
	}
}

// TestExactMulBatchIndependent: for the quantized types llama.cpp's result
// does not depend on the batch size; for float weights a batch goes through
// tinyBLAS and a single row through ggml_vec_dot, which may differ in the
// last bits.
func TestExactMulBatchIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, typ := range []gguf.Type{gguf.Q8_0, gguf.Q4_0, gguf.Q4_K, gguf.Q6_K} {
		w := randomMatrix(t, rng, "blk.1.ffn_up.weight", typ, 8, 256)
		x := make([]float32, 3*256)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		batch := make([]float32, 3*8)
		if err := exactMul(cpuKernels, 3, mulJob{w, x, batch}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			one := make([]float32, 8)
			if err := exactMul(cpuKernels, 1, mulJob{w, x[i*256 : (i+1)*256], one}); err != nil {
				t.Fatal(err)
			}
			for r, v := range one {
				if batch[i*8+r] != v {
					t.Errorf("%s row %d token %d: batch %g, alone %g", typ, r, i, batch[i*8+r], v)
				}
			}
		}
	}
}
