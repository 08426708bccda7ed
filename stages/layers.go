package stages

import (
	"fmt"
	"strconv"
)

// Layer types (LayerAttn.Kind), in the order reports list them.
const (
	KindFull    = "full"
	KindSliding = "sliding"
	KindNoRoPE  = "no-rope"
)

// LayerKinds lists the layer types in report order. Read-only.
var LayerKinds = []string{KindFull, KindSliding, KindNoRoPE}

// Values of Settings.SlidingLayers: what the pipeline does with the window a
// sliding-window layer's cache holds.
const (
	// SlidingCompress runs the stages on the window's rows: eviction ratios
	// apply to what the window keeps, the rest is quantized like any layer.
	SlidingCompress = "compress"
	// SlidingFloat16 stores the window as float16, nothing evicted or
	// quantized (losslessly zstd-coded, as protected layers are).
	SlidingFloat16 = "float16"
)

var settingSlidingLayers = []string{SlidingCompress, SlidingFloat16}

// LayerAttn is how one layer attends, as far as the stages care. The zero
// value is a plain llama layer: full attention, keys rotated by RoPE.
type LayerAttn struct {
	// Window is the sliding window in positions (a query at position p sees
	// keys at positions > p − Window); 0 for full attention. The float16
	// cache of a sliding layer holds only its last Window positions.
	Window int `json:"window,omitempty"`
	// NoRoPE marks a layer that rotates neither queries nor keys: the rope
	// stage leaves its keys as they are.
	NoRoPE bool `json:"no_rope,omitempty"`
	// QKNorm marks keys RMS-normalised per head before RoPE (it changes
	// nothing the stages do; reports show it, since such keys quantize
	// differently).
	QKNorm bool `json:"qk_norm,omitempty"`
}

// Kind names the layer type: "sliding" (a window), "no-rope", or "full".
func (a LayerAttn) Kind() string {
	switch {
	case a.Window > 0:
		return KindSliding
	case a.NoRoPE:
		return KindNoRoPE
	}
	return KindFull
}

// Label is the layer type as a UI shows it: "full", "sliding 48" or
// "no-rope", with " qk-norm" when keys are normalised.
func (a LayerAttn) Label() string {
	s := a.Kind()
	if a.Window > 0 {
		s += " " + strconv.Itoa(a.Window)
		if a.NoRoPE {
			s += " no-rope"
		}
	}
	if a.QKNorm {
		s += " qk-norm"
	}
	return s
}

// plain reports whether the layer is a zero-value (plain llama) layer.
func (a LayerAttn) plain() bool { return a == LayerAttn{} }

// layerAttn returns layer l's attention from attn (nil: every layer plain).
func layerAttn(attn []LayerAttn, l int) LayerAttn {
	if l < 0 || l >= len(attn) {
		return LayerAttn{}
	}
	return attn[l]
}

// checkLayerAttn validates a per-layer description against the layer count.
func checkLayerAttn(attn []LayerAttn, layers int) error {
	if attn == nil {
		return nil
	}
	if len(attn) != layers {
		return fmt.Errorf("layer descriptions: %d for %d layers", len(attn), layers)
	}
	for l, a := range attn {
		if a.Window < 0 || a.Window > maxPrefix {
			return fmt.Errorf("layer %d: sliding window %d, want 0..%d", l, a.Window, maxPrefix)
		}
	}
	return nil
}

// span is the part of the prefix a layer's cache holds: positions lo … T−1
// (lo > 0 only for a sliding layer whose window is shorter than T), and
// whether the layer is stored as float16 untouched (sliding_layers float16).
type span struct {
	lo  int
	f16 bool
}

// layerSpans returns every layer's span for a prefix of T tokens under the
// sliding_layers setting mode.
func layerSpans(attn []LayerAttn, layers, T int, mode string) []span {
	out := make([]span, layers)
	for l := range out {
		if w := layerAttn(attn, l).Window; w > 0 {
			out[l] = span{lo: max(0, T-w), f16: mode == SlidingFloat16}
		}
	}
	return out
}

// listLayout says which kept-position list each (layer, KV head) reads and
// which span each list lies in. With granularity "layer" there is one list
// per layer, with "head" one per (layer, head), layer-major; with "global"
// one per distinct span, in the order layers first use them — one list in
// all for a model whose layers all attend to every position, as before
// sliding windows. Such a model's layout holds no slices at all, so its
// memory figures are what they were.
type listLayout struct {
	granularity     string
	layers, kvHeads int
	class           []int32 // global: each layer's list; nil when every layer reads list 0
	spans           []span  // per list; nil when every list spans the whole prefix
}

func newListLayout(granularity string, layers, kvHeads int, spans []span) listLayout {
	ll := listLayout{granularity: granularity, layers: layers, kvHeads: kvHeads}
	plain := true
	for _, s := range spans {
		plain = plain && s == span{}
	}
	if plain {
		return ll
	}
	switch granularity {
	case "layer":
		ll.spans = append(ll.spans, spans...)
	case "head":
		for l := range layers {
			for range kvHeads {
				ll.spans = append(ll.spans, spans[l])
			}
		}
	default:
		ll.class = make([]int32, layers)
		for l := range layers {
			i := 0
			for i < len(ll.spans) && ll.spans[i] != spans[l] {
				i++
			}
			if i == len(ll.spans) {
				ll.spans = append(ll.spans, spans[l])
			}
			ll.class[l] = int32(i)
		}
	}
	return ll
}

// list is the index of (layer, head)'s list.
func (ll *listLayout) list(layer, head int) int {
	switch ll.granularity {
	case "layer":
		return layer
	case "head":
		return layer*ll.kvHeads + head
	}
	if ll.class == nil {
		return 0
	}
	return int(ll.class[layer])
}

// count is the number of lists.
func (ll *listLayout) count() int {
	switch ll.granularity {
	case "layer":
		return ll.layers
	case "head":
		return ll.layers * ll.kvHeads
	}
	return max(1, len(ll.spans))
}

// span is list i's span.
func (ll *listLayout) span(i int) span {
	if ll.spans == nil {
		return span{}
	}
	return ll.spans[i]
}

// rep returns a (layer, head) that reads list i: the scores that rank it.
func (ll *listLayout) rep(i int) (layer, head int) {
	switch ll.granularity {
	case "layer":
		return i, 0
	case "head":
		return i / ll.kvHeads, i % ll.kvHeads
	}
	for l, c := range ll.class {
		if int(c) == i {
			return l, 0
		}
	}
	return 0, 0
}

// bytes is the memory the layout holds.
func (ll *listLayout) bytes() int64 { return 4*int64(cap(ll.class)) + 16*int64(cap(ll.spans)) }

// slidingF16 reports whether a layer is stored as float16 untouched under s:
// a sliding-window layer with sliding_layers float16.
func slidingF16(s Settings, a LayerAttn) bool {
	return a.Window > 0 && s.SlidingLayers == SlidingFloat16
}

// normAttn returns attn, or nil when every layer is plain (so a plain model
// carries no per-layer table, in memory or in its file).
func normAttn(attn []LayerAttn) []LayerAttn {
	for _, a := range attn {
		if !a.plain() {
			return attn
		}
	}
	return nil
}

// hasSliding reports whether any layer of attn has a sliding window.
func hasSliding(attn []LayerAttn) bool {
	for _, a := range attn {
		if a.Window > 0 {
			return true
		}
	}
	return false
}
