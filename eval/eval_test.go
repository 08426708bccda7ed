package eval

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"nexusquant/engine"
	"nexusquant/engine/tokenizer"
	"nexusquant/internal/demo"
	"nexusquant/presets"
	"nexusquant/stages"
)

// The shared explorer over the embedded stories demo (stories260K and its
// TinyStories text), prefix 256, continuation 128 (the setting),
// built once for the tests below. It needs no shared test data.
var (
	storiesOnce sync.Once
	storiesEx   *Explorer
	storiesErr  error
)

func storiesExplorer(t *testing.T) *Explorer {
	t.Helper()
	storiesOnce.Do(func() {
		storiesEx, storiesErr = newDemoExplorer("stories", 256, 128, 1)
	})
	if storiesErr != nil {
		t.Fatal(storiesErr)
	}
	return storiesEx
}

// newDemoExplorer builds an explorer over the embedded demo called name and
// its text.
func newDemoExplorer(name string, prefix, cont, windows int) (*Explorer, error) {
	d, err := demo.Get(name)
	if err != nil {
		return nil, err
	}
	m, err := d.Load()
	if err != nil {
		return nil, err
	}
	ids := m.Tok.Encode(d.Text, tokenizer.Options{AddSpecial: true})
	wins, err := Windows(ids, m.Tok.BOS(), prefix, cont, windows)
	if err != nil {
		return nil, err
	}
	return NewExplorer(context.Background(), m, wins, prefix, 32, nil)
}

// loadDemo loads the embedded demo model called name.
func loadDemo(t *testing.T, name string) *engine.Model {
	t.Helper()
	d, err := demo.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.Load()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func preset(t *testing.T, name string) stages.Settings {
	t.Helper()
	for _, p := range presets.Builtins() {
		if p.Name == name {
			return p.Settings
		}
	}
	t.Fatalf("no preset %s", name)
	return stages.Settings{}
}

// high → balanced → max: more compression and more damage, in that order.
func TestPresetsOrderRatioAndKLD(t *testing.T) {
	ex := storiesExplorer(t)
	var prev *Result
	for _, name := range []string{"high", "balanced", "max"} {
		res, err := ex.Run(context.Background(), preset(t, name))
		if err != nil {
			t.Fatal(err)
		}
		r, m := res.Report, res.Metrics
		t.Logf("%-8s ratio_total %.2f× payload %.2f× resident %.2f×  PPL %.4f→%.4f ΔPPL %+.2f%% [%+.2f, %+.2f]  KLD %.4f  top-1 %.3f",
			name, r.RatioTotal, r.RatioPayload, r.RatioResident, m.PPLBase, m.PPL, m.DeltaPPLPct, m.DeltaPPLCI[0], m.DeltaPPLCI[1], m.KLD, m.Top1Agree)
		if m.N != 127 {
			t.Errorf("%s scored %d positions, want 127 (continuation tokens 2..128)", name, m.N)
		}
		if !(m.DeltaPPLCI[0] <= m.DeltaPPLPct && m.DeltaPPLPct <= m.DeltaPPLCI[1]) {
			t.Errorf("%s: ΔPPL %.3f outside its interval %v", name, m.DeltaPPLPct, m.DeltaPPLCI)
		}
		if prev != nil {
			if r.RatioTotal <= prev.Report.RatioTotal {
				t.Errorf("ratio_total %s %.3f not above the previous preset's %.3f", name, r.RatioTotal, prev.Report.RatioTotal)
			}
			if m.KLD <= prev.Metrics.KLD {
				t.Errorf("kld %s %.5f not above the previous preset's %.5f", name, m.KLD, prev.Metrics.KLD)
			}
		}
		prev = res
	}
}

// With a 480-token prefix and the balanced preset the bytes the packed cache
// holds while decoding stay within 10% of the bytes it stores.
func TestResidentNearTotal(t *testing.T) {
	ex, err := newDemoExplorer("stories", 480, 32, 1)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ex.Run(context.Background(), preset(t, "balanced"))
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	t.Logf("prefix 480 balanced: ratio_total %.3f×, ratio_resident %.3f× (stored %d B, resident %d B)", r.RatioTotal, r.RatioResident, r.Stored.Total(), r.ResidentBytes)
	if rel := math.Abs(r.RatioResident/r.RatioTotal - 1); rel > 0.10 {
		t.Errorf("ratio_resident %.3f is %.1f%% away from ratio_total %.3f, want within 10%%", r.RatioResident, 100*rel, r.RatioTotal)
	}
}

// recorder wraps a packed prefix and records the largest block handed to
// attention.
type recorder struct {
	BlockSource
	mu        sync.Mutex
	maxFloats int
	reads     int
}

func (r *recorder) ReadBlock(layer, head, i int, dst *engine.Block) error {
	err := r.BlockSource.ReadBlock(layer, head, i, dst)
	r.mu.Lock()
	r.maxFloats = max(r.maxFloats, cap(dst.K), cap(dst.V))
	r.reads++
	r.mu.Unlock()
	return err
}

// Decoding from the packed cache reads one block of one head at a time: no
// buffer handed to attention can hold a whole layer's float prefix, and a
// reused block decodes without allocating.
func TestDecodeNeverHoldsALayer(t *testing.T) {
	ex := storiesExplorer(t)
	s := preset(t, "high") // the least eviction: the most rows per layer
	s.BlockTokens = 64
	res, err := ex.Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Packed
	L, H, d := c.Dims()
	rec := &recorder{BlockSource: Packed(c)}
	w := ex.Windows[0]
	if _, err := ex.continueFrom(context.Background(), rec, w, nil, nil); err != nil {
		t.Fatal(err)
	}
	kept := c.Kept(0, 0)
	layerFloats := H * kept * d
	if rec.reads == 0 {
		t.Fatal("attention read no block")
	}
	if rec.maxFloats > s.BlockTokens*d {
		t.Errorf("a block buffer held %d floats, more than block_tokens·d = %d", rec.maxFloats, s.BlockTokens*d)
	}
	if rec.maxFloats >= layerFloats {
		t.Errorf("a block buffer held %d floats, a whole layer's kept prefix is %d", rec.maxFloats, layerFloats)
	}
	if res.Report.ResidentBytes >= int64(L*layerFloats*4*2) {
		t.Errorf("resident bytes %d not below the float32 prefix of the layers (%d)", res.Report.ResidentBytes, L*layerFloats*8)
	}
	var blk engine.Block
	src := Packed(c)
	if err := src.ReadBlock(0, 0, 0, &blk); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() { _ = src.ReadBlock(1, 1, 0, &blk) })
	if allocs > 0 && !raceEnabled {
		t.Errorf("ReadBlock into a reused block allocated %.1f times per call", allocs)
	}
}

// Continuing from a .nqkv file gives the metrics of compressing in memory; a
// file for another model or another prefix is refused with a clear message.
func TestCacheFileRoundTrip(t *testing.T) {
	ex := storiesExplorer(t)
	s := preset(t, "balanced")
	mem, err := ex.Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cache.nqkv")
	if _, err := WriteCache(path, mem.Packed); err != nil {
		t.Fatal(err)
	}
	file, err := ex.RunFromFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	a, b := mem.Metrics, file.Metrics
	if a.PPL != b.PPL || a.KLD != b.KLD || a.Top1Agree != b.Top1Agree || a.DeltaPPLCI != b.DeltaPPLCI {
		t.Errorf("from file %+v\nin memory %+v", b, a)
	}
	if mem.Report.RatioTotal != file.Report.RatioTotal {
		t.Errorf("ratio_total from file %.4f, in memory %.4f", file.Report.RatioTotal, mem.Report.RatioTotal)
	}

	other := loadDemo(t, "tiny-llama")
	defer other.Close()
	if _, _, err := ReadCache(path, other); err == nil || !strings.Contains(err.Error(), "another model") || !strings.Contains(err.Error(), "stories260K.gguf") {
		t.Errorf("cache from another model: err = %v, want a refusal naming the model it came from", err)
	}

	shifted := &Explorer{Model: ex.Model, Prefix: ex.Prefix, Continuation: ex.Continuation, Bootstrap: ex.Bootstrap,
		Windows: []*Window{{IDs: append([]int32{1, 5}, ex.Windows[0].IDs[2:]...), base: ex.Windows[0].base}}}
	if _, err := shifted.RunFromFile(context.Background(), path); err == nil || !strings.Contains(err.Error(), "another prefix") {
		t.Errorf("cache of another prefix: err = %v", err)
	}

	// A truncated file is an error naming the file, never a panic.
	data, _ := os.ReadFile(path)
	os.WriteFile(path, data[:len(data)/2], 0o644)
	if _, _, err := ReadCache(path, ex.Model); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("truncated cache: err = %v", err)
	}
}

// A key_bits change re-runs quantize and entropy only; an eviction_rate change
// re-runs from evict.
func TestRerunCost(t *testing.T) {
	ex := storiesExplorer(t)
	s := preset(t, "balanced")
	if _, err := ex.Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	rc, err := ex.RerunCost(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rc.KeyBitsStages, ",") != "quantize,entropy" {
		t.Errorf("key_bits change re-ran %v", rc.KeyBitsStages)
	}
	if len(rc.EvictionRateStages) == 0 || rc.EvictionRateStages[0] != "evict" {
		t.Errorf("eviction_rate change re-ran %v", rc.EvictionRateStages)
	}
	t.Logf("live update: key_bits %.1f ms, eviction_rate %.1f ms", rc.KeyBitsMs, rc.EvictionRateMs)
}

// With no compression the continuation reads exactly the baseline's numbers.
func TestMethodNoneMatchesBaseline(t *testing.T) {
	ex := storiesExplorer(t)
	s := stages.DefaultSettings()
	s.Method = stages.MethodNone
	res, err := ex.Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Metrics
	// float16 storage of the prefix rows: tiny but nonzero differences.
	if m.Top1Agree < 0.99 || m.KLD > 1e-3 || math.Abs(m.DeltaPPLPct) > 0.5 {
		t.Errorf("method none: top-1 %.3f, KLD %.2e, ΔPPL %.3f%%: want ≈ baseline", m.Top1Agree, m.KLD, m.DeltaPPLPct)
	}
	if r := res.Report.RatioTotal; r > 1 || r < 0.9 {
		t.Errorf("method none ratio_total %.3f, want just under 1 (header)", r)
	}
}

func TestIdentityRoundTripsOddFileNames(t *testing.T) {
	for _, file := range []string{"m.gguf", "my model.gguf", "a=b c%20d.gguf", "ünï code.gguf"} {
		in := cacheIdentity{Model: "abc", Arch: "llama", File: file, Prefix: "def", Tokens: 7}
		out, err := parseIdentity(in.String())
		if err != nil || out != in {
			t.Errorf("%q: read back %+v, %v", file, out, err)
		}
	}
	// An identity written before escaping still reads.
	if out, err := parseIdentity("nexusquant-cache/1 model=abc arch=llama file=m.gguf prefix=def tokens=7"); err != nil || out.File != "m.gguf" {
		t.Errorf("old identity: %+v, %v", out, err)
	}
}
