// Package baselines registers the storage methods NexusQuant is compared
// against as stages.RowCodecs, so they are selectable like any setting
// (Settings.Method) and land in the same tables:
//
//   - "q8_0", "q4_0": llama.cpp's KV cache types — every row of head_dim
//     values in ggml blocks of 32 with a float16 scale, quantized with ggml's
//     reference quantizers (engine/gguf). They need head_dim % 32 == 0;
//     Supported says so for other shapes.
//   - "kivi2", "kivi4": KIVI-style asymmetric integer quantization at 2 or 4
//     bits — keys per channel over groups of 32 tokens, values per token over
//     groups of 32 channels, each group with a float16 minimum and step. The
//     full-precision residual window of the KIVI paper is the pipeline's
//     business, not the codec's: these codecs store every row quantized.
//
// None of them evicts: every prefix row is stored. "scalar per-vector at the
// same bits" is not a codec here but Settings.Lattice = "scalar".
//
// Import the package for its side effect of registering the codecs.
package baselines

import (
	"fmt"

	"nexusquant/engine/gguf"
	"nexusquant/stages"
)

func init() {
	for _, c := range []stages.RowCodec{
		ggmlCodec{name: "q8_0", typ: gguf.Q8_0},
		ggmlCodec{name: "q4_0", typ: gguf.Q4_0},
		kiviCodec{bits: 2},
		kiviCodec{bits: 4},
	} {
		if err := stages.RegisterRowCodec(c); err != nil {
			panic(err) // names are fixed here; a clash is a build defect
		}
	}
}

// Methods lists the method names this package registers.
var Methods = []string{"q8_0", "q4_0", "kivi2", "kivi4"}

// Supported reports whether method can store rows of head dimension d, with a
// reason when it cannot.
func Supported(method string, d int) error {
	switch method {
	case "q8_0", "q4_0":
		if d%32 != 0 {
			return fmt.Errorf("method %s stores rows in blocks of 32 values, as llama.cpp's KV cache does; head_dim %d is not a multiple of 32, so this baseline does not apply to this model", method, d)
		}
	}
	return nil
}

// ggmlCodec stores each row with one of ggml's block types.
type ggmlCodec struct {
	name string
	typ  gguf.Type
}

func (c ggmlCodec) Name() string { return c.name }
func (c ggmlCodec) Evicts() bool { return false }

func (c ggmlCodec) rowBytes(d int) int {
	n, err := c.typ.RowBytes(d)
	if err != nil {
		return -1
	}
	return n
}

func (c ggmlCodec) EncodedLen(n, d int) int {
	rb := c.rowBytes(d)
	if rb < 0 {
		return -1
	}
	return n * rb
}

func (c ggmlCodec) Encode(dst []byte, rows []float32, d int, _ bool) []byte {
	rb := c.rowBytes(d)
	for r := 0; r+d <= len(rows); r += d {
		off := len(dst)
		dst = append(dst, make([]byte, rb)...)
		// Sizes are consistent by construction (rb from RowBytes(d)); Supported
		// rejects shapes where they are not before any encoding starts.
		_ = gguf.QuantizeRow(c.typ, rows[r:r+d], dst[off:off+rb])
	}
	return dst
}

func (c ggmlCodec) Decode(rows []float32, src []byte, d int, _ bool) error {
	rb := c.rowBytes(d)
	if rb < 0 || d == 0 || len(rows)%d != 0 || len(src) != len(rows)/d*rb {
		return fmt.Errorf("%s rows: %d bytes for %d values of head_dim %d", c.name, len(src), len(rows), d)
	}
	for r := 0; r < len(rows)/d; r++ {
		if err := gguf.DequantizeRow(c.typ, src[r*rb:(r+1)*rb], rows[r*d:(r+1)*d]); err != nil {
			return err
		}
	}
	return nil
}
