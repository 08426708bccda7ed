package eval

import (
	"fmt"

	"nexusquant/engine"
	"nexusquant/stages"
)

// BlockSource is a read-only, block-addressed prefix cache.
type BlockSource interface {
	Dims() (layers, kvHeads, headDim int)
	NumBlocks(layer, head int) int
	ReadBlock(layer, head, i int, dst *engine.Block) error
	Len(layer, head int) int
}

// Overlay is the cache a continuation reads: a read-only prefix (float or
// packed) followed by the tokens appended since, stored as float32. It
// implements engine.Cache; blocks 0..n-1 come from the prefix, the rest from
// the tail.
type Overlay struct {
	Prefix BlockSource
	Tail   *engine.FloatCache
}

// NewOverlay returns an overlay with an empty tail shaped like prefix.
func NewOverlay(prefix BlockSource) *Overlay {
	l, h, d := prefix.Dims()
	return &Overlay{Prefix: prefix, Tail: engine.NewFloatCache(l, h, d)}
}

// Dims implements engine.Cache.
func (o *Overlay) Dims() (int, int, int) { return o.Prefix.Dims() }

// NumBlocks implements engine.Cache.
func (o *Overlay) NumBlocks(layer, head int) int {
	return o.Prefix.NumBlocks(layer, head) + o.Tail.NumBlocks(layer, head)
}

// ReadBlock implements engine.Cache.
func (o *Overlay) ReadBlock(layer, head, i int, dst *engine.Block) error {
	if n := o.Prefix.NumBlocks(layer, head); i >= n {
		return o.Tail.ReadBlock(layer, head, i-n, dst)
	}
	return o.Prefix.ReadBlock(layer, head, i, dst)
}

// ReadBlocks implements engine.BlockRunReader for the prefix's blocks, when
// the prefix can read runs; the tail's blocks are lent (ViewBlock), so it
// leaves them to ReadBlock (returning i). A run ends at the prefix's end.
func (o *Overlay) ReadBlocks(layer, head, i, maxRows int, dst *engine.Block) (int, error) {
	r, ok := o.Prefix.(engine.BlockRunReader)
	if !ok || i >= o.Prefix.NumBlocks(layer, head) {
		return i, nil
	}
	return r.ReadBlocks(layer, head, i, maxRows, dst)
}

// RotatedV implements engine.RotatedVReader: the prefix's, when it reads
// runs with rotated values.
func (o *Overlay) RotatedV(layer int) bool {
	r, ok := o.Prefix.(engine.RotatedVReader)
	return ok && r.RotatedV(layer)
}

// ReadBlocksRotatedV implements engine.RotatedVReader for the prefix's
// blocks, as ReadBlocks does.
func (o *Overlay) ReadBlocksRotatedV(layer, head, i, maxRows int, dst *engine.Block) (int, error) {
	r, ok := o.Prefix.(engine.RotatedVReader)
	if !ok || i >= o.Prefix.NumBlocks(layer, head) {
		return i, nil
	}
	return r.ReadBlocksRotatedV(layer, head, i, maxRows, dst)
}

// UnrotateV implements engine.RotatedVReader (the prefix's; only called
// when RotatedV holds).
func (o *Overlay) UnrotateV(layer int, dst, src []float32) {
	o.Prefix.(engine.RotatedVReader).UnrotateV(layer, dst, src)
}

// ViewBlock implements engine.BlockViewer: the float tail's blocks are lent
// without a copy, the packed prefix's are read.
func (o *Overlay) ViewBlock(layer, head, i int) (engine.Block, bool) {
	n := o.Prefix.NumBlocks(layer, head)
	if i < n {
		return engine.Block{}, false
	}
	return o.Tail.ViewBlock(layer, head, i-n)
}

// Append implements engine.Cache: new tokens go to the float tail.
func (o *Overlay) Append(layer int, pos int32, k, v []float32) error {
	return o.Tail.Append(layer, pos, k, v)
}

// Len implements engine.Cache.
func (o *Overlay) Len(layer, head int) int {
	return o.Prefix.Len(layer, head) + o.Tail.Len(layer, head)
}

// packed adapts *stages.Compressed to BlockSource.
type packed struct{ c *stages.Compressed }

// Packed returns c as a BlockSource for decoding: its first ReadBlock builds
// c's decode form (stages.Compressed.PrepareDecode), so that every decode
// step reads the packed rows without zstd; the form's bytes count in c's
// ResidentBytes from then on. Attention reads it in runs of read blocks
// (engine.BlockRunReader), with the values of quantized layers left in the
// Hadamard basis and transformed back once per query head
// (engine.RotatedVReader): the same attention up to float32 rounding.
func Packed(c *stages.Compressed) BlockSource { return packed{c} }

func (p packed) Dims() (int, int, int)         { return p.c.Dims() }
func (p packed) NumBlocks(layer, head int) int { return p.c.NumBlocks(layer, head) }
func (p packed) ReadBlock(layer, head, i int, dst *engine.Block) error {
	if err := p.c.PrepareDecode(); err != nil {
		return err
	}
	// engine.Block and stages.Block have identical fields, so the pointer converts.
	return p.c.ReadBlock(layer, head, i, (*stages.Block)(dst))
}

// ReadBlocks implements engine.BlockRunReader (see ReadBlock).
func (p packed) ReadBlocks(layer, head, i, maxRows int, dst *engine.Block) (int, error) {
	if err := p.c.PrepareDecode(); err != nil {
		return i, err
	}
	return p.c.ReadBlocks(layer, head, i, maxRows, (*stages.Block)(dst))
}

// RotatedV implements engine.RotatedVReader: the values of quantized layers
// come in the Hadamard basis (stages.Compressed.RotatedV), which builds the
// decode form first.
func (p packed) RotatedV(layer int) bool {
	return p.c.PrepareDecode() == nil && p.c.RotatedV(layer)
}

// ReadBlocksRotatedV implements engine.RotatedVReader.
func (p packed) ReadBlocksRotatedV(layer, head, i, maxRows int, dst *engine.Block) (int, error) {
	if err := p.c.PrepareDecode(); err != nil {
		return i, err
	}
	return p.c.ReadBlocksRotatedV(layer, head, i, maxRows, (*stages.Block)(dst))
}

// UnrotateV implements engine.RotatedVReader.
func (p packed) UnrotateV(layer int, dst, src []float32) { p.c.UnrotateV(layer, dst, src) }

func (p packed) Len(layer, head int) int { return p.c.Kept(layer, head) }

// checkShape verifies that a packed prefix fits the model it is continued with.
func checkShape(src BlockSource, m *engine.Model) error {
	l, h, d := src.Dims()
	c := m.Config
	if l != c.Layers || h != c.KVHeads || d != c.HeadDim {
		return fmt.Errorf("cache shape %d layers × %d KV heads × head_dim %d does not match the model's %d × %d × %d", l, h, d, c.Layers, c.KVHeads, c.HeadDim)
	}
	return nil
}
