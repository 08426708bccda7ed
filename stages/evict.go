package stages

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// KeepSet lists, per group, the kept positions in strictly increasing order
// (SPEC §2). Groups follow the granularity: 1 ("global"), Layers ("layer"),
// Layers*KVHeads ("head", indexed [layer][kvHead]).
type KeepSet struct {
	Granularity        string
	Layers, KVHeads, T int
	Pos                [][]int32
}

// For returns the kept positions of (layer, kvHead). The slice aliases k.Pos.
func (k *KeepSet) For(layer, head int) []int32 {
	return k.Pos[groupIndex(k.Granularity, k.KVHeads, layer, head)]
}

// Kept is the number of kept rows summed over every (layer, kvHead); for
// "global" that is len(Pos[0])*Layers*KVHeads.
func (k *KeepSet) Kept() int {
	n := 0
	for l := range k.Layers {
		for h := range k.KVHeads {
			n += len(k.For(l, h))
		}
	}
	return n
}

// Evict applies the keep rule of SPEC §2 to every group of sc: keep position 0,
// the last window positions, and the n = max(1, ⌊P·(1−rate)⌋) best-scored
// positions among 1…P−1, where P = T − window (all of them if there are fewer).
// If T <= window+1 nothing is evicted. Equal scores go to the earlier position;
// NaN scores rank below every number. Streaming scores (S[t] = t) make the rule
// keep the most recent n positions of 1…P−1.
//
// rate must lie in [0, 1) and window be >= 0; errors name the bad value. The
// returned KeepSet and its slices are newly allocated.
func Evict(sc *Scores, rate float64, window int) (*KeepSet, error) {
	if err := checkEvictArgs(sc, rate, window); err != nil {
		return nil, err
	}
	groups := groupCount(sc.Granularity, sc.Layers, sc.KVHeads)
	ks := &KeepSet{Granularity: sc.Granularity, Layers: sc.Layers, KVHeads: sc.KVHeads, T: sc.T, Pos: make([][]int32, groups)}
	order := make([]int32, 0, sc.T) // reused ranking buffer
	for g := range groups {
		ks.Pos[g] = keepPositions(sc.S[g*sc.T:(g+1)*sc.T], rate, window, order)
	}
	return ks, nil
}

// checkEvictArgs checks Evict's arguments.
func checkEvictArgs(sc *Scores, rate float64, window int) error {
	if !(rate >= 0 && rate < 1) {
		return fmt.Errorf("eviction_rate %g: want 0 <= rate < 1", rate)
	}
	if window < 0 {
		return fmt.Errorf("sliding_window %d: want >= 0", window)
	}
	if sc == nil {
		return fmt.Errorf("evict: no scores")
	}
	groups := groupCount(sc.Granularity, sc.Layers, sc.KVHeads)
	if !slices.Contains(scoreGranularities, sc.Granularity) || sc.T < 1 || sc.Layers < 1 || sc.KVHeads < 1 || len(sc.S) != groups*sc.T {
		return fmt.Errorf("evict: scores with granularity %q, layers=%d kv_heads=%d T=%d hold %d values, want %d",
			sc.Granularity, sc.Layers, sc.KVHeads, sc.T, len(sc.S), groups*sc.T)
	}
	return nil
}

// keepWindow applies the keep rule to the positions lo … T−1 of one group
// (scores has len T): the part of the prefix a sliding-window layer's cache
// holds, when it starts past 0. Position lo is no attention sink (later
// queries lose sight of it first), so nothing is kept for its place: the last
// window positions are kept, and of the P = T − window − lo positions
// lo … T−window−1 before them the n = min(max(1, ⌊P·(1−rate)⌋), P)
// best-scored. If T − lo <= window nothing is evicted. With lo = 0 it is
// keepPositions.
func keepWindow(scores []float32, lo int, rate float64, window int, order []int32) []int32 {
	if lo <= 0 {
		return keepPositions(scores, rate, window, order)
	}
	T := len(scores)
	P := T - window - lo
	if window >= T-lo || P <= 0 { // T − lo <= window, without overflow
		return positionRange(lo, T)
	}
	n := min(max(1, int(float64(P)*(1-rate))), P)
	order = rankPositions(order[:0], scores, lo, lo+P)
	keep := make([]int32, 0, n+window)
	keep = append(keep, order[:n]...)
	slices.Sort(keep)
	for t := lo + P; t < T; t++ {
		keep = append(keep, int32(t))
	}
	return keep
}

// positionRange returns lo, lo+1, …, hi−1, newly allocated.
func positionRange(lo, hi int) []int32 {
	out := make([]int32, hi-lo)
	for i := range out {
		out[i] = int32(lo + i)
	}
	return out
}

// rankPositions appends the positions a … b−1 to order, best score first,
// the earlier position on ties (cmp.Compare orders NaN below every number).
func rankPositions(order []int32, scores []float32, a, b int) []int32 {
	for t := a; t < b; t++ {
		order = append(order, int32(t))
	}
	slices.SortFunc(order, func(x, y int32) int {
		if c := cmp.Compare(scores[y], scores[x]); c != 0 {
			return c
		}
		return cmp.Compare(x, y)
	})
	return order
}

// keepPositions applies the keep rule to one group's scores (len T) and
// returns the kept positions in increasing order. order is scratch (cap >= T).
func keepPositions(scores []float32, rate float64, window int, order []int32) []int32 {
	T := len(scores)
	if window >= T-1 { // T <= window+1, without overflow
		all := make([]int32, T)
		for t := range all {
			all[t] = int32(t)
		}
		return all
	}
	P := T - window
	n := min(max(1, int(float64(P)*(1-rate))), P-1)
	order = rankPositions(order[:0], scores, 1, P)

	keep := make([]int32, 0, 1+n+window)
	keep = append(keep, 0)
	keep = append(keep, order[:n]...)
	slices.Sort(keep[1:])
	for t := P; t < T; t++ {
		keep = append(keep, int32(t))
	}
	return keep
}

// evictOut is the evict stage's output in a Pipeline: the keep lists, which
// list each (layer, head) reads, and their encoded stream.
type evictOut struct {
	layout listLayout
	lists  [][]int32 // per keep list (layout), strictly increasing
	pos    *posStream
	msg    string // the stage report's Note
	errSums
}

func (o *evictOut) sums() *errSums { return &o.errSums }
func (o *evictOut) note() string   { return o.msg }

// list returns the kept positions of (layer, head).
func (e *evictOut) list(layer, head int) []int32 {
	return e.lists[e.layout.list(layer, head)]
}

// spans returns every layer's span under s (see layerSpans).
func (p *Pipeline) spans(s Settings) []span {
	return layerSpans(p.kv.Attn, p.kv.Layers, p.kv.T, p.effective(s).SlidingLayers)
}

// runEvict: SPEC §2, plus the encoding of the kept positions. A sliding-window
// layer keeps only positions its cache holds (the last Window): the rule
// applies to those (keepWindow), or under sliding_layers float16 all of them
// are kept. Its evict error is measured against the rows its cache holds.
func (p *Pipeline) runEvict(ctx context.Context, s Settings, so *scoreOut) (*evictOut, error) {
	kv := p.kv
	spans := p.spans(s)
	ll := newListLayout(s.Granularity, kv.Layers, kv.KVHeads, spans)
	out := &evictOut{layout: ll, lists: make([][]int32, ll.count()), msg: slidingNote(spans, kv, p.effective(s))}
	if so.sc != nil {
		if err := checkEvictArgs(so.sc, s.EvictionRate, s.SlidingWindow); err != nil {
			return nil, err
		}
	}
	whole := map[int][]int32{} // lo → lo…T−1, shared by the lists that keep every row
	order := make([]int32, 0, kv.T)
	for i := range out.lists {
		sp := ll.span(i)
		layer, head := ll.rep(i)
		var l []int32
		if so.sc == nil || sp.f16 {
			if whole[sp.lo] == nil {
				whole[sp.lo] = positionRange(sp.lo, kv.T)
			}
			l = whole[sp.lo]
		} else {
			l = keepWindow(so.sc.For(layer, head), sp.lo, s.EvictionRate, s.SlidingWindow, order)
		}
		if err := checkKeepList(l, sp.lo, kv.T); err != nil {
			return nil, fmt.Errorf("keep set of (layer %d, head %d): %w", layer, head, err)
		}
		out.lists[i] = l
	}
	var err error
	if out.pos, err = encodePositions(out.lists, kv.T); err != nil {
		return nil, err
	}
	// ‖evicted rows‖ / ‖rows the cache holds‖: diff accumulates the evicted rows.
	_, err = p.measureTasks(ctx, &out.errSums, func(_, layer, head int, t *errSums) error {
		keep := out.list(layer, head)
		lo := spans[layer].lo
		for kvi := range 2 {
			j := 0
			for pos := lo; pos < kv.T; pos++ {
				row := kv.Row(kvi == 0, layer, head, pos)
				var n float64
				for _, v := range row {
					n += float64(v) * float64(v)
				}
				t.ref[kvi] += n
				if j < len(keep) && int(keep[j]) == pos {
					j++
				} else {
					t.diff[kvi] += n
				}
			}
		}
		return nil
	})
	return out, err
}

// slidingNote is the evict stage's note on a model with sliding-window
// layers whose window is shorter than the prefix: which rows they drop as
// unreachable, and what happens to the rest.
func slidingNote(spans []span, kv *KV, s Settings) string {
	n, lo, w := 0, 0, 0
	for l, sp := range spans {
		if sp.lo > 0 {
			n, lo, w = n+1, sp.lo, kv.Layer(l).Window
		}
	}
	if n == 0 {
		return ""
	}
	what := "evicted within the window"
	if s.SlidingLayers == SlidingFloat16 {
		what = "the window kept as float16"
	}
	layers := "layers"
	if n == 1 {
		layers = "layer"
	}
	return fmt.Sprintf("%d sliding %s hold positions %d…%d (window %d): older rows unreachable, dropped; %s", n, layers, lo, kv.T-1, w, what)
}

// checkKeepList checks what the format relies on: 1..T−lo positions,
// strictly increasing, in [lo, T).
func checkKeepList(l []int32, lo, T int) error {
	if len(l) < 1 || len(l) > T-lo {
		return fmt.Errorf("%d positions, want 1..%d", len(l), T-lo)
	}
	for i, v := range l {
		if int(v) < lo || int(v) >= T || i > 0 && v <= l[i-1] {
			return fmt.Errorf("position %d at index %d: want strictly increasing in [%d, %d)", v, i, lo, T)
		}
	}
	return nil
}
