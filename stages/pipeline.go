package stages

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Pipeline chains the six stages over one prefix cache and keeps, per stage,
// its most recent outputs keyed by the settings they depend on (stageKeys), so
// a later Run re-runs only from the first stage whose inputs changed: key_bits
// re-runs quantize and entropy, eviction_rate evict onward, scorer everything.
// A setting seen recently re-runs nothing: toggling key_bits 2 → 3 → 2, or
// switching a preset and back, serves every stage from the memo.
//
// The Pipeline reads kv, stats and rope and never modifies them; the caller
// must not modify them while the Pipeline is in use. Runs are serialized (a
// second Run waits for the first); cancel the first one's context to start a
// newer one sooner.
//
// Memory: each stage keeps up to SetMemo's n outputs (default 4), least
// recently used dropped first. Per distinct setting held, the outputs are
// about: rope and hadamard 4 bytes per kept value each (2 · kept rows · d
// floats; hadamard at DPad, and none when it shares rope's rows), quantize
// the codes and scales (CodeBytes per kept value, 2 bytes per kept row),
// entropy the Compressed (about the file size), evict and score small (the
// keep lists and positions; one float32 per position and keep list). So the
// memo costs up to about n × (2 · 4 bytes per kept value + the codes + the
// file) — on a Mistral-7B-shaped cache of 1024 tokens at the defaults (ρ 0.6,
// K2V2) about 265 MB per setting, 225 MB of it rope and hadamard rows, which
// only accumulate when a setting of the stages up to hadamard changes
// (scorer, eviction, rope_undo, hadamard); toggling key_bits adds only a
// quantize and an entropy output, about 40 MB. SetMemo(1) keeps one output per
// stage (about 2× the kept rows in float32 plus the codes, as before memos).
type Pipeline struct {
	kv      *KV
	stats   *AttnStats
	rope    RoPEFunc
	modelID string

	mu      sync.Mutex // held for a whole Run and by SetMemo
	memoCap int        // outputs kept per stage
	outs    stageOuts
	workers int // GOMAXPROCS when the current Run started

	runsMu sync.Mutex // guards runs, so Runs answers during a Run
	runs   map[string]int
}

// stageOuts are the memos of the six stages' outputs. Groups are indexed
// g = (layer·2 + kv)·Hkv + head, kv 0 = K.
type stageOuts struct {
	score    memo[*scoreOut]
	evict    memo[*evictOut]
	rope     memo[*rowsOut]
	hadamard memo[*rowsOut]
	quant    memo[*quantOut]
	entropy  memo[*entropyOut]
}

func (o *stageOuts) trim(n int) {
	o.score.trim(n)
	o.evict.trim(n)
	o.rope.trim(n)
	o.hadamard.trim(n)
	o.quant.trim(n)
	o.entropy.trim(n)
}

// Result is what Run returns: the packed cache and the per-stage report.
type Result struct {
	Compressed *Compressed
	Report     Report
}

// RunOptions are optional hooks of RunWith.
type RunOptions struct {
	// OnStage, when set, is called once per stage in pipeline order, as soon as
	// that stage has finished or been served from the memo, with the stage's
	// StageReport: Name, Bytes (the same SPEC §7 figure Report.Stages carries),
	// RelErrK, RelErrV, Duration/Ms and Cached. It runs on the Run goroutine and must not block.
	OnStage func(StageReport)
}

// NewPipeline returns a pipeline over kv (the prefill cache, keys with RoPE
// applied), the attention statistics captured during prefill (nil when only
// key-based scorers are used), the model's RoPE function (nil only with
// rope_undo=false) and the model identity recorded in the compressed cache.
// It copies nothing; shapes are checked by Run.
func NewPipeline(kv *KV, stats *AttnStats, rope RoPEFunc, modelID string) *Pipeline {
	return &Pipeline{kv: kv, stats: stats, rope: rope, modelID: modelID, memoCap: defaultMemo, runs: map[string]int{}}
}

// SetMemo sets how many recent outputs each stage keeps (default 4; n < 1
// means 1) and drops the least recently used ones beyond n. With n = 1 a Run
// re-runs from the first stage whose inputs differ from the previous Run's.
// It waits for a running Run to finish.
func (p *Pipeline) SetMemo(n int) {
	n = max(n, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.memoCap = n
	p.outs.trim(n)
}

// Runs returns how many times each stage has run (not served from the
// memo) since NewPipeline, keyed by stage name. The map is a copy.
func (p *Pipeline) Runs() map[string]int {
	p.runsMu.Lock()
	defer p.runsMu.Unlock()
	out := make(map[string]int, len(p.runs))
	for k, v := range p.runs {
		out[k] = v
	}
	return out
}

func (p *Pipeline) countRun(name string) {
	p.runsMu.Lock()
	p.runs[name]++
	p.runsMu.Unlock()
}

// Run is RunWith without options.
func (p *Pipeline) Run(ctx context.Context, s Settings) (*Result, error) {
	return p.RunWith(ctx, s, RunOptions{})
}

// RunWith compresses the cache with s, serving each stage from its memo when
// its inputs were seen recently and running it otherwise. It is cancellable
// through ctx between (layer, head) tasks; a cancelled or failed stage keeps
// no output (the stages before it keep theirs). Work runs on GOMAXPROCS
// goroutines. opts.OnStage sees each stage as it is done.
func (p *Pipeline) RunWith(ctx context.Context, s Settings, opts RunOptions) (*Result, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if err := p.checkShapes(s); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.workers = runtime.GOMAXPROCS(0)
	rs := &runState{keys: p.stageKeysFor(s), onStage: opts.OnStage}
	o := &p.outs

	sc, rep, err := runStage(p, rs, &o.score, 0, func() (*scoreOut, error) { return p.runScore(ctx, s) })
	if err != nil {
		return nil, err
	}
	rs.done(rep, p.baselineBytes())
	ev, rep, err := runStage(p, rs, &o.evict, 1, func() (*evictOut, error) { return p.runEvict(ctx, s, sc) })
	if err != nil {
		return nil, err
	}
	sz := p.keptBytes(s, ev)
	rs.done(rep, sz.evict)
	ro, rep, err := runStage(p, rs, &o.rope, 2, func() (*rowsOut, error) { return p.runRoPE(ctx, s, ev) })
	if err != nil {
		return nil, err
	}
	rs.done(rep, sz.rope)
	ho, rep, err := runStage(p, rs, &o.hadamard, 3, func() (*rowsOut, error) { return p.runHadamard(ctx, s, ev, ro) })
	if err != nil {
		return nil, err
	}
	rs.done(rep, sz.hadamard)
	qo, rep, err := runStage(p, rs, &o.quant, 4, func() (*quantOut, error) { return p.runQuantize(ctx, s, ev, ho) })
	if err != nil {
		return nil, err
	}
	rs.done(rep, sz.quantize)
	ent, rep, err := runStage(p, rs, &o.entropy, 5, func() (*entropyOut, error) { return p.runEntropy(ctx, s, ev, qo) })
	if err != nil {
		return nil, err
	}
	rs.done(rep, ent.c.stored.Total())
	return &Result{Compressed: ent.c, Report: p.report(s, rs, sz, ev, ent)}, nil
}

// effective is s as this pipeline's cache sees it: sliding_layers reset to
// its default when no layer has a sliding window (it changes nothing there,
// so it neither re-runs a stage nor marks the file).
func (p *Pipeline) effective(s Settings) Settings {
	if !hasSliding(p.kv.Attn) {
		s.SlidingLayers = SlidingCompress
	}
	return s
}

// stageKeysFor is stageKeys of the effective settings.
func (p *Pipeline) stageKeysFor(s Settings) [6]string { return stageKeys(p.effective(s)) }

// runState is what one Run has done so far.
type runState struct {
	keys    [6]string
	reran   []string      // stages executed, in order
	stages  []StageReport // stages done, Bytes filled
	onStage func(StageReport)
}

// done records a finished (or memo-served) stage with its SPEC §7 bytes and
// tells OnStage.
func (rs *runState) done(rep StageReport, bytes int64) {
	rep.Bytes = bytes
	rs.stages = append(rs.stages, rep)
	if rs.onStage != nil {
		rs.onStage(rep)
	}
}

// checkShapes validates the cache against the settings before any stage runs.
func (p *Pipeline) checkShapes(s Settings) error {
	kv := p.kv
	switch {
	case kv == nil:
		return fmt.Errorf("no KV cache")
	case kv.Layers < 1 || kv.Layers > maxLayers:
		return fmt.Errorf("KV cache: %d layers, want 1..%d", kv.Layers, maxLayers)
	case kv.KVHeads < 1 || kv.KVHeads > maxKVHeads:
		return fmt.Errorf("KV cache: %d KV heads, want 1..%d", kv.KVHeads, maxKVHeads)
	case kv.HeadDim < 1 || kv.HeadDim > maxHeadDim:
		return fmt.Errorf("KV cache: head dim %d, want 1..%d", kv.HeadDim, maxHeadDim)
	case kv.T < 1 || kv.T > maxPrefix:
		return fmt.Errorf("KV cache: %d prefix tokens, want 1..%d", kv.T, maxPrefix)
	}
	n := kv.Layers * kv.KVHeads * kv.T * kv.HeadDim
	if len(kv.K) != n || len(kv.V) != n {
		return fmt.Errorf("KV cache: len(K)=%d len(V)=%d, want %d = %d layers × %d heads × %d tokens × %d",
			len(kv.K), len(kv.V), n, kv.Layers, kv.KVHeads, kv.T, kv.HeadDim)
	}
	if err := checkLayerAttn(kv.Attn, kv.Layers); err != nil {
		return fmt.Errorf("KV cache: %w", err)
	}
	if s.Method == MethodNexusQuant && s.RoPEUndo && p.rope == nil {
		return fmt.Errorf("rope_undo is set but the pipeline has no RoPE function")
	}
	return nil
}

// runTasks runs fn(worker, i) for i in [0, n) on up to workers goroutines
// (worker < workers), checking ctx before each task, and returns the first
// error.
func runTasks(ctx context.Context, workers, n int, fn func(worker, i int) error) error {
	workers = max(1, min(workers, n))
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				err := ctx.Err()
				if err == nil {
					err = fn(w, i)
				}
				if err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// forHeads runs fn(worker, layer, head) for every (layer, KV head) on
// runTasks' workers.
func (p *Pipeline) forHeads(ctx context.Context, fn func(worker, layer, head int) error) error {
	H := p.kv.KVHeads
	return runTasks(ctx, p.workers, p.kv.Layers*H, func(worker, i int) error {
		return fn(worker, i/H, i%H)
	})
}

// measureTasks runs one measurement pass over the (layer, head) tasks: fn adds
// to the per-task sums, which are combined in task order (deterministic) into
// e. It returns the per-task sums, layer-major.
func (p *Pipeline) measureTasks(ctx context.Context, e *errSums, fn func(worker, layer, head int, t *errSums) error) ([]errSums, error) {
	start := time.Now()
	kv := p.kv
	per := make([]errSums, kv.Layers*kv.KVHeads)
	err := p.forHeads(ctx, func(worker, layer, head int) error {
		return fn(worker, layer, head, &per[layer*kv.KVHeads+head])
	})
	for i := range per {
		for j := range 2 {
			e.diff[j] += per[i].diff[j]
			e.ref[j] += per[i].ref[j]
		}
	}
	e.measure += time.Since(start)
	return per, err
}

// measureRows accumulates the error of a reconstruction: recon fills dst
// (n rows of d) for group (layer, kv, head) from the stage output.
func (p *Pipeline) measureRows(ctx context.Context, s Settings, ev *evictOut, e *errSums,
	recon func(layer, kv, head int, dst []float32, pos []int32)) error {
	kv := p.kv
	_, err := p.measureTasks(ctx, e, func(_, layer, head int, t *errSums) error {
		pos := ev.list(layer, head)
		ref := make([]float32, len(pos)*kv.HeadDim)
		got := make([]float32, len(pos)*kv.HeadDim)
		for kvi := range 2 {
			ref = p.gather(ref, kvi == 0, layer, head, pos)
			recon(layer, kvi, head, got, pos)
			addErr(t, kvi, got, ref)
		}
		return nil
	})
	return err
}

func (p *Pipeline) group(layer, kv, head int) int { return (layer*2+kv)*p.kv.KVHeads + head }

// gather copies the rows of (layer, head) at pos into dst (grown as needed).
func (p *Pipeline) gather(dst []float32, isKey bool, layer, head int, pos []int32) []float32 {
	d := p.kv.HeadDim
	dst = growSlice(dst, len(pos)*d)
	for i, t := range pos {
		copy(dst[i*d:(i+1)*d], p.kv.Row(isKey, layer, head, int(t)))
	}
	return dst
}

func (p *Pipeline) evicts(s Settings) bool {
	c, ok := lookupRowCodec(s.Method)
	return !ok || c.Evicts()
}

func (p *Pipeline) nexus(s Settings) bool { return s.Method == MethodNexusQuant }
