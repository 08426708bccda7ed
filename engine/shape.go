package engine

import (
	"fmt"
	"path/filepath"

	"nexusquant/engine/gguf"
)

// Shape is what the capacity view needs from a model: its geometry and the
// size of its weights.
type Shape struct {
	// Path is the file the shape was read from (Model.Path for a loaded
	// model); Name is general.name when the file has one, else the base name
	// of Path; Arch is general.architecture.
	Path, Name, Arch string
	// Layers, KVHeads, HeadDim and Ctx are the block count, KV head count,
	// head dimension and context length, read by the same rules as Load.
	Layers, KVHeads, HeadDim, Ctx int
	// Params is the total parameter count (the sum of the tensors' element
	// counts).
	Params int64
	// WeightBytes is the total size of the tensor data in bytes.
	WeightBytes int64
	// WeightType is the tensor type holding the most bytes, e.g. "Q8_0" or
	// "Q4_K" ("" for a file without tensors).
	WeightType string
	// SlidingWindow and SWA are the sliding-window layout (Config's fields
	// of the same names): a cache of a sliding-window layer holds at most
	// SlidingWindow positions. Zero and nil when every layer attends to
	// the whole context.
	SlidingWindow int
	SWA           []bool
	// Runnable reports whether the engine runs this architecture; a shape
	// is read from any GGUF file with the usual attention keys.
	Runnable bool
}

// CacheTokens returns how many positions layer l's cache holds for a
// context of t tokens: t, or the sliding window when it is smaller.
func (sh *Shape) CacheTokens(l, t int) int {
	if l >= 0 && l < len(sh.SWA) && sh.SWA[l] && sh.SlidingWindow > 0 {
		return min(t, sh.SlidingWindow)
	}
	return t
}

// ReadShape reads a model's Shape from the header of the GGUF file at path:
// its metadata and tensor infos. It neither builds the model nor reads tensor
// data (the file is mapped, so only the header's pages are read). Errors name
// the file.
func ReadShape(path string) (*Shape, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err // gguf errors name the file
	}
	defer f.Close()
	arch := f.Arch()
	if arch == "" {
		return nil, fmt.Errorf("engine: %s: metadata general.architecture is missing", path)
	}
	c, runnable, err := headerConfig(f, arch)
	if err != nil {
		return nil, fmt.Errorf("engine: %s: %w", path, err)
	}
	sh := shapeOf(path, f, c)
	sh.Runnable = runnable
	return &sh, nil
}

// headerConfig reads the config of any architecture from the header: that
// of the builder for a registered one (sliding windows included), else the
// attention geometry alone, leniently (an architecture the engine does not
// run may lack keys the engine needs, such as the RMS epsilon).
func headerConfig(f *gguf.File, arch string) (Config, bool, error) {
	if spec, ok := archs[arch]; ok {
		c, err := archConfig(f, arch, spec)
		return c, true, err
	}
	r := &meta{f: f, arch: arch}
	c := r.geometry(false)
	if w := r.uint("attention.sliding_window", 0, false); w > 0 {
		c.SlidingWindow = w
		if _, ok := f.Metadata[arch+".attention.sliding_window_pattern"]; ok {
			setSWAPattern(&c, f, r, 1)
		}
	}
	if r.err != nil {
		return c, false, r.err
	}
	if c.Layers <= 0 || c.KVHeads <= 0 || c.HeadDim <= 0 || c.Ctx <= 0 {
		return c, false, fmt.Errorf("metadata %s.* gives no attention geometry (block_count %d, attention.head_count_kv %d, head dimension %d, context_length %d)", arch, c.Layers, c.KVHeads, c.HeadDim, c.Ctx)
	}
	return c, false, nil
}

// Shape is the loaded model's Shape. The weight figures come from the file's
// tensor infos, so they are zero after Close.
func (m *Model) Shape() Shape { return shapeOf(m.Path, m.File, m.Config) }

// shapeOf assembles the Shape of config c and the tensors of f (which may be
// nil), read from path.
func shapeOf(path string, f *gguf.File, c Config) Shape {
	sh := Shape{Path: path, Name: filepath.Base(path), Arch: c.Arch,
		Layers: c.Layers, KVHeads: c.KVHeads, HeadDim: c.HeadDim, Ctx: c.Ctx,
		SlidingWindow: c.SlidingWindow, SWA: c.SWA, Runnable: true}
	if f == nil {
		return sh
	}
	if name, ok := f.String("general.name"); ok && name != "" {
		sh.Name = name
	}
	byType := map[gguf.Type]int64{}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		sh.Params += int64(t.Elements())
		// Parse checked every tensor's size against the file, so this
		// cannot fail for a parsed file.
		if n, err := t.Type.Bytes(t.Dims); err == nil {
			sh.WeightBytes += int64(n)
			byType[t.Type] += int64(n)
		}
	}
	var most gguf.Type
	best := int64(-1)
	for typ, n := range byType {
		if n > best || n == best && typ < most {
			most, best = typ, n
		}
	}
	if best >= 0 {
		sh.WeightType = most.String()
	}
	return sh
}
