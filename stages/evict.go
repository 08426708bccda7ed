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
	if !(rate >= 0 && rate < 1) {
		return nil, fmt.Errorf("eviction_rate %g: want 0 <= rate < 1", rate)
	}
	if window < 0 {
		return nil, fmt.Errorf("sliding_window %d: want >= 0", window)
	}
	if sc == nil {
		return nil, fmt.Errorf("evict: no scores")
	}
	groups := groupCount(sc.Granularity, sc.Layers, sc.KVHeads)
	if !slices.Contains(scoreGranularities, sc.Granularity) || sc.T < 1 || sc.Layers < 1 || sc.KVHeads < 1 || len(sc.S) != groups*sc.T {
		return nil, fmt.Errorf("evict: scores with granularity %q, layers=%d kv_heads=%d T=%d hold %d values, want %d",
			sc.Granularity, sc.Layers, sc.KVHeads, sc.T, len(sc.S), groups*sc.T)
	}
	ks := &KeepSet{Granularity: sc.Granularity, Layers: sc.Layers, KVHeads: sc.KVHeads, T: sc.T, Pos: make([][]int32, groups)}
	order := make([]int32, 0, sc.T) // reused ranking buffer
	for g := range groups {
		ks.Pos[g] = keepPositions(sc.S[g*sc.T:(g+1)*sc.T], rate, window, order)
	}
	return ks, nil
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

	// Rank 1…P−1 by score, best first, earlier position on ties (cmp.Compare
	// orders NaN below every number).
	order = order[:0]
	for t := 1; t < P; t++ {
		order = append(order, int32(t))
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := cmp.Compare(scores[b], scores[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})

	keep := make([]int32, 0, 1+n+window)
	keep = append(keep, 0)
	keep = append(keep, order[:n]...)
	slices.Sort(keep[1:])
	for t := P; t < T; t++ {
		keep = append(keep, int32(t))
	}
	return keep
}

// evictOut is the evict stage's output in a Pipeline: the keep lists and
// their encoded stream.
type evictOut struct {
	lists [][]int32 // per keep list (granularity), strictly increasing
	pos   *posStream
	errSums
}

func (o *evictOut) sums() *errSums { return &o.errSums }

// list returns the kept positions of (layer, head).
func (e *evictOut) list(s Settings, kvHeads, layer, head int) []int32 {
	return e.lists[groupIndex(s.Granularity, kvHeads, layer, head)]
}

// runEvict: SPEC §2, plus the encoding of the kept positions.
func (p *Pipeline) runEvict(ctx context.Context, s Settings, so *scoreOut) (*evictOut, error) {
	kv := p.kv
	out := &evictOut{lists: make([][]int32, groupCount(s.Granularity, kv.Layers, kv.KVHeads))}
	if so.sc == nil {
		all := make([]int32, kv.T)
		for i := range all {
			all[i] = int32(i)
		}
		for i := range out.lists {
			out.lists[i] = all
		}
	} else {
		keep, err := Evict(so.sc, s.EvictionRate, s.SlidingWindow)
		if err != nil {
			return nil, err
		}
		for i := range out.lists {
			layer, head := i, 0
			if s.Granularity == "head" {
				layer, head = i/kv.KVHeads, i%kv.KVHeads
			}
			l := keep.For(layer, head)
			if err := checkKeepList(l, kv.T); err != nil {
				return nil, fmt.Errorf("keep set of (layer %d, head %d): %w", layer, head, err)
			}
			out.lists[i] = l
		}
	}
	var err error
	if out.pos, err = encodePositions(out.lists, kv.T); err != nil {
		return nil, err
	}
	// ‖evicted rows‖ / ‖all rows‖: diff accumulates the evicted rows.
	_, err = p.measureTasks(ctx, &out.errSums, func(_, layer, head int, t *errSums) error {
		keep := out.list(s, kv.KVHeads, layer, head)
		for kvi := range 2 {
			j := 0
			for pos := range kv.T {
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

// checkKeepList checks what the format relies on: 1..T positions, strictly
// increasing, in [0, T).
func checkKeepList(l []int32, T int) error {
	if len(l) < 1 || len(l) > T {
		return fmt.Errorf("%d positions, want 1..%d", len(l), T)
	}
	for i, v := range l {
		if v < 0 || int(v) >= T || i > 0 && v <= l[i-1] {
			return fmt.Errorf("position %d at index %d: want strictly increasing in [0, %d)", v, i, T)
		}
	}
	return nil
}
