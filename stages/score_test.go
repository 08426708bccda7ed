package stages

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// randomKV returns a KV of the given shape with N(0, σ²) keys and values.
func randomKV(rng *rand.Rand, layers, kvHeads, d, T int, sigma float64) *KV {
	kv := &KV{Layers: layers, KVHeads: kvHeads, HeadDim: d, T: T}
	kv.K = make([]float32, layers*kvHeads*T*d)
	kv.V = make([]float32, len(kv.K))
	for i := range kv.K {
		kv.K[i] = float32(rng.NormFloat64() * sigma)
		kv.V[i] = float32(rng.NormFloat64() * sigma)
	}
	return kv
}

// keyKeyRef64 is the keykey raw score of one (layer, head), written straight
// from SPEC §1 in float64: a full w×T score matrix with a causal mask.
func keyKeyRef64(kv *KV, layer, head, w int) []float64 {
	T, d := kv.T, kv.HeadDim
	r := make([]float64, T)
	for j := range w {
		p := T - w + j
		q := kv.Row(true, layer, head, p)
		logits := make([]float64, p+1)
		m := math.Inf(-1)
		for t := 0; t <= p; t++ {
			k := kv.Row(true, layer, head, t)
			var s float64
			for i := range d {
				s += float64(q[i]) * float64(k[i])
			}
			logits[t] = s / math.Sqrt(float64(d))
			m = max(m, logits[t])
		}
		var z float64
		for t := range logits {
			z += math.Exp(logits[t] - m)
		}
		for t := range logits {
			r[t] += math.Exp(logits[t]-m) / z
		}
	}
	return r
}

// pool5Ref64 is the average pool of SPEC §1 (width 5, stride 1, zero padding 2,
// divide by 5) in float64.
func pool5Ref64(x []float64) []float64 {
	out := make([]float64, len(x))
	for t := range x {
		for u := t - 2; u <= t+2; u++ {
			if u >= 0 && u < len(x) {
				out[t] += x[u] / 5
			}
		}
	}
	return out
}

// TestKeyKeyByHand: all-zero keys make every logit 0, so the query at position
// p spreads 1/(p+1) over keys 0…p. With T=6 and w=2 the queries sit at 4 and 5:
// r = 1/5+1/6 = 11/30 for t <= 4 and 1/6 for t = 5, then the pool divides the
// window sums by 5.
func TestKeyKeyByHand(t *testing.T) {
	kv := &KV{Layers: 1, KVHeads: 1, HeadDim: 2, T: 6, K: make([]float32, 12), V: make([]float32, 12)}
	sc, err := ComputeScores(kv, nil, "keykey", "global", 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{33.0 / 150, 44.0 / 150, 55.0 / 150, 49.0 / 150, 38.0 / 150, 27.0 / 150}
	for i, v := range sc.S {
		if math.Abs(float64(v)-want[i]) > 1e-6 {
			t.Fatalf("scores %v, want %v", sc.S, want)
		}
	}

	// One informative key: d=2, T=6, w=3. Key 1 = (2, 0) and the queries
	// 3…5 = (1, 0), the others 0; the logit of a query on key 1 is 2/√2 = √2,
	// on itself 1/√2, elsewhere 0.
	kv.K = []float32{0, 0, 2, 0, 0, 0, 1, 0, 1, 0, 1, 0}
	sc, err = ComputeScores(kv, nil, "keykey", "head", 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	e2, e1, e0 := math.Exp(math.Sqrt2), math.Exp(1/math.Sqrt2), 1.0
	// Query at 3 sees keys 0,1,2,3; at 4 sees 0…4; at 5 sees 0…5.
	z3, z4, z5 := 2*e0+e2+e1, 2*e0+e2+2*e1, 2*e0+e2+3*e1
	r := []float64{
		e0/z3 + e0/z4 + e0/z5,
		e2/z3 + e2/z4 + e2/z5,
		e0/z3 + e0/z4 + e0/z5,
		e1/z3 + e1/z4 + e1/z5,
		e1/z4 + e1/z5,
		e1 / z5,
	}
	want = pool5Ref64(r)
	for i, v := range sc.S {
		if math.Abs(float64(v)-want[i]) > 1e-6 {
			t.Fatalf("scores %v, want %v", sc.S, want)
		}
	}
}

// TestKeyKeyVersusReference: random caches, every granularity, several
// windows (including w > T), against the float64 reference, within 1e-5
// relative to the largest score.
func TestKeyKeyVersusReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, tc := range []struct{ L, H, d, T, w int }{
		{2, 3, 8, 40, 7}, {1, 2, 16, 5, 32}, {3, 1, 4, 1, 1}, {2, 2, 12, 33, 33},
		{1, 1, 6, 90, 75}, // three blocks of keyKeyBlock queries, the last partial
	} {
		kv := randomKV(rng, tc.L, tc.H, tc.d, tc.T, 1.5)
		w := min(tc.w, tc.T)
		// Reference at every granularity.
		head := make([][]float64, tc.L*tc.H)
		layer := make([][]float64, tc.L)
		global := make([]float64, tc.T)
		for l := range tc.L {
			mean := make([]float64, tc.T)
			for h := range tc.H {
				r := keyKeyRef64(kv, l, h, w)
				head[l*tc.H+h] = pool5Ref64(r)
				for t := range r {
					mean[t] += r[t] / float64(tc.H)
				}
			}
			layer[l] = pool5Ref64(mean)
			for t := range global {
				global[t] += layer[l][t] / float64(tc.L)
			}
		}
		want := map[string][]float64{"global": global, "layer": slices.Concat(layer...), "head": slices.Concat(head...)}
		for gran, ref := range want {
			for _, workers := range []int{1, 3} {
				sc, err := ComputeScoresWorkers(kv, nil, "keykey", gran, tc.w, 0, workers)
				if err != nil {
					t.Fatal(err)
				}
				checkScores(t, sc.S, ref, 1e-5)
			}
		}
	}
}

func checkScores(t *testing.T, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d scores, want %d", len(got), len(want))
	}
	scale := 0.0
	for _, v := range want {
		scale = max(scale, math.Abs(v))
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > tol*scale {
			t.Fatalf("score[%d] = %g, want %g (tolerance %g·%g)", i, got[i], want[i], tol, scale)
		}
	}
}

func TestAvgPool5Edges(t *testing.T) {
	for _, tc := range []struct {
		in, want []float32
	}{
		{[]float32{5}, []float32{1}},
		{[]float32{5, 10}, []float32{3, 3}},
		{[]float32{5, 0, 0, 0, 0, 0, 0}, []float32{1, 1, 1, 0, 0, 0, 0}},
		{[]float32{0, 0, 0, 0, 0, 0, 5}, []float32{0, 0, 0, 0, 1, 1, 1}},
		{[]float32{1, 1, 1, 1, 1, 1}, []float32{0.6, 0.8, 1, 1, 0.8, 0.6}},
	} {
		got := make([]float32, len(tc.in))
		avgPool5(got, tc.in)
		for i := range got {
			if math.Abs(float64(got[i]-tc.want[i])) > 1e-6 {
				t.Errorf("avgPool5(%v) = %v, want %v", tc.in, got, tc.want)
				break
			}
		}
	}
}

// statsFixture builds AttnStats for 2 layers, 4 query heads, 2 KV heads, T=6
// with distinct, easily averaged values: value(l, q, t) = 100l + 10q + t + 1.
func statsFixture() (*KV, *AttnStats) {
	const L, H, Hkv, T = 2, 4, 2, 6
	kv := &KV{Layers: L, KVHeads: Hkv, HeadDim: 2, T: T}
	st := &AttnStats{Layers: L, Heads: H, T: T, Window: 3}
	for l := range L {
		for q := range H {
			for t := range T {
				v := float32(100*l + 10*q + t + 1)
				st.Obs = append(st.Obs, v)
				st.All = append(st.All, 2*v)
				st.Last = append(st.Last, 3*v)
			}
		}
	}
	return kv, st
}

func TestStatsScorers(t *testing.T) {
	kv, st := statsFixture()
	// Query heads 0,1 belong to KV head 0 and 2,3 to KV head 1, so the group
	// mean of value(l, q, t) is 100l + 10·(2g + ½) + t + 1.
	group := func(l, g, t int) float64 { return float64(100*l) + 10*(2*float64(g)+0.5) + float64(t) + 1 }
	for _, tc := range []struct {
		scorer string
		raw    func(l, g, t int) float64
		pool   bool
	}{
		{"attention", group, true},
		{"h2o", func(l, g, t int) float64 { return 2 * group(l, g, t) / float64(6-t) }, false},
		{"tova", func(l, g, t int) float64 { return 3 * group(l, g, t) }, false},
	} {
		head := make([][]float64, 4)
		layer := make([][]float64, 2)
		global := make([]float64, 6)
		for l := range 2 {
			layer[l] = make([]float64, 6)
			for g := range 2 {
				r := make([]float64, 6)
				for t := range r {
					r[t] = tc.raw(l, g, t)
					layer[l][t] += r[t] / 2
				}
				if tc.pool {
					r = pool5Ref64(r)
				}
				head[l*2+g] = r
			}
			if tc.pool {
				layer[l] = pool5Ref64(layer[l])
			}
			for t := range global {
				global[t] += layer[l][t] / 2
			}
		}
		for gran, want := range map[string][]float64{"head": slices.Concat(head...), "layer": slices.Concat(layer...), "global": global} {
			sc, err := ComputeScores(kv, st, tc.scorer, gran, 3, 0)
			if err != nil {
				t.Fatalf("%s/%s: %v", tc.scorer, gran, err)
			}
			checkScores(t, sc.S, want, 1e-6)
		}
	}
}

func TestKNormScores(t *testing.T) {
	kv := &KV{Layers: 2, KVHeads: 2, HeadDim: 2, T: 3}
	// key (l, h, t) = (3, 4)·(l+h+t+1): norm 5·(l+h+t+1).
	for l := range 2 {
		for h := range 2 {
			for t := range 3 {
				f := float32(l + h + t + 1)
				kv.K = append(kv.K, 3*f, 4*f)
			}
		}
	}
	sc, err := ComputeScores(kv, nil, "knorm", "global", 32, 0)
	if err != nil {
		t.Fatal(err)
	}
	// mean over h and l of l+h+t+1 = t+2, so score = −5(t+2), no pooling.
	checkScores(t, sc.S, []float64{-10, -15, -20}, 1e-6)
	sc, _ = ComputeScores(kv, nil, "knorm", "head", 32, 0)
	checkScores(t, sc.For(1, 1), []float64{-15, -20, -25}, 1e-6)
}

func TestStreamingAndRandomScores(t *testing.T) {
	kv := &KV{Layers: 2, KVHeads: 2, HeadDim: 2, T: 5}
	sc, err := ComputeScores(kv, nil, "streaming", "head", 32, 0)
	if err != nil {
		t.Fatal(err)
	}
	for l := range 2 {
		for h := range 2 {
			checkScores(t, sc.For(l, h), []float64{0, 1, 2, 3, 4}, 0)
		}
	}
	a, _ := ComputeScores(kv, nil, "random", "layer", 32, 1)
	b, _ := ComputeScores(kv, nil, "random", "layer", 32, 1)
	c, _ := ComputeScores(kv, nil, "random", "layer", 32, 2)
	if !slices.Equal(a.S, b.S) || slices.Equal(a.S, c.S) || len(a.S) != 10 {
		t.Errorf("random: seed 1 %v, again %v, seed 2 %v", a.S, b.S, c.S)
	}
	for _, v := range a.S {
		if v < 0 || v >= 1 {
			t.Errorf("random score %g outside [0, 1)", v)
		}
	}
}

func TestScoreErrors(t *testing.T) {
	kv, st := statsFixture()
	kv.K = make([]float32, 2*2*6*2)
	for _, tc := range []struct {
		name   string
		kv     *KV
		st     *AttnStats
		scorer string
		gran   string
		w      int
		want   string
	}{
		{"unknown scorer", kv, nil, "snapkv", "global", 32, `scorer "snapkv": want one of [keykey attention`},
		{"unknown granularity", kv, nil, "keykey", "token", 32, `granularity "token": want one of [global layer head]`},
		{"no stats", kv, nil, "h2o", "global", 32, "scorer h2o needs attention statistics"},
		{"window", kv, st, "attention", "global", 4, "captured with window 3, obs_window is 4"},
		{"zero window", kv, nil, "keykey", "global", 0, "obs_window 0"},
		{"short keys", &KV{Layers: 1, KVHeads: 1, HeadDim: 4, T: 3, K: make([]float32, 11)}, nil, "keykey", "global", 2, "hold 11 values, want"},
		{"bad stats shape", kv, &AttnStats{Layers: 2, Heads: 3, T: 6}, "tova", "global", 32, "do not fit the KV cache"},
		{"nil kv", nil, nil, "keykey", "global", 2, "no KV cache"},
	} {
		_, err := ComputeScores(tc.kv, tc.st, tc.scorer, tc.gran, tc.w, 0)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestScoresFor(t *testing.T) {
	sc := &Scores{Granularity: "head", Layers: 2, KVHeads: 3, T: 2, S: []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}}
	if got := sc.For(1, 2); !slices.Equal(got, []float32{10, 11}) {
		t.Errorf("head For(1,2) = %v", got)
	}
	sc = &Scores{Granularity: "layer", Layers: 2, KVHeads: 3, T: 2, S: []float32{0, 1, 2, 3}}
	if got := sc.For(1, 2); !slices.Equal(got, []float32{2, 3}) {
		t.Errorf("layer For(1,2) = %v", got)
	}
	sc = &Scores{Granularity: "global", Layers: 2, KVHeads: 3, T: 2, S: []float32{0, 1}}
	if got := sc.For(1, 2); !slices.Equal(got, []float32{0, 1}) {
		t.Errorf("global For(1,2) = %v", got)
	}
}
