// Package kvquant is a KV cache that stores every key and value row quantized
// the way llama.cpp's KV cache does (`-ctk/-ctv f16|q8_0|q4_0`): per row of
// head_dim values, ggml blocks of 32 values each with a float16 scale. It is the
// baseline NexusQuant is compared against, and it implements engine.Cache so
// the same forward pass reads it block by block.
//
// Rows are quantized once, when appended, and dequantized into the caller's
// Block on every read; the cache holds only the quantized bytes. As in
// llama.cpp, a batch's own rows are written before it attends to them: the
// cache implements engine.RowRounder, so new tokens see the quantized values
// too.
package kvquant

import (
	"fmt"
	"strings"

	"nexusquant/engine"
	"nexusquant/engine/gguf"
)

// Kinds lists the supported storage types.
var Kinds = []string{"f32", "f16", "q8_0", "q4_0"}

// BlockRows is the number of rows ReadBlock returns at a time.
const BlockRows = 256

// Cache is a quantized KV cache. It is safe for concurrent ReadBlock calls with
// distinct destination blocks; Append must not run concurrently with reads of
// the same (layer, head).
type Cache struct {
	typ              gguf.Type
	layers, heads, d int
	rowBytes         int
	k, v             [][]byte  // per (layer, head): rows of rowBytes
	pos              [][]int32 // per (layer, head)
	scratch          []byte    // one quantized row, for RoundRows
}

// New makes an empty cache of the given kind ("f16", "q8_0" or "q4_0").
// Block types need head_dim to be a multiple of 32, as in llama.cpp.
func New(kind string, layers, kvHeads, headDim int) (*Cache, error) {
	c := &Cache{layers: layers, heads: kvHeads, d: headDim}
	switch strings.ToLower(kind) {
	case "f16":
		c.typ = gguf.F16
	case "q8_0":
		c.typ = gguf.Q8_0
	case "q4_0":
		c.typ = gguf.Q4_0
	default:
		return nil, fmt.Errorf("KV cache type %q is not one of f16, q8_0, q4_0", kind)
	}
	rb, err := c.typ.RowBytes(headDim)
	if err != nil {
		return nil, fmt.Errorf("KV cache type %s needs head_dim to be a multiple of %d; this model's head_dim is %d", kind, c.typ.BlockElems(), headDim)
	}
	c.rowBytes = rb
	n := layers * kvHeads
	c.k, c.v, c.pos = make([][]byte, n), make([][]byte, n), make([][]int32, n)
	return c, nil
}

// Type is the ggml type rows are stored as.
func (c *Cache) Type() gguf.Type { return c.typ }

// Dims implements engine.Cache.
func (c *Cache) Dims() (layers, kvHeads, headDim int) { return c.layers, c.heads, c.d }

// Len implements engine.Cache.
func (c *Cache) Len(layer, head int) int { return len(c.pos[layer*c.heads+head]) }

// NumBlocks implements engine.Cache.
func (c *Cache) NumBlocks(layer, head int) int {
	return (c.Len(layer, head) + BlockRows - 1) / BlockRows
}

// Append implements engine.Cache: k and v hold kvHeads*headDim floats.
func (c *Cache) Append(layer int, pos int32, k, v []float32) error {
	if layer < 0 || layer >= c.layers || len(k) != c.heads*c.d || len(v) != c.heads*c.d {
		return fmt.Errorf("kvquant: append to layer %d with %d/%d values, want layer < %d and %d values", layer, len(k), len(v), c.layers, c.heads*c.d)
	}
	for h := 0; h < c.heads; h++ {
		g := layer*c.heads + h
		c.k[g] = c.appendRow(c.k[g], k[h*c.d:(h+1)*c.d])
		c.v[g] = c.appendRow(c.v[g], v[h*c.d:(h+1)*c.d])
		c.pos[g] = append(c.pos[g], pos)
	}
	return nil
}

func (c *Cache) appendRow(buf []byte, row []float32) []byte {
	n := len(buf)
	buf = append(buf, make([]byte, c.rowBytes)...)
	// Sizes match by construction (rowBytes = RowBytes(headDim), checked in New).
	_ = gguf.QuantizeRow(c.typ, row, buf[n:])
	return buf
}

// ReadBlock implements engine.Cache, dequantizing rows [i·BlockRows, …) into dst.
func (c *Cache) ReadBlock(layer, head, i int, dst *engine.Block) error {
	g := layer*c.heads + head
	lo := i * BlockRows
	if i < 0 || lo >= len(c.pos[g]) {
		return fmt.Errorf("kvquant: block %d of layer %d head %d out of range", i, layer, head)
	}
	hi := min(lo+BlockRows, len(c.pos[g]))
	n := hi - lo
	dst.Pos = append(dst.Pos[:0], c.pos[g][lo:hi]...)
	dst.K = grow(dst.K, n*c.d)
	dst.V = grow(dst.V, n*c.d)
	for r := 0; r < n; r++ {
		off := (lo + r) * c.rowBytes
		if err := gguf.DequantizeRow(c.typ, c.k[g][off:off+c.rowBytes], dst.K[r*c.d:(r+1)*c.d]); err != nil {
			return err
		}
		if err := gguf.DequantizeRow(c.typ, c.v[g][off:off+c.rowBytes], dst.V[r*c.d:(r+1)*c.d]); err != nil {
			return err
		}
	}
	return nil
}

// Bytes is the number of bytes the stored rows occupy (K and V).
func (c *Cache) Bytes() int64 {
	var n int64
	for g := range c.k {
		n += int64(len(c.k[g]) + len(c.v[g]))
	}
	return n
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// RoundRows implements engine.RowRounder: every head row of k and v is
// replaced by its quantize → dequantize round trip. Like Append, it must not
// run concurrently with itself.
func (c *Cache) RoundRows(k, v []float32) {
	if len(c.scratch) != c.rowBytes {
		c.scratch = make([]byte, c.rowBytes)
	}
	buf := c.scratch
	for _, x := range [][]float32{k, v} {
		for off := 0; off+c.d <= len(x); off += c.d {
			row := x[off : off+c.d]
			// Sizes match by construction (checked in New).
			_ = gguf.QuantizeRow(c.typ, row, buf)
			_ = gguf.DequantizeRow(c.typ, buf, row)
		}
	}
}
