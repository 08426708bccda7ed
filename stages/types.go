package stages

// KV is a float32 prefix cache as the engine hands it over after prefill.
//
// Layout: K and V each hold Layers*KVHeads*T*HeadDim values, indexed
// [layer][kvHead][token][dim]. Token t sits at position t (0 is BOS). Keys have
// the model's RoPE applied, exactly as attention reads them.
//
// Attn describes each layer's attention (len Layers), or is nil when every
// layer is a plain full-attention layer with RoPE. The engine keeps every
// row of a sliding-window layer; the pipeline compresses only the rows the
// layer's cache holds (its last Window positions) and drops the older ones,
// which no later query can see.
type KV struct {
	Layers, KVHeads, HeadDim, T int
	K, V                        []float32
	Attn                        []LayerAttn
}

// Layer returns layer l's attention (the zero LayerAttn when Attn is nil).
func (kv *KV) Layer(l int) LayerAttn { return layerAttn(kv.Attn, l) }

// Row returns the HeadDim-long key (isKey) or value row of token t in (layer, head).
// The slice aliases kv's storage.
func (kv *KV) Row(isKey bool, layer, head, t int) []float32 {
	off := ((layer*kv.KVHeads+head)*kv.T + t) * kv.HeadDim
	if isKey {
		return kv.K[off : off+kv.HeadDim]
	}
	return kv.V[off : off+kv.HeadDim]
}

// RoPEFunc rotates head vectors of layer l in place by that layer's rotary
// embedding: rows holds len(pos) vectors of HeadDim floats, vector i at
// position pos[i]; with inverse it applies the inverse rotation. It must be
// the rotation the model's forward pass uses for that layer (pairing
// convention, base, scaling — gemma3's sliding layers rotate with another
// base than its full ones), so that undo followed by redo is the identity
// within float32 rounding; a layer without RoPE leaves rows unchanged.
// engine.Model.RoPERows is one. It takes a run of rows rather than one so
// that a decode step re-rotating thousands of kept keys pays the call once
// per run.
type RoPEFunc func(l int, rows []float32, pos []int32, inverse bool)

// AttnStats are the attention statistics the engine captures during prefill, at no
// extra pass, for the attention-based scorers (SPEC §1).
//
// Each slice holds Layers*Heads*T values indexed [layer][queryHead][keyPos]:
//   - Obs:  Σ over the last Window queries of the softmax probability on key t;
//   - All:  Σ over all T queries (query p sees keys ≤ p);
//   - Last: the probability row of the last query.
//
// Heads is the number of query heads (H); query head q belongs to KV head
// q / (Heads/KVHeads).
type AttnStats struct {
	Layers, Heads, T, Window int
	Obs, All, Last           []float32
}
