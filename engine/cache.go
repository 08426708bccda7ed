package engine

import (
	"fmt"
	"slices"
)

// Block is one run of cached rows for one (layer, KV head): row i has position
// Pos[i], key K[i*d:(i+1)*d] (RoPE applied) and value V[i*d:(i+1)*d], where d is
// the head dimension.
type Block struct {
	Pos  []int32
	K, V []float32
}

// Rows is the number of rows in the block.
func (b *Block) Rows() int { return len(b.Pos) }

// Cache is what attention reads and appends to. Rows of one (layer, KV head)
// are grouped in blocks; attention reads one block at a time with an online
// softmax and never needs all rows of a layer at once, so an implementation may
// decode blocks on demand from packed storage.
type Cache interface {
	// Dims returns the shape every row must have.
	Dims() (layers, kvHeads, headDim int)
	// NumBlocks is the number of blocks of (layer, head).
	NumBlocks(layer, head int) int
	// ReadBlock fills dst with block i of (layer, head), reusing dst's slices
	// where they are large enough. Concurrent calls with distinct dst are safe.
	// It must copy into dst (its slices or fresh ones), never make dst alias
	// the cache's own storage: attention reuses dst for the next block.
	ReadBlock(layer, head, i int, dst *Block) error
	// Append stores one token of one layer: k and v hold KVHeads*HeadDim
	// floats ([kvHead][dim]).
	Append(layer int, pos int32, k, v []float32) error
	// Len is the number of rows of (layer, head).
	Len(layer, head int) int
}

// RowRounder is implemented by caches that store rows lossily (a quantized
// KV cache). Forward passes the new tokens' key and value rows (n×KVHeads×
// HeadDim each, RoPE applied) through RoundRows before attention, so the new
// tokens attend to exactly the values the cache will hold — as llama.cpp does,
// which writes a batch into its cache before attending to it.
type RowRounder interface {
	RoundRows(k, v []float32)
}

// DefaultBlockRows is the block size of a FloatCache made by NewFloatCache.
const DefaultBlockRows = 256

// FloatCache keeps float32 rows per (layer, KV head) in blocks of BlockRows
// rows. It is the cache of an uncompressed run and the source of the prefix
// handed to the compression pipeline (Export).
type FloatCache struct {
	// BlockRows is the number of rows per block; change it only while the
	// cache is empty.
	BlockRows int

	layers, kvHeads, headDim int
	blocks                   [][]Block // [layer*kvHeads+head][block]
	n                        []int     // rows per (layer, head)
	spare                    [][]Block // empty blocks for Append to fill, from Reserve
}

// NewFloatCache returns an empty cache for the given shape with
// DefaultBlockRows rows per block.
func NewFloatCache(layers, kvHeads, headDim int) *FloatCache {
	return &FloatCache{
		BlockRows: DefaultBlockRows,
		layers:    layers, kvHeads: kvHeads, headDim: headDim,
		blocks: make([][]Block, layers*kvHeads),
		n:      make([]int, layers*kvHeads),
		spare:  make([][]Block, layers*kvHeads),
	}
}

// Reserve allocates room for rows rows per (layer, KV head) now, so that
// appending them later allocates nothing: llama.cpp allocates its KV cache
// when a context is made, and a benchmark that times a prefill should not
// time the cache's allocation either.
func (c *FloatCache) Reserve(rows int) {
	br := c.blockRows()
	d := c.headDim
	for idx := range c.blocks {
		have := len(c.spare[idx]) * br
		if bs := c.blocks[idx]; len(bs) > 0 {
			have += cap(bs[len(bs)-1].Pos) - len(bs[len(bs)-1].Pos)
		}
		for ; have < rows-c.n[idx]; have += br {
			c.spare[idx] = append(c.spare[idx], Block{
				Pos: make([]int32, 0, br),
				K:   make([]float32, 0, br*d),
				V:   make([]float32, 0, br*d),
			})
		}
		c.blocks[idx] = slices.Grow(c.blocks[idx], len(c.spare[idx]))
	}
}

// blockRows is BlockRows, or DefaultBlockRows when it is not positive.
func (c *FloatCache) blockRows() int {
	if c.BlockRows <= 0 {
		return DefaultBlockRows
	}
	return c.BlockRows
}

// NewCache returns an empty FloatCache shaped for m.
func (m *Model) NewCache() *FloatCache {
	return NewFloatCache(m.Config.Layers, m.Config.KVHeads, m.Config.HeadDim)
}

// Dims implements Cache.
func (c *FloatCache) Dims() (layers, kvHeads, headDim int) { return c.layers, c.kvHeads, c.headDim }

// NumBlocks implements Cache.
func (c *FloatCache) NumBlocks(layer, head int) int { return len(c.blocks[layer*c.kvHeads+head]) }

// Len implements Cache.
func (c *FloatCache) Len(layer, head int) int { return c.n[layer*c.kvHeads+head] }

// ReadBlock implements Cache by copying block i into dst.
func (c *FloatCache) ReadBlock(layer, head, i int, dst *Block) error {
	if err := c.check(layer, head); err != nil {
		return err
	}
	bs := c.blocks[layer*c.kvHeads+head]
	if i < 0 || i >= len(bs) {
		return fmt.Errorf("engine: cache block %d of layer %d head %d out of range (have %d)", i, layer, head, len(bs))
	}
	b := &bs[i]
	dst.Pos = append(dst.Pos[:0], b.Pos...)
	dst.K = append(dst.K[:0], b.K...)
	dst.V = append(dst.V[:0], b.V...)
	return nil
}

// ViewBlock implements BlockViewer: block i of (layer, head) without a
// copy (ok false when out of range).
func (c *FloatCache) ViewBlock(layer, head, i int) (Block, bool) {
	if c.check(layer, head) != nil {
		return Block{}, false
	}
	bs := c.blocks[layer*c.kvHeads+head]
	if i < 0 || i >= len(bs) {
		return Block{}, false
	}
	return bs[i], true
}

// BlockViewer is implemented by caches that can lend some of their blocks
// read-only, without copying them; attention reads those through ViewBlock
// and never writes to them, and the rest through ReadBlock. ok is false for
// a block that must be read.
type BlockViewer interface {
	ViewBlock(layer, head, i int) (b Block, ok bool)
}

// BlockRunReader is implemented by caches that read a run of consecutive
// blocks more cheaply in one call than block by block (a packed cache
// decodes a run's rows in one pass). Attention reads the blocks it cannot
// view (BlockViewer) this way, straight into the buffer it folds in, up to
// a few hundred rows at a time; a cache without it is read block by block.
type BlockRunReader interface {
	// ReadBlocks appends blocks i, i+1, … of (layer, head) to dst's Pos, K
	// and V, as many whole blocks as fit in maxRows rows, and returns the
	// index of the first block it did not read: i when block i alone has
	// more than maxRows rows (or the cache leaves it to ReadBlock). The
	// appended rows must be copies, never the cache's own storage.
	ReadBlocks(layer, head, i, maxRows int, dst *Block) (next int, err error)
}

// RotatedVReader is a BlockRunReader that can hand out the value rows of
// some layers in a basis of its own, cheaper for it to produce: V·Mᵀ for a
// fixed linear map M of the layer (a packed cache's values before its
// inverse Hadamard transform). Attention folds such rows into an
// accumulator of their own and maps each query head's sum back once, with
// UnrotateV, instead of the cache mapping every row. The result is the same
// up to float32 rounding, not bit for bit.
type RotatedVReader interface {
	BlockRunReader
	// RotatedV reports whether ReadBlocksRotatedV gives layer's values in
	// the rotated basis; when it is false attention reads with ReadBlocks.
	RotatedV(layer int) bool
	// ReadBlocksRotatedV is ReadBlocks with the values rotated.
	ReadBlocksRotatedV(layer, head, i, maxRows int, dst *Block) (next int, err error)
	// UnrotateV sets dst to the plain-basis form of src, a weighted sum of
	// layer's rotated value rows (both head_dim floats, distinct).
	UnrotateV(layer int, dst, src []float32)
}

// Append implements Cache.
func (c *FloatCache) Append(layer int, pos int32, k, v []float32) error {
	if err := c.check(layer, 0); err != nil {
		return err
	}
	d := c.headDim
	if len(k) != c.kvHeads*d || len(v) != c.kvHeads*d {
		return fmt.Errorf("engine: cache append: k has %d and v %d floats, want %d (%d KV heads × %d)", len(k), len(v), c.kvHeads*d, c.kvHeads, d)
	}
	rows := c.blockRows()
	for h := 0; h < c.kvHeads; h++ {
		idx := layer*c.kvHeads + h
		bs := c.blocks[idx]
		if len(bs) == 0 || len(bs[len(bs)-1].Pos) >= rows {
			if sp := c.spare[idx]; len(sp) > 0 && cap(sp[len(sp)-1].Pos) >= rows {
				bs = append(bs, sp[len(sp)-1])
				c.spare[idx] = sp[:len(sp)-1]
			} else {
				bs = append(bs, Block{
					Pos: make([]int32, 0, rows),
					K:   make([]float32, 0, rows*d),
					V:   make([]float32, 0, rows*d),
				})
			}
			c.blocks[idx] = bs
		}
		b := &bs[len(bs)-1]
		b.Pos = append(b.Pos, pos)
		b.K = append(b.K, k[h*d:(h+1)*d]...)
		b.V = append(b.V, v[h*d:(h+1)*d]...)
		c.n[idx]++
	}
	return nil
}

// Truncate keeps the first n rows of every (layer, head) and drops the rest,
// keeping their storage for the rows appended next: a benchmark decodes
// after the same prefix again without a new prefill. Rows past a (layer,
// head)'s length are not created; n < 0 counts as 0.
func (c *FloatCache) Truncate(n int) {
	n = max(n, 0)
	for idx, bs := range c.blocks {
		if c.n[idx] <= n {
			continue
		}
		left := n
		for i := range bs {
			b := &bs[i]
			if left < len(b.Pos) {
				d := c.headDim
				b.Pos, b.K, b.V = b.Pos[:left], b.K[:left*d], b.V[:left*d]
				// An emptied block is dropped; a partial one stays last.
				// The dropped blocks' storage goes to the spares, for the
				// rows appended next.
				keep := i + 1
				if left == 0 {
					keep = i
				}
				for j := len(bs) - 1; j >= keep; j-- {
					b := bs[j]
					c.spare[idx] = append(c.spare[idx], Block{Pos: b.Pos[:0], K: b.K[:0], V: b.V[:0]})
				}
				c.blocks[idx] = bs[:keep]
				break
			}
			left -= len(b.Pos)
		}
		c.n[idx] = n
	}
}

func (c *FloatCache) check(layer, head int) error {
	if layer < 0 || layer >= c.layers || head < 0 || head >= c.kvHeads {
		return fmt.Errorf("engine: cache has %d layers × %d KV heads, asked for layer %d head %d", c.layers, c.kvHeads, layer, head)
	}
	return nil
}

// Export returns the cache contents in the stages.KV layout: K and V each hold
// layers*kvHeads*T*headDim floats indexed [layer][kvHead][t][d]. T is the row
// count of (layer 0, head 0); row t is the t-th appended row, which for a
// cache filled by Forward from position 0 is position t.
func (c *FloatCache) Export() (layers, kvHeads, headDim, T int, K, V []float32) {
	layers, kvHeads, headDim = c.layers, c.kvHeads, c.headDim
	if len(c.n) > 0 {
		T = c.n[0]
	}
	K = make([]float32, layers*kvHeads*T*headDim)
	V = make([]float32, len(K))
	for idx, bs := range c.blocks {
		off := idx * T * headDim
		end := off + T*headDim
		for _, b := range bs {
			if off >= end {
				break
			}
			n := copy(K[off:end], b.K)
			copy(V[off:end], b.V)
			off += n
		}
	}
	return
}
