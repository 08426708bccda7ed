package stages

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// checkKeepRule verifies one group's keep set against SPEC §2 by brute force:
// strictly increasing, position 0 and the last window kept, n candidates
// kept, and no evicted candidate beats a kept one (ties: the earlier wins).
func checkKeepRule(t *testing.T, scores []float32, keep []int32, rate float64, window int) {
	t.Helper()
	T := len(scores)
	if !slices.IsSorted(keep) || len(slices.Compact(slices.Clone(keep))) != len(keep) {
		t.Fatalf("keep set not strictly increasing: %v", keep)
	}
	if window >= T-1 {
		if len(keep) != T {
			t.Fatalf("T=%d window=%d: kept %d, want all", T, window, len(keep))
		}
		return
	}
	P := T - window
	n := min(max(1, int(float64(P)*(1-rate))), P-1)
	if len(keep) != 1+n+window {
		t.Fatalf("kept %d, want 1+%d+%d", len(keep), n, window)
	}
	in := make([]bool, T)
	for _, p := range keep {
		in[p] = true
	}
	if !in[0] {
		t.Fatal("position 0 evicted")
	}
	for p := P; p < T; p++ {
		if !in[p] {
			t.Fatalf("window position %d evicted", p)
		}
	}
	for a := 1; a < P; a++ { // a kept, b evicted: a must rank first
		for b := 1; b < P; b++ {
			if in[a] && !in[b] && (scores[b] > scores[a] || scores[b] == scores[a] && b < a) {
				t.Fatalf("kept %d (score %g) but evicted %d (score %g)", a, scores[a], b, scores[b])
			}
		}
	}
}

func TestEvictSpecExample(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	scores := make([]float32, 200)
	for i := range scores {
		scores[i] = float32(rng.Float64())
	}
	ks, err := Evict(&Scores{Granularity: "global", Layers: 2, KVHeads: 4, T: 200, S: scores}, 0.6, 32)
	if err != nil {
		t.Fatal(err)
	}
	keep := ks.For(1, 3)
	if len(keep) != 100 { // 1 + ⌊168·0.4⌋ + 32
		t.Fatalf("kept %d positions, want 100", len(keep))
	}
	checkKeepRule(t, scores, keep, 0.6, 32)
	if ks.Kept() != 100*2*4 {
		t.Errorf("Kept() = %d, want 800", ks.Kept())
	}
}

func TestEvictKeepRule(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	for _, tc := range []struct {
		name   string
		T, W   int
		rate   float64
		scores func(t int) float32
	}{
		{"ties go to the earlier", 50, 8, 0.5, func(int) float32 { return 1 }},
		{"few distinct values", 80, 10, 0.7, func(t int) float32 { return float32(t % 3) }},
		{"T = W+1 keeps all", 33, 32, 0.6, func(int) float32 { return rng.Float32() }},
		{"T = 1", 1, 32, 0.6, func(int) float32 { return 0 }},
		{"T = W+2: one candidate", 34, 32, 0.9, func(int) float32 { return rng.Float32() }},
		{"rate 0 keeps all", 100, 10, 0, func(int) float32 { return rng.Float32() }},
		{"n floors to 0, kept 1", 40, 30, 0.95, func(int) float32 { return rng.Float32() }},
		{"window 0", 20, 0, 0.5, func(int) float32 { return rng.Float32() }},
		{"huge window", 20, math.MaxInt, 0.5, func(int) float32 { return rng.Float32() }},
		{"NaN ranks last", 30, 4, 0.5, func(t int) float32 {
			if t%2 == 0 {
				return float32(math.NaN())
			}
			return -1e30
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scores := make([]float32, tc.T)
			for i := range scores {
				scores[i] = tc.scores(i)
			}
			ks, err := Evict(&Scores{Granularity: "global", Layers: 1, KVHeads: 1, T: tc.T, S: scores}, tc.rate, tc.W)
			if err != nil {
				t.Fatal(err)
			}
			keep := ks.Pos[0]
			if strings.HasPrefix(tc.name, "NaN") {
				for _, p := range keep {
					if p > 0 && int(p) < tc.T-tc.W && p%2 == 0 {
						t.Fatalf("kept NaN-scored position %d: %v", p, keep)
					}
				}
				return
			}
			checkKeepRule(t, scores, keep, tc.rate, tc.W)
			if tc.name == "ties go to the earlier" {
				// P = 42, n = 21: candidates 1…21 win.
				want := []int32{0}
				for p := 1; p <= 21; p++ {
					want = append(want, int32(p))
				}
				for p := 42; p < 50; p++ {
					want = append(want, int32(p))
				}
				if !slices.Equal(keep, want) {
					t.Fatalf("kept %v, want %v", keep, want)
				}
			}
		})
	}
}

// TestEvictStreamingKeepsMostRecent: streaming scores give position 0, the
// n most recent candidates P−n…P−1 and the window.
func TestEvictStreamingKeepsMostRecent(t *testing.T) {
	kv := &KV{Layers: 2, KVHeads: 2, HeadDim: 2, T: 100}
	for _, gran := range []string{"global", "layer", "head"} {
		sc, err := ComputeScores(kv, nil, "streaming", gran, 32, 0)
		if err != nil {
			t.Fatal(err)
		}
		ks, err := Evict(sc, 0.75, 20)
		if err != nil {
			t.Fatal(err)
		}
		// P = 80, n = 20: keep 0, 60…79, 80…99.
		want := []int32{0}
		for p := 60; p < 100; p++ {
			want = append(want, int32(p))
		}
		for l := range 2 {
			for h := range 2 {
				if got := ks.For(l, h); !slices.Equal(got, want) {
					t.Fatalf("%s (%d,%d): kept %v, want %v", gran, l, h, got, want)
				}
			}
		}
		if ks.Kept() != 4*41 {
			t.Errorf("%s: Kept() = %d, want %d", gran, ks.Kept(), 4*41)
		}
	}
}

// TestEvictPerGroup: layer and head granularity rank each group by its own
// scores, so the groups keep different sets.
func TestEvictPerGroup(t *testing.T) {
	const L, H, T, W = 3, 2, 60, 10
	rng := rand.New(rand.NewPCG(35, 36))
	for _, gran := range []string{"layer", "head"} {
		groups := groupCount(gran, L, H)
		sc := &Scores{Granularity: gran, Layers: L, KVHeads: H, T: T, S: make([]float32, groups*T)}
		for i := range sc.S {
			sc.S[i] = rng.Float32()
		}
		ks, err := Evict(sc, 0.6, W)
		if err != nil {
			t.Fatal(err)
		}
		if len(ks.Pos) != groups {
			t.Fatalf("%s: %d groups, want %d", gran, len(ks.Pos), groups)
		}
		total := 0
		for l := range L {
			for h := range H {
				keep := ks.For(l, h)
				checkKeepRule(t, sc.For(l, h), keep, 0.6, W)
				total += len(keep)
			}
		}
		if ks.Kept() != total {
			t.Errorf("%s: Kept() = %d, want %d", gran, ks.Kept(), total)
		}
		if slices.Equal(ks.Pos[0], ks.Pos[1]) {
			t.Errorf("%s: groups 0 and 1 keep the same set from different scores", gran)
		}
	}
}

func TestEvictErrors(t *testing.T) {
	good := &Scores{Granularity: "global", Layers: 1, KVHeads: 1, T: 4, S: make([]float32, 4)}
	for _, tc := range []struct {
		name   string
		sc     *Scores
		rate   float64
		window int
		want   string
	}{
		{"rate 1", good, 1, 2, "eviction_rate 1: want 0 <= rate < 1"},
		{"rate negative", good, -0.1, 2, "eviction_rate -0.1"},
		{"rate NaN", good, math.NaN(), 2, "eviction_rate NaN"},
		{"window", good, 0.5, -1, "sliding_window -1"},
		{"nil", nil, 0.5, 2, "no scores"},
		{"short", &Scores{Granularity: "head", Layers: 2, KVHeads: 2, T: 4, S: make([]float32, 4)}, 0.5, 2, "hold 4 values, want 16"},
		{"granularity", &Scores{Granularity: "token", Layers: 1, KVHeads: 1, T: 4, S: make([]float32, 4)}, 0.5, 2, `granularity "token"`},
	} {
		_, err := Evict(tc.sc, tc.rate, tc.window)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}
