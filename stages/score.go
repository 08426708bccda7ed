package stages

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"

	"nexusquant/internal/vec"
)

// Scores holds one importance score per prefix position (SPEC §1): len(S) = T
// (Granularity "global"), Layers*T ("layer", indexed [layer][t]) or
// Layers*KVHeads*T ("head", indexed [layer][kvHead][t]). Higher means more
// worth keeping; ties go to the earlier position.
type Scores struct {
	Granularity        string // "global" | "layer" | "head"
	Layers, KVHeads, T int
	S                  []float32
}

// For returns the T scores that rank positions for (layer, kvHead). The slice
// aliases s.S.
func (s *Scores) For(layer, head int) []float32 {
	g := groupIndex(s.Granularity, s.KVHeads, layer, head)
	return s.S[g*s.T : (g+1)*s.T]
}

// groupIndex is the index of (layer, head)'s group: 0 for "global", layer for
// "layer", layer*kvHeads+head for "head".
func groupIndex(granularity string, kvHeads, layer, head int) int {
	switch granularity {
	case "layer":
		return layer
	case "head":
		return layer*kvHeads + head
	}
	return 0
}

// groupCount is the number of groups of a granularity.
func groupCount(granularity string, layers, kvHeads int) int {
	switch granularity {
	case "layer":
		return layers
	case "head":
		return layers * kvHeads
	}
	return 1
}

// Valid scorer and granularity names, in the order error messages list them.
var (
	scoreScorers       = []string{"keykey", "attention", "h2o", "tova", "knorm", "streaming", "random"}
	scoreGranularities = []string{"global", "layer", "head"}
)

// ComputeScores runs scorer ∈ {keykey, attention, h2o, tova, knorm, streaming,
// random} on kv at the given granularity, on all cores (GOMAXPROCS workers).
// See ComputeScoresWorkers.
func ComputeScores(kv *KV, stats *AttnStats, scorer, granularity string, obsWindow int, seed int64) (*Scores, error) {
	return ComputeScoresWorkers(kv, stats, scorer, granularity, obsWindow, seed, runtime.GOMAXPROCS(0))
}

// ComputeScoresWorkers is ComputeScores on at most workers goroutines (< 1
// means 1). The result is the same for any worker count.
//
// Every scorer first builds a raw score r[layer][kvHead][t], then reduces it:
// "head" keeps r, "layer" takes the mean over KV heads, "global" the mean over
// KV heads and then over layers. keykey and attention also apply the average
// pool of width 5 (stride 1, zero padding 2, always divided by 5) to each
// head- or layer-level vector before any mean over layers, as SPEC §1 says; the
// baselines h2o, tova and knorm are not pooled (their papers do not pool).
//
//   - keykey: the last w = min(obsWindow, T) keys of kv (RoPE applied, as stored)
//     act as queries; the query at position p attends causally to keys 0…p with
//     softmax(q·kᵀ/√d); r[t] = Σ over the w queries of the probability on t.
//   - attention: r = stats.Obs averaged over the query heads of each KV head.
//   - h2o: r[t] = stats.All[t] / (T − t) (the number of queries that see t),
//     averaged over the query heads of each KV head.
//   - tova: r = stats.Last averaged over the query heads of each KV head.
//   - knorm: r[t] = −‖K[t]‖₂.
//   - streaming: S[t] = t, so that Evict's best-n rule keeps the most recent
//     positions (exact while T <= 2^24).
//   - random: uniform in [0, 1) from splitmix64(seed), one draw per output value
//     in S order; no reduction.
//
// stats may be nil except for attention, h2o and tova; it must match kv's
// Layers and T, and stats.Window must match obsWindow after both are clamped
// to T. Errors name the bad value.
func ComputeScoresWorkers(kv *KV, stats *AttnStats, scorer, granularity string, obsWindow int, seed int64, workers int) (*Scores, error) {
	if err := checkScoreArgs(kv, scorer, granularity, obsWindow); err != nil {
		return nil, err
	}
	L, H, T := kv.Layers, kv.KVHeads, kv.T
	w := min(obsWindow, T)
	out := &Scores{Granularity: granularity, Layers: L, KVHeads: H, T: T}
	n := groupCount(granularity, L, H) * T
	switch scorer {
	case "streaming":
		out.S = make([]float32, n)
		for i := range out.S {
			out.S[i] = float32(i % T)
		}
		return out, nil
	case "random":
		out.S = make([]float32, n)
		rng := splitMix64(uint64(seed))
		for i := range out.S {
			out.S[i] = float32(rng.next()>>40) / (1 << 24)
		}
		return out, nil
	}

	raw := make([]float32, L*H*T)
	pool := false
	switch scorer {
	case "keykey":
		keyKeyScores(raw, kv, w, workers)
		pool = true
	case "knorm":
		d := kv.HeadDim
		for row := range raw { // row = (layer·KVHeads + head)·T + t, as in kv.K
			k := kv.K[row*d : (row+1)*d]
			raw[row] = -float32(math.Sqrt(float64(dot32(k, k))))
		}
	default: // attention, h2o, tova
		if err := checkStats(stats, kv, scorer, w); err != nil {
			return nil, err
		}
		src, div := stats.Obs, false
		switch scorer {
		case "h2o":
			src, div = stats.All, true
		case "tova":
			src = stats.Last
		}
		groupMeanStats(raw, src, stats.Heads, H, T, div)
		pool = scorer == "attention"
	}
	out.S = reduceScores(raw, granularity, L, H, T, pool)
	return out, nil
}

func checkScoreArgs(kv *KV, scorer, granularity string, obsWindow int) error {
	if !slices.Contains(scoreScorers, scorer) {
		return fmt.Errorf("scorer %q: want one of %v", scorer, scoreScorers)
	}
	if !slices.Contains(scoreGranularities, granularity) {
		return fmt.Errorf("granularity %q: want one of %v", granularity, scoreGranularities)
	}
	if obsWindow < 1 {
		return fmt.Errorf("obs_window %d: want >= 1", obsWindow)
	}
	if kv == nil {
		return fmt.Errorf("scorer %s: no KV cache", scorer)
	}
	if kv.Layers < 1 || kv.KVHeads < 1 || kv.HeadDim < 1 || kv.T < 1 {
		return fmt.Errorf("KV cache shape layers=%d kv_heads=%d head_dim=%d T=%d: every size must be >= 1", kv.Layers, kv.KVHeads, kv.HeadDim, kv.T)
	}
	if kv.T > 1<<24 {
		return fmt.Errorf("KV cache with T=%d tokens: at most %d supported", kv.T, 1<<24)
	}
	if want := kv.Layers * kv.KVHeads * kv.T * kv.HeadDim; len(kv.K) != want && (scorer == "keykey" || scorer == "knorm") {
		return fmt.Errorf("KV cache keys hold %d values, want layers*kv_heads*T*head_dim = %d", len(kv.K), want)
	}
	return nil
}

func checkStats(st *AttnStats, kv *KV, scorer string, w int) error {
	if st == nil {
		return fmt.Errorf("scorer %s needs attention statistics from prefill, and there are none", scorer)
	}
	if st.Layers != kv.Layers || st.T != kv.T || st.Heads < 1 || st.Heads%kv.KVHeads != 0 {
		return fmt.Errorf("scorer %s: attention statistics for layers=%d heads=%d T=%d do not fit the KV cache (layers=%d kv_heads=%d T=%d)",
			scorer, st.Layers, st.Heads, st.T, kv.Layers, kv.KVHeads, kv.T)
	}
	want := st.Layers * st.Heads * st.T
	var got int
	switch scorer {
	case "attention":
		got = len(st.Obs)
		if min(st.Window, st.T) != w {
			return fmt.Errorf("scorer attention: statistics captured with window %d, obs_window is %d (T=%d)", st.Window, w, st.T)
		}
	case "h2o":
		got = len(st.All)
	case "tova":
		got = len(st.Last)
	}
	if got != want {
		return fmt.Errorf("scorer %s: attention statistics hold %d values, want layers*heads*T = %d", scorer, got, want)
	}
	return nil
}

// groupMeanStats sets raw[l][g][t] to the mean over the query heads of KV
// group g of src[l][q][t] (src indexed [layer][queryHead][t]), divided by
// T − t when div (h2o).
func groupMeanStats(raw, src []float32, heads, kvHeads, T int, div bool) {
	per := heads / kvHeads
	layers := len(raw) / (kvHeads * T)
	for l := range layers {
		for g := range kvHeads {
			dst := raw[(l*kvHeads+g)*T : (l*kvHeads+g+1)*T]
			for q := g * per; q < (g+1)*per; q++ {
				row := src[(l*heads+q)*T : (l*heads+q+1)*T]
				for t, v := range row {
					dst[t] += v
				}
			}
			for t := range dst {
				dst[t] /= float32(per)
				if div {
					dst[t] /= float32(T - t)
				}
			}
		}
	}
}

// reduceScores turns raw [layer][kvHead][t] scores into the granularity's
// shape: "head" as is, "layer" the mean over heads, "global" the mean over heads
// then over layers; with pool, every head- or layer-level vector is pooled
// (avgPool5) before the mean over layers.
func reduceScores(raw []float32, granularity string, L, H, T int, pool bool) []float32 {
	if granularity == "head" {
		if pool {
			out := make([]float32, len(raw))
			for g := range L * H {
				avgPool5(out[g*T:(g+1)*T], raw[g*T:(g+1)*T])
			}
			return out
		}
		return raw
	}
	layer := make([]float32, L*T)
	tmp := make([]float32, T)
	for l := range L {
		mean := tmp
		clear(mean)
		for h := range H {
			for t, v := range raw[(l*H+h)*T : (l*H+h+1)*T] {
				mean[t] += v
			}
		}
		for t := range mean {
			mean[t] /= float32(H)
		}
		if pool {
			avgPool5(layer[l*T:(l+1)*T], mean)
		} else {
			copy(layer[l*T:(l+1)*T], mean)
		}
	}
	if granularity == "layer" {
		return layer
	}
	global := make([]float32, T)
	for l := range L {
		for t, v := range layer[l*T : (l+1)*T] {
			global[t] += v
		}
	}
	for t := range global {
		global[t] /= float32(L)
	}
	return global
}

// avgPool5 writes into dst (len T) the 1-D average pool of src (len T) with
// width 5, stride 1 and zero padding 2: dst[t] = (src[t−2] + … + src[t+2]) / 5,
// missing neighbours counting as 0. dst must not alias src.
func avgPool5(dst, src []float32) {
	for t := range dst {
		var sum float32
		for u := max(t-2, 0); u <= min(t+2, len(src)-1); u++ {
			sum += src[u]
		}
		dst[t] = sum / 5
	}
}

// keyKeyScores fills raw[l][h][t] with the keykey score before pooling (see
// ComputeScoresWorkers), one (layer, head) per task on up to workers
// goroutines (runTasks), each with its own scratch.
func keyKeyScores(raw []float32, kv *KV, w, workers int) {
	T, d := kv.T, kv.HeadDim
	scratch := make([]*keyKeyScratch, max(1, workers))
	_ = runTasks(context.Background(), workers, kv.Layers*kv.KVHeads, func(worker, g int) error {
		if scratch[worker] == nil {
			scratch[worker] = newKeyKeyScratch(T, w)
		}
		keyKeyHead(raw[g*T:(g+1)*T], kv.K[g*T*d:(g+1)*T*d], d, w, scratch[worker])
		return nil
	})
}

// keyKeyBlock is the number of queries whose logits are held at once, so that
// a worker's scratch (keyKeyBlock·T floats) does not grow with obs_window.
const keyKeyBlock = 32

// keyKeyScratch is one worker's buffers: logits[b*T+t] for query b of the
// current block, acc[t] the running sum of probabilities.
type keyKeyScratch struct {
	logits []float32
	acc    []float64
}

func newKeyKeyScratch(T, w int) *keyKeyScratch {
	return &keyKeyScratch{logits: make([]float32, min(w, keyKeyBlock)*T), acc: make([]float64, T)}
}

// keyKeyHead writes into dst (len T) the keykey score of one (layer, head) whose
// keys (T rows of d) are given: the queries are the last w keys; query j sits at
// position p = T−w+j and attends to keys 0…p.
func keyKeyHead(dst, keys []float32, d, w int, sc *keyKeyScratch) {
	T := len(dst)
	first := T - w // position of query 0
	scale := float32(1 / math.Sqrt(float64(d)))
	acc := sc.acc[:T]
	clear(acc)
	for j0 := 0; j0 < w; j0 += keyKeyBlock {
		nb := min(keyKeyBlock, w-j0) // queries j0…j0+nb−1, at positions p0…p0+nb−1
		p0 := first + j0
		queries := keys[p0*d : (p0+nb)*d]
		logits := sc.logits[:nb*T]
		if useAsm && d%8 == 0 {
			keyKeyLogitsAVX(logits, queries, keys, d, p0, nb, T, scale)
		} else {
			keyKeyLogits(logits, queries, keys, d, p0, nb, T, scale)
		}
		for b := range nb {
			softmaxAccumulate(acc, logits[b*T:b*T+p0+b+1])
		}
	}
	for t, v := range acc {
		dst[t] = float32(v)
	}
}

// keyKeyLogits sets logits[b*T+t] = (query b · key t)·scale for the queries
// b < nb of a block (at positions p0+b) and every key t <= p0+b they see.
func keyKeyLogits(logits, queries, keys []float32, d, p0, nb, T int, scale float32) {
	// Key-outer loop: each key row is loaded once and met by every query
	// of the block that sees it (b >= t−p0), four queries at a time.
	for t := range p0 + nb {
		k := keys[t*d : (t+1)*d]
		b := max(0, t-p0)
		for ; b+4 <= nb; b += 4 {
			s0, s1, s2, s3 := dot4(queries[b*d:(b+4)*d], k)
			logits[b*T+t] = s0 * scale
			logits[(b+1)*T+t] = s1 * scale
			logits[(b+2)*T+t] = s2 * scale
			logits[(b+3)*T+t] = s3 * scale
		}
		for ; b < nb; b++ {
			logits[b*T+t] = dot32(queries[b*d:(b+1)*d], k) * scale
		}
	}
}

// keyKeyLogitsAVX is keyKeyLogits with the FMA kernel qkAVX on the rectangle of
// the first nb&^3 queries and the first (p0+nb)&^1 keys (the few logits of
// keys a query does not see are computed and ignored); the rest in Go.
func keyKeyLogitsAVX(logits, queries, keys []float32, d, p0, nb, T int, scale float32) {
	nk := p0 + nb
	nq4, nk2 := nb&^3, nk&^1
	if nq4 > 0 && nk2 > 0 {
		qkAVX(&queries[0], nq4, &keys[0], nk2, d, &logits[0], T, scale)
	}
	for b := nq4; b < nb; b++ { // the last queries, every key they see
		q := queries[b*d : (b+1)*d]
		for t := range p0 + b + 1 {
			logits[b*T+t] = dot32(q, keys[t*d:(t+1)*d]) * scale
		}
	}
	if nk2 < nk { // the last key, for the queries of the rectangle that see it
		t := nk - 1
		for b := max(0, t-p0); b < nq4; b++ {
			logits[b*T+t] = dot32(queries[b*d:(b+1)*d], keys[t*d:(t+1)*d]) * scale
		}
	}
}

// softmaxAccumulate adds softmax(row) to acc[:len(row)]; row is overwritten.
func softmaxAccumulate(acc []float64, row []float32) {
	if useAsm && len(row) >= 8 {
		softmaxAccumulateAVX(acc, row)
		return
	}
	m := float32(math.Inf(-1))
	for _, v := range row {
		m = max(m, v)
	}
	var sum float64
	for t, v := range row {
		e := float32(math.Exp(float64(v - m)))
		row[t] = e
		sum += float64(e)
	}
	inv := 1 / sum
	for t, e := range row {
		acc[t] += float64(e) * inv
	}
}

// softmaxAccumulateAVX is softmaxAccumulate with the kernels maxAVX,
// vec.ExpSubSum (a vectorised float32 exp, within a few ulp of the float64 one
// rounded, with its sum) and accAVX on the first len(row)&^7 values.
func softmaxAccumulateAVX(acc []float64, row []float32) {
	n8 := len(row) &^ 7
	m := maxAVX(&row[0], n8)
	for _, v := range row[n8:] {
		m = max(m, v)
	}
	sum := vec.ExpSubSum(row[:n8], m)
	for t := n8; t < len(row); t++ {
		e := float32(math.Exp(float64(row[t] - m)))
		row[t] = e
		sum += float64(e)
	}
	inv := 1 / sum
	accAVX(&acc[0], &row[0], n8, inv)
	for t := n8; t < len(row); t++ {
		acc[t] += float64(row[t]) * inv
	}
}

// dot4 returns the dot products of k (len d) with the four rows of q (4·d
// values, row-major): dot32 four times, but each k[i] is loaded once for the
// four rows, which takes the loop from load-bound towards add-bound.
func dot4(q, k []float32) (s0, s1, s2, s3 float32) {
	d := len(k)
	// Every row sliced to length exactly d lets the compiler drop the bounds
	// checks in the loop.
	q0, q1, q2, q3 := q[:d], q[d:][:d], q[2*d:][:d], q[3*d:][:d]
	var u0, u1, u2, u3 float32 // second accumulator per row: odd i
	i := 0
	for ; i+1 < d; i += 2 {
		k0, k1 := k[i], k[i+1]
		s0 += q0[i] * k0
		u0 += q0[i+1] * k1
		s1 += q1[i] * k0
		u1 += q1[i+1] * k1
		s2 += q2[i] * k0
		u2 += q2[i+1] * k1
		s3 += q3[i] * k0
		u3 += q3[i+1] * k1
	}
	if i < d {
		s0 += q0[i] * k[i]
		s1 += q1[i] * k[i]
		s2 += q2[i] * k[i]
		s3 += q3[i] * k[i]
	}
	return s0 + u0, s1 + u1, s2 + u2, s3 + u3
}

// dot32 returns Σ a[i]·b[i] over len(a) (b must be at least as long), with four
// independent accumulators so the adds pipeline. Walking by re-slicing lets
// the compiler drop the bounds checks.
func dot32(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	for len(a) >= 4 && len(b) >= 4 {
		s0 += a[0] * b[0]
		s1 += a[1] * b[1]
		s2 += a[2] * b[2]
		s3 += a[3] * b[3]
		a, b = a[4:], b[4:]
	}
	for i, v := range a {
		s0 += v * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// scoreOut is the score stage's output in a Pipeline.
type scoreOut struct {
	sc *Scores // nil when the method does not evict
	errSums
}

func (o *scoreOut) sums() *errSums { return &o.errSums }

// runScore: SPEC §1.
func (p *Pipeline) runScore(ctx context.Context, s Settings) (*scoreOut, error) {
	if !p.evicts(s) {
		return &scoreOut{}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sc, err := ComputeScores(p.kv, p.stats, s.Scorer, s.Granularity, s.ObsWindow, s.Seed)
	if err != nil {
		return nil, err
	}
	return &scoreOut{sc: sc}, nil
}
