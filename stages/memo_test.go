package stages

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"testing"
)

// nqFile returns the .nqkv bytes of c.
func nqFile(t *testing.T, c *Compressed) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// nqComparable is r without what differs between a memo-served and a fresh
// run: run times, Cached flags and Reran.
func nqComparable(r Report) Report {
	r.Stages = slices.Clone(r.Stages)
	for i := range r.Stages {
		r.Stages[i].Duration, r.Stages[i].Ms, r.Stages[i].Cached = 0, 0, false
	}
	r.Reran = nil
	return r
}

// nqSameAsFresh checks that res (from a pipeline that has run before) is
// byte for byte what a fresh pipeline gives for s: the file, every decoded
// row, and the report but for times and memo flags.
func nqSameAsFresh(t *testing.T, what string, kv *KV, s Settings, res *Result) {
	t.Helper()
	fresh, err := NewPipeline(kv, nil, NormalRoPE(kv.HeadDim, 10000), "m").Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(nqFile(t, res.Compressed), nqFile(t, fresh.Compressed)) {
		t.Fatalf("%s: file differs from a fresh pipeline's", what)
	}
	nqSameDecode(t, what, nqReadAll(t, res.Compressed), nqReadAll(t, fresh.Compressed))
	if got, want := nqComparable(res.Report), nqComparable(fresh.Report); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: report differs from a fresh pipeline's:\n got %+v\nwant %+v", what, got, want)
	}
}

var (
	nqQuantEntropy = []string{"quantize", "entropy"}
	nqFromEvict    = []string{"evict", "rope", "hadamard", "quantize", "entropy"}
)

// TestMemo runs sequences of settings and checks which stages each Run
// executes: a setting seen recently re-runs nothing (and gives what a fresh
// pipeline gives), the least recently used output goes first beyond the
// capacity, and SetMemo(1) is the one-output-per-stage behaviour.
func TestMemo(t *testing.T) {
	kv := nqKV(5, 2, 2, 32, 120)
	// preset is a second setting that differs from the defaults at every stage.
	preset := []string{"scorer", "streaming", "eviction_rate", "0.3", "rope_undo", "false",
		"hadamard", "false", "lattice", "scalar", "key_bits", "4", "zstd_level", "better"}
	type step struct {
		set   []string // changes from the defaults (nqSettings)
		reran []string
	}
	cases := []struct {
		name string
		memo int // 0: the default
		// setMemo, when > 0, is applied before the last step.
		setMemo int
		steps   []step
	}{
		{name: "key_bits 2→3→2", steps: []step{
			{nil, StageNames},
			{[]string{"key_bits", "3"}, nqQuantEntropy},
			{nil, nil},
			{[]string{"key_bits", "3"}, nil},
		}},
		{name: "preset and back", steps: []step{
			{nil, StageNames},
			{preset, StageNames},
			{nil, nil},
			{preset, nil},
			{[]string{"eviction_rate", "0.3"}, nqFromEvict},
			{nil, nil},
		}},
		{name: "capacity 4, fifth value drops the first", steps: []step{
			{[]string{"key_bits", "2"}, StageNames},
			{[]string{"key_bits", "3"}, nqQuantEntropy},
			{[]string{"key_bits", "4"}, nqQuantEntropy},
			{[]string{"key_bits", "5"}, nqQuantEntropy},
			{[]string{"key_bits", "3"}, nil},
			{[]string{"key_bits", "6"}, nqQuantEntropy}, // drops 2, the least recent
			{[]string{"key_bits", "4"}, nil},
			{[]string{"key_bits", "2"}, nqQuantEntropy},
		}},
		{name: "capacity 2 is least recently used", memo: 2, steps: []step{
			{[]string{"key_bits", "2"}, StageNames},
			{[]string{"key_bits", "3"}, nqQuantEntropy},
			{[]string{"key_bits", "2"}, nil}, // 2 is now the most recent
			{[]string{"key_bits", "4"}, nqQuantEntropy},
			{[]string{"key_bits", "2"}, nil},
			{[]string{"key_bits", "3"}, nqQuantEntropy},
		}},
		{name: "capacity 1 re-runs every change", memo: 1, steps: []step{
			{nil, StageNames},
			{[]string{"key_bits", "3"}, nqQuantEntropy},
			{nil, nqQuantEntropy},
			{nil, nil},
		}},
		{name: "SetMemo shrinks a full memo", setMemo: 1, steps: []step{
			{[]string{"key_bits", "2"}, StageNames},
			{[]string{"key_bits", "3"}, nqQuantEntropy},
			{[]string{"key_bits", "2"}, nqQuantEntropy}, // after SetMemo(1) only 3 is held
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPipeline(kv, nil, NormalRoPE(32, 10000), "m")
			if tc.memo > 0 {
				p.SetMemo(tc.memo)
			}
			want := map[string]int{}
			last := map[string]*Compressed{} // per setting, the last one built
			for i, st := range tc.steps {
				if tc.setMemo > 0 && i == len(tc.steps)-1 {
					p.SetMemo(tc.setMemo)
				}
				s := nqSettings(t, st.set...)
				res := runStep(t, p, s, i, st.set, st.reran, want)
				// Every result, run or served, is a fresh pipeline's: no
				// stage changed an output another one reads.
				nqSameAsFresh(t, fmt.Sprintf("step %d", i), kv, s, res)
				key := stageKeys(s)[5]
				if !slices.Contains(st.reran, "entropy") {
					// Served from the memo: the same cache, read again.
					if res.Compressed != last[key] {
						t.Fatalf("step %d: a repeated setting returned another Compressed", i)
					}
					continue
				}
				last[key] = res.Compressed
				// Reports own their slices: a caller's edit must not reach
				// the memo (nqSameAsFresh would see it).
				res.Report.Heads[0].Kept = -1
				res.Report.Stages[0].Bytes = -1
			}
		})
	}
}

// TestMemoAfterCancel checks memos that are not in step: a Run cancelled
// after the evict stage keeps that stage's new output, so evict's memo drops
// a setting the later stages still hold. Running it again re-runs evict
// alone, and the result is still what a fresh pipeline gives.
func TestMemoAfterCancel(t *testing.T) {
	kv := nqKV(6, 2, 2, 32, 120)
	p := NewPipeline(kv, nil, NormalRoPE(32, 10000), "m")
	p.SetMemo(2)
	a := nqSettings(t, "eviction_rate", "0.6")
	for _, s := range []Settings{a, nqSettings(t, "eviction_rate", "0.3")} {
		if _, err := p.Run(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var seen []string
	_, err := p.RunWith(ctx, nqSettings(t, "eviction_rate", "0.5"), RunOptions{OnStage: func(r StageReport) {
		seen = append(seen, r.Name)
		if r.Name == "evict" {
			cancel()
		}
	}})
	if err == nil || !slices.Equal(seen, []string{"score", "evict"}) {
		t.Fatalf("cancelled run: err %v, stages reported %v", err, seen)
	}
	before := p.Runs()
	res, err := p.Run(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Report.Reran, []string{"evict"}) {
		t.Fatalf("reran %v, want [evict]", res.Report.Reran)
	}
	before["evict"]++
	if got := p.Runs(); !maps.Equal(got, before) {
		t.Fatalf("runs %v, want %v", got, before)
	}
	nqSameAsFresh(t, "after cancel", kv, a, res)
}

// TestOnStage checks the per-stage hook: six calls in pipeline order, each
// made as soon as its stage is done (before any later stage runs), with the
// StageReport the final report carries.
func TestOnStage(t *testing.T) {
	kv := nqKV(8, 2, 2, 32, 120)
	p := NewPipeline(kv, nil, NormalRoPE(32, 10000), "m")
	cases := []struct {
		name  string
		set   []string
		reran []string
	}{
		{"fresh", nil, StageNames},
		{"repeat", nil, nil},
		{"key_bits", []string{"key_bits", "3"}, nqQuantEntropy},
		{"protect_boundary", []string{"key_bits", "3", "protect_boundary", "1"}, nqQuantEntropy},
		{"method none", []string{"method", "none"}, StageNames},
		{"back to the defaults", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := p.Runs()
			var got []StageReport
			res, err := p.RunWith(context.Background(), nqSettings(t, tc.set...), RunOptions{OnStage: func(r StageReport) {
				i := len(got)
				got = append(got, r)
				runs := p.Runs() // Runs answers during a Run
				for j, n := range StageNames {
					ran := runs[n] - before[n]
					want := 0
					if j <= i && slices.Contains(tc.reran, n) {
						want = 1
					}
					if ran != want {
						t.Errorf("OnStage(%s): stage %s ran %d times so far, want %d", r.Name, n, ran, want)
					}
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(StageNames) {
				t.Fatalf("OnStage called %d times, want %d", len(got), len(StageNames))
			}
			for i, r := range got {
				if r.Name != StageNames[i] {
					t.Fatalf("call %d for %s, want %s", i, r.Name, StageNames[i])
				}
				if r != res.Report.Stages[i] {
					t.Fatalf("call %d: %+v, report has %+v", i, r, res.Report.Stages[i])
				}
				if r.Cached == slices.Contains(tc.reran, r.Name) {
					t.Fatalf("stage %s: cached=%t, reran %v", r.Name, r.Cached, tc.reran)
				}
			}
			if got[0].Bytes != res.Report.BaselineBytes || got[5].Bytes != res.Compressed.Stored().Total() {
				t.Fatalf("score %d entropy %d bytes, want baseline %d and file %d",
					got[0].Bytes, got[5].Bytes, res.Report.BaselineBytes, res.Compressed.Stored().Total())
			}
		})
	}
	// Run without options still works after RunWith.
	if _, err := p.Run(context.Background(), nqSettings(t)); err != nil {
		t.Fatal(err)
	}
}

// nqRefNorms returns ‖original kept rows‖²_F of K and V of (layer, head).
func nqRefNorms(p *Pipeline, layer, head int, pos []int32) (k, v float64) {
	_, k = sqErr(0, 0, p.gather(nil, true, layer, head, pos), p.gather(nil, true, layer, head, pos))
	_, v = sqErr(0, 0, p.gather(nil, false, layer, head, pos), p.gather(nil, false, layer, head, pos))
	return k, v
}

// TestReportHeads checks the per-(layer, head) figures against a decode of
// each head through ReadBlock, and that they combine to the entropy stage's
// totals.
func TestReportHeads(t *testing.T) {
	const L, H, d, T = 3, 2, 32, 140
	kv := nqKV(9, L, H, d, T)
	p := NewPipeline(kv, nil, NormalRoPE(d, 10000), "m")
	for _, set := range [][]string{
		{"granularity", "global"},
		{"granularity", "layer", "eviction_rate", "0.3"},
		{"granularity", "head", "protect_boundary", "1", "key_bits", "3"},
		{"eviction_rate", "0"},
		{"method", "none"},
	} {
		s := nqSettings(t, set...)
		res, err := p.Run(context.Background(), s)
		if err != nil {
			t.Fatalf("%v: %v", set, err)
		}
		r, c := res.Report, res.Compressed
		if len(r.Heads) != L*H {
			t.Fatalf("%v: %d heads, want %d", set, len(r.Heads), L*H)
		}
		var kept int64
		var diff, ref [2]float64
		for i, h := range r.Heads {
			layer, head := i/H, i%H
			if h.Layer != layer || h.Head != head || h.Kept != c.Kept(layer, head) || h.Kept < 1 {
				t.Fatalf("%v: heads[%d] = %+v, want layer %d head %d kept %d", set, i, h, layer, head, c.Kept(layer, head))
			}
			kept += int64(h.Kept)
			pos, k, v := nqDecodeAll(t, c, layer, head)
			for kvi, got := range [2][]float32{k, v} {
				dd, rr := sqErr(0, 0, got, p.gather(nil, kvi == 0, layer, head, pos))
				want := math.Sqrt(dd / rr)
				rel := [2]float64{h.RelErrK, h.RelErrV}[kvi]
				if math.Abs(rel-want) > 1e-12*max(1, want) {
					t.Fatalf("%v: (%d,%d) %s error %v, decoded %v", set, layer, head, kvName(kvi), rel, want)
				}
			}
			// Combine: squared error = relErr² · ‖kept rows‖².
			rk, rv := nqRefNorms(p, layer, head, c.Positions(layer, head))
			ref[0] += rk
			ref[1] += rv
			diff[0] += h.RelErrK * h.RelErrK * rk
			diff[1] += h.RelErrV * h.RelErrV * rv
		}
		if kept != r.KeptRows {
			t.Fatalf("%v: heads keep %d rows, report %d", set, kept, r.KeptRows)
		}
		ent := r.Stages[5]
		for kvi, want := range [2]float64{ent.RelErrK, ent.RelErrV} {
			got := math.Sqrt(diff[kvi] / ref[kvi])
			if math.Abs(got-want) > 1e-9*want || (want == 0) != (got == 0) {
				t.Fatalf("%v: heads combine to %s error %v, entropy stage %v", set, kvName(kvi), got, want)
			}
		}
		if s.Method == MethodNexusQuant && ent.RelErrK == 0 {
			t.Fatalf("%v: no quantization error", set)
		}
	}
}

// TestPositions checks Compressed.Positions against the keep set, the
// decoded blocks and a cache read back from its file.
func TestPositions(t *testing.T) {
	const L, H, d, T = 3, 2, 16, 130
	kv := nqKV(10, L, H, d, T)
	p := NewPipeline(kv, nil, NormalRoPE(d, 10000), "m")
	for _, set := range [][]string{
		{"granularity", "global"},
		{"granularity", "layer", "eviction_rate", "0.8", "block_tokens", "16"},
		{"granularity", "head", "scorer", "random"},
		{"eviction_rate", "0"}, // every position: kind "all"
	} {
		s := nqSettings(t, set...)
		res, err := p.Run(context.Background(), s)
		if err != nil {
			t.Fatalf("%v: %v", set, err)
		}
		ev := p.outs.evict.recent()
		read, err := ReadCompressed(nqFile(t, res.Compressed), p.rope)
		if err != nil {
			t.Fatal(err)
		}
		for layer := range L {
			for head := range H {
				want := ev.list(layer, head)
				for _, c := range []*Compressed{res.Compressed, read} {
					got := c.Positions(layer, head)
					dec, _, _ := nqDecodeAll(t, c, layer, head)
					if !slices.Equal(got, want) || !slices.Equal(dec, want) {
						t.Fatalf("%v (%d,%d): positions %v, decoded %v, keep set %v", set, layer, head, got, dec, want)
					}
					got[0] = -1 // a copy: the next call is unchanged
					if c.Positions(layer, head)[0] != want[0] {
						t.Fatalf("%v: Positions returned the cache's own slice", set)
					}
				}
				same := s.Granularity == "global" || s.Granularity == "layer" && head > 0
				first := res.Compressed.Positions(layer, 0)
				if s.Granularity == "global" {
					first = res.Compressed.Positions(0, 0)
				}
				if eq := slices.Equal(res.Compressed.Positions(layer, head), first); same && !eq {
					t.Fatalf("%v (%d,%d): positions differ from the shared list", set, layer, head)
				}
			}
		}
		if s.EvictionRate == 0 && res.Report.PositionEncoding != "all" {
			t.Fatalf("rate 0: encoding %s", res.Report.PositionEncoding)
		}
		for _, lh := range [][2]int{{-1, 0}, {L, 0}, {0, -1}, {0, H}} {
			if got := res.Compressed.Positions(lh[0], lh[1]); got != nil {
				t.Fatalf("Positions(%d, %d) = %v, want nil", lh[0], lh[1], got)
			}
		}
	}
}
