package eval

import (
	"bytes"
	"context"
	"math"
	"testing"

	"nexusquant/engine"
	"nexusquant/stages"
)

// streamOnly reads a packed prefix from its stored frames: a BlockSource
// that never builds the decode form.
type streamOnly struct{ c *stages.Compressed }

func (s streamOnly) Dims() (int, int, int)         { return s.c.Dims() }
func (s streamOnly) NumBlocks(layer, head int) int { return s.c.NumBlocks(layer, head) }
func (s streamOnly) Len(layer, head int) int       { return s.c.Kept(layer, head) }
func (s streamOnly) ReadBlock(layer, head, i int, dst *engine.Block) error {
	return s.c.ReadBlock(layer, head, i, (*stages.Block)(dst))
}

// plainRuns is a packed prefix read in runs with the values transformed row
// by row: Packed without engine.RotatedVReader.
type plainRuns struct{ p packed }

func (s plainRuns) Dims() (int, int, int)         { return s.p.Dims() }
func (s plainRuns) NumBlocks(layer, head int) int { return s.p.NumBlocks(layer, head) }
func (s plainRuns) Len(layer, head int) int       { return s.p.Len(layer, head) }
func (s plainRuns) ReadBlock(layer, head, i int, dst *engine.Block) error {
	return s.p.ReadBlock(layer, head, i, dst)
}
func (s plainRuns) ReadBlocks(layer, head, i, maxRows int, dst *engine.Block) (int, error) {
	return s.p.ReadBlocks(layer, head, i, maxRows, dst)
}

// A continuation from the decode form (Packed builds it), with the values
// transformed row by row, gives the logits of the same cache read from its
// stored frames, bit for bit; with the values summed in the Hadamard basis
// (Packed as it is) within a small tolerance: head_dim 8
// (stories), 64 (tiny-llama, the in-register transform) and 256 with
// sliding-window layers compressed or float16 (syn-gemma3), float16
// protected layers, at the preset's read blocks.
func TestDecodeFormSameLogits(t *testing.T) {
	cases := []struct {
		model, preset string
		protect       int
		sliding       string
	}{
		{"stories", "balanced", 0, ""},
		{"tiny-llama", "balanced", 0, ""},
		{"tiny-llama", "high", 1, ""},
		{"tiny-llama", "max", 0, ""},
		{"syn-gemma3", "balanced", 0, stages.SlidingCompress},
		{"syn-gemma3", "balanced", 0, stages.SlidingFloat16},
	}
	for _, tc := range cases {
		t.Run(tc.model+"/"+tc.preset+"/"+tc.sliding, func(t *testing.T) {
			var ex *Explorer
			if tc.model == "syn-gemma3" {
				ex = synthExplorer(t, tc.model, 96, 24)
			} else {
				var err error
				if ex, err = newDemoExplorer(tc.model, 200, 24, 1); err != nil {
					t.Fatal(err)
				}
			}
			s := preset(t, tc.preset)
			s.ProtectBoundary = tc.protect
			if tc.sliding != "" {
				s.SlidingLayers = tc.sliding
			}
			res, err := ex.Run(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			c := res.Packed
			if c.DecodeFormBytes() == 0 {
				t.Fatal("the continuation did not build the decode form")
			}
			if r := res.Report; r.DecodeFormBytes != c.DecodeFormBytes() || r.DecodeFormBytes >= r.BaselineBytes {
				t.Errorf("report: decode form %d bytes, the cache holds %d, float16 %d", r.DecodeFormBytes, c.DecodeFormBytes(), r.BaselineBytes)
			}
			var file bytes.Buffer
			if _, err := c.WriteTo(&file); err != nil {
				t.Fatal(err)
			}
			stored, err := stages.ReadCompressed(file.Bytes(), ex.Model.RoPERows)
			if err != nil {
				t.Fatal(err)
			}
			w := ex.Windows[0]
			want, err := ex.continueFrom(context.Background(), streamOnly{stored}, w, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ex.continueFrom(context.Background(), plainRuns{Packed(c).(packed)}, w, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			rot, err := ex.continueFrom(context.Background(), Packed(c), w, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if stored.DecodeFormBytes() != 0 {
				t.Fatal("the stream-only reader built a decode form")
			}
			if len(got) != len(want) {
				t.Fatalf("%d logits, want %d", len(got), len(want))
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("logit %d: %v from the decode form, %v from the stored frames", i, got[i], want[i])
				}
			}
			// With the values in the Hadamard basis the attention sums round
			// differently (engine.RotatedVReader); activation rounding (Q8_0
			// models) can turn that into a step of a few hundredths in a
			// logit, no more.
			var worst, sq float64
			for i := range rot {
				e := float64(rot[i] - got[i])
				worst, sq = max(worst, math.Abs(e)), sq+e*e
			}
			if rms := math.Sqrt(sq / float64(len(rot))); worst > 0.1 || rms > 0.01 {
				t.Errorf("values in the Hadamard basis: logits differ by up to %g (rms %g) from the plain decode", worst, rms)
			}
			t.Logf("decode form %d B, stored %d B, float16 %d B; rotated values: logits within %g", c.DecodeFormBytes(), c.Stored().Total(), c.BaselineBytes(), worst)
		})
	}
}
