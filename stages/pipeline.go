package stages

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Pipeline chains the six stages over one prefix cache and keeps each stage's
// output, keyed by the settings it depends on (stageKeys), so a later Run
// re-runs only from the first stage whose inputs changed: key_bits re-runs
// quantize and entropy, eviction_rate evict onward, scorer everything.
//
// The Pipeline reads kv, stats and rope and never modifies them; the caller
// must not modify them while the Pipeline is in use. Runs are serialized (a
// second Run waits for the first); cancel the first one's context to start a
// newer one sooner. Stage outputs are held between runs: about 2× the kept
// rows in float32 (rope and hadamard outputs) plus the codes.
type Pipeline struct {
	kv      *KV
	stats   *AttnStats
	rope    RoPEFunc
	modelID string

	mu      sync.Mutex // held for a whole Run
	cache   [6]stageEntry
	workers int // GOMAXPROCS when the current Run started

	runsMu sync.Mutex // guards runs, so Runs answers during a Run
	runs   map[string]int
}

// stageEntry is one stage's cached output.
type stageEntry struct {
	key string
	out any
	rep StageReport // Name, RelErrK/V, Duration; Bytes is filled per report
}

// Result is what Run returns: the packed cache and the per-stage report.
type Result struct {
	Compressed *Compressed
	Report     Report
}

// NewPipeline returns a pipeline over kv (the prefill cache, keys with RoPE
// applied), the attention statistics captured during prefill (nil when only
// key-based scorers are used), the model's RoPE function (nil only with
// rope_undo=false) and the model identity recorded in the compressed cache.
// It copies nothing; shapes are checked by Run.
func NewPipeline(kv *KV, stats *AttnStats, rope RoPEFunc, modelID string) *Pipeline {
	return &Pipeline{kv: kv, stats: stats, rope: rope, modelID: modelID, runs: map[string]int{}}
}

// Runs returns how many times each stage has run (not served from the
// cache) since NewPipeline, keyed by stage name. The map is a copy.
func (p *Pipeline) Runs() map[string]int {
	p.runsMu.Lock()
	defer p.runsMu.Unlock()
	out := make(map[string]int, len(p.runs))
	for k, v := range p.runs {
		out[k] = v
	}
	return out
}

// Run compresses the cache with s, re-running only the stages whose inputs
// changed since the last successful Run. It is cancellable through ctx
// between (layer, head) tasks; a cancelled or failed stage and every later
// one are dropped from the cache. Work runs on GOMAXPROCS goroutines.
func (p *Pipeline) Run(ctx context.Context, s Settings) (*Result, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if err := p.checkShapes(s); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.workers = runtime.GOMAXPROCS(0)
	keys := stageKeys(s)
	funcs := [6]func(context.Context, Settings) (any, error){
		p.runScore, p.runEvict, p.runRoPE, p.runHadamard, p.runQuantize, p.runEntropy,
	}
	var reran []string
	for i, name := range StageNames {
		if p.cache[i].key == keys[i] && p.cache[i].out != nil {
			continue
		}
		reran = append(reran, name)
		for j := i; j < len(p.cache); j++ {
			p.cache[j] = stageEntry{}
		}
		start := time.Now()
		out, err := funcs[i](ctx, s)
		if err != nil {
			return nil, fmt.Errorf("stage %s: %w", name, err)
		}
		p.runsMu.Lock()
		p.runs[name]++
		p.runsMu.Unlock()
		p.cache[i] = stageEntry{key: keys[i], out: out, rep: StageReport{Name: name}}
		p.cache[i].rep.setDuration(time.Since(start) - measureTime(out))
		p.cache[i].rep.RelErrK, p.cache[i].rep.RelErrV = relErrs(out)
	}
	ent := p.cache[5].out.(*entropyOut)
	return &Result{Compressed: ent.c, Report: p.report(s, reran)}, nil
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
	if s.Method == MethodNexusQuant && s.RoPEUndo && p.rope == nil {
		return fmt.Errorf("rope_undo is set but the pipeline has no RoPE function")
	}
	return nil
}

// Stage outputs. Groups are indexed g = (layer·2 + kv)·Hkv + head, kv 0 = K.

type scoreOut struct {
	sc *Scores // nil when the method does not evict
	errSums
}

type evictOut struct {
	lists [][]int32 // per keep list (granularity), strictly increasing
	pos   *posStream
	errSums
}

type rowsOut struct {
	rows  [][]float32 // per group, n rows (rope: d wide; hadamard: DPad wide); nil for row codecs
	width int
	errSums
}

type quantOut struct {
	codes  [][]byte   // per quantized group: n rows of DPad codes, CodeBytes each
	scales [][]uint16 // per quantized group
	errSums
}

type entropyOut struct {
	c               *Compressed
	unblocked       int64 // row-stream bytes with one frame per group
	unblockedScales int64 // scales bytes with one scale frame per group
	errSums
}

func (o *scoreOut) sums() *errSums   { return &o.errSums }
func (o *evictOut) sums() *errSums   { return &o.errSums }
func (o *rowsOut) sums() *errSums    { return &o.errSums }
func (o *quantOut) sums() *errSums   { return &o.errSums }
func (o *entropyOut) sums() *errSums { return &o.errSums }

type hasSums interface{ sums() *errSums }

func measureTime(out any) time.Duration  { return out.(hasSums).sums().measure }
func relErrs(out any) (float64, float64) { return out.(hasSums).sums().relErrs() }

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
// to the per-task sums, which are combined in task order (deterministic).
func (p *Pipeline) measureTasks(ctx context.Context, e *errSums, fn func(worker, layer, head int, t *errSums) error) error {
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
	return err
}

func (p *Pipeline) group(layer, kv, head int) int { return (layer*2+kv)*p.kv.KVHeads + head }

// list returns the kept positions of (layer, head).
func (e *evictOut) list(s Settings, kvHeads, layer, head int) []int32 {
	return e.lists[groupIndex(s.Granularity, kvHeads, layer, head)]
}

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

// runScore: SPEC §1.
func (p *Pipeline) runScore(ctx context.Context, s Settings) (any, error) {
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

// runEvict: SPEC §2, plus the encoding of the kept positions.
func (p *Pipeline) runEvict(ctx context.Context, s Settings) (any, error) {
	kv := p.kv
	out := &evictOut{lists: make([][]int32, groupCount(s.Granularity, kv.Layers, kv.KVHeads))}
	sc := p.cache[0].out.(*scoreOut).sc
	if sc == nil {
		all := make([]int32, kv.T)
		for i := range all {
			all[i] = int32(i)
		}
		for i := range out.lists {
			out.lists[i] = all
		}
	} else {
		keep, err := Evict(sc, s.EvictionRate, s.SlidingWindow)
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
	err = p.measureTasks(ctx, &out.errSums, func(_, layer, head int, t *errSums) error {
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

func (p *Pipeline) nexus(s Settings) bool { return s.Method == MethodNexusQuant }

// runRoPE: SPEC §3. Output: per group the kept rows, keys rotated back.
func (p *Pipeline) runRoPE(ctx context.Context, s Settings) (any, error) {
	kv := p.kv
	out := &rowsOut{width: kv.HeadDim}
	if !p.nexus(s) {
		return out, nil
	}
	ev := p.cache[1].out.(*evictOut)
	out.rows = make([][]float32, 2*kv.Layers*kv.KVHeads)
	err := p.forHeads(ctx, func(_, layer, head int) error {
		pos := ev.list(s, kv.KVHeads, layer, head)
		for kvi := range 2 {
			rows := p.gather(nil, kvi == 0, layer, head, pos)
			if kvi == 0 && s.RoPEUndo {
				UndoRoPE(rows, kv.HeadDim, pos, p.rope)
			}
			out.rows[p.group(layer, kvi, head)] = rows
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = p.measureRows(ctx, s, ev, &out.errSums, func(layer, kvi, head int, dst []float32, pos []int32) {
		copy(dst, out.rows[p.group(layer, kvi, head)])
		if kvi == 0 && s.RoPEUndo {
			RedoRoPE(dst, kv.HeadDim, pos, p.rope)
		}
	})
	return out, err
}

// measureRows accumulates the error of a reconstruction: recon fills dst
// (n rows of d) for group (layer, kv, head) from the stage output.
func (p *Pipeline) measureRows(ctx context.Context, s Settings, ev *evictOut, e *errSums,
	recon func(layer, kv, head int, dst []float32, pos []int32)) error {
	kv := p.kv
	return p.measureTasks(ctx, e, func(_, layer, head int, t *errSums) error {
		pos := ev.list(s, kv.KVHeads, layer, head)
		ref := make([]float32, len(pos)*kv.HeadDim)
		got := make([]float32, len(pos)*kv.HeadDim)
		for kvi := range 2 {
			ref = p.gather(ref, kvi == 0, layer, head, pos)
			recon(layer, kvi, head, got, pos)
			addErr(t, kvi, got, ref)
		}
		return nil
	})
}

// runHadamard: SPEC §4. Output: per group the kept rows at code width DPad.
func (p *Pipeline) runHadamard(ctx context.Context, s Settings) (any, error) {
	kv := p.kv
	d, w := kv.HeadDim, codeWidth(kv.HeadDim, s)
	out := &rowsOut{width: w}
	if !p.nexus(s) {
		return out, nil
	}
	in := p.cache[2].out.(*rowsOut)
	ev := p.cache[1].out.(*evictOut)
	var had *Hadamard
	if s.Hadamard {
		had = NewHadamard(d, s.HadamardSigns, s.Seed)
	}
	out.rows = make([][]float32, len(in.rows))
	err := p.forHeads(ctx, func(_, layer, head int) error {
		for kvi := range 2 {
			g := p.group(layer, kvi, head)
			src := in.rows[g]
			if had == nil && w == d {
				out.rows[g] = src // nothing to do: share the rope output
				continue
			}
			n := len(src) / d
			dst := make([]float32, n*w)
			for r := range n {
				if had != nil {
					had.Forward(dst[r*w:r*w+had.DPad], src[r*d:(r+1)*d])
				} else {
					copy(dst[r*w:], src[r*d:(r+1)*d])
				}
			}
			out.rows[g] = dst
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = p.measureRows(ctx, s, ev, &out.errSums, func(layer, kvi, head int, dst []float32, pos []int32) {
		src := out.rows[p.group(layer, kvi, head)]
		for r := range len(pos) {
			if had != nil {
				had.Inverse(dst[r*d:(r+1)*d], src[r*w:r*w+had.DPad])
			} else {
				copy(dst[r*d:(r+1)*d], src[r*w:r*w+d])
			}
		}
		if kvi == 0 && s.RoPEUndo {
			RedoRoPE(dst, d, pos, p.rope)
		}
	})
	return out, err
}

// runQuantize: SPEC §5. Output: per quantized group the codes (CodeBytes
// each) and the float16 scales. Protected layers are not quantized; their
// error is the float16 rounding of the kept rows.
func (p *Pipeline) runQuantize(ctx context.Context, s Settings) (any, error) {
	kv := p.kv
	d := kv.HeadDim
	out := &quantOut{}
	ev := p.cache[1].out.(*evictOut)
	if !p.nexus(s) {
		err := p.measureRows(ctx, s, ev, &out.errSums, func(layer, kvi, head int, dst []float32, pos []int32) {
			p.codecRoundTrip(s, layer, kvi, head, dst, pos)
		})
		return out, err
	}
	in := p.cache[3].out.(*rowsOut)
	w := in.width
	var q [2]*Quantizer
	var err error
	if q[0], err = NewQuantizer(s.Lattice, s.KeyBits); err != nil {
		return nil, err
	}
	if q[1], err = NewQuantizer(s.Lattice, s.ValueBits); err != nil {
		return nil, err
	}
	out.codes = make([][]byte, len(in.rows))
	out.scales = make([][]uint16, len(in.rows))
	codes := make([][]int16, p.workers)
	err = p.forHeads(ctx, func(worker, layer, head int) error {
		if isProtected(layer, kv.Layers, s.ProtectBoundary) {
			return nil
		}
		c16 := growSlice(codes[worker], w)
		codes[worker] = c16
		for kvi := range 2 {
			g := p.group(layer, kvi, head)
			src := in.rows[g]
			n := len(src) / w
			cb := q[kvi].CodeBytes()
			cs := make([]byte, n*w*cb)
			sc := make([]uint16, n)
			for r := range n {
				sc[r] = q[kvi].Encode(c16, src[r*w:(r+1)*w])
				row := cs[r*w*cb : (r+1)*w*cb]
				for j, c := range c16 {
					if cb == 1 {
						if c < math.MinInt8 || c > math.MaxInt8 {
							return fmt.Errorf("code %d does not fit int8 (lattice %s, %d bits)", c, s.Lattice, q[kvi].Bits)
						}
						row[j] = byte(int8(c))
					} else {
						binary.LittleEndian.PutUint16(row[2*j:], uint16(c))
					}
				}
			}
			out.codes[g], out.scales[g] = cs, sc
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var had *Hadamard
	if s.Hadamard {
		had = NewHadamard(d, s.HadamardSigns, s.Seed)
	}
	err = p.measureRows(ctx, s, ev, &out.errSums, func(layer, kvi, head int, dst []float32, pos []int32) {
		g := p.group(layer, kvi, head)
		if out.codes[g] == nil {
			p.codecRoundTrip(s, layer, kvi, head, dst, pos)
			return
		}
		dequantRows(dst, out.codes[g], out.scales[g], q[kvi], had, w, d)
		if kvi == 0 && s.RoPEUndo {
			RedoRoPE(dst, d, pos, p.rope)
		}
	})
	return out, err
}

// dequantRows reconstructs rows before RoPE: Quantizer.Decode of each row's
// codes (w wide, CodeBytes each) and scale, then the inverse Hadamard (or the
// first d coordinates). dst holds len(scales) rows of d.
func dequantRows(dst []float32, codes []byte, scales []uint16, q *Quantizer, had *Hadamard, w, d int) {
	cb := q.CodeBytes()
	c16 := make([]int16, w)
	f := make([]float32, w)
	for r, sc := range scales {
		unpackCodes(c16, codes[r*w*cb:(r+1)*w*cb], cb)
		q.Decode(f, c16, sc)
		if had != nil {
			had.Inverse(dst[r*d:(r+1)*d], f[:had.DPad])
		} else {
			copy(dst[r*d:(r+1)*d], f[:d])
		}
	}
}

// codecFor returns the RowCodec storing layer's rows under s, or nil for
// quantized layers (the Compressed.rowCodecFor rule).
func (p *Pipeline) codecFor(s Settings, layer int) RowCodec {
	if isProtected(layer, p.kv.Layers, s.ProtectBoundary) {
		return f16Codec{}
	}
	if c, ok := lookupRowCodec(s.Method); ok {
		return c
	}
	return nil
}

// codecRoundTrip fills dst with the kept rows of the group encoded and
// decoded by its RowCodec.
func (p *Pipeline) codecRoundTrip(s Settings, layer, kvi, head int, dst []float32, pos []int32) {
	rc := p.codecFor(s, layer)
	rows := p.gather(nil, kvi == 0, layer, head, pos)
	enc := rc.Encode(nil, rows, p.kv.HeadDim, kvi == 0)
	if err := rc.Decode(dst, enc, p.kv.HeadDim, kvi == 0); err != nil {
		clear(dst) // counts as a full error
	}
}

// groupFrames are one group's frames and scale frames and their words.
type groupFrames struct {
	frames, scaleFrames []byte
	words, scaleWords   []uint64
}

// encodeFrames encodes every group's rows into frames, in parallel over
// (layer, head) with one groupEncoder per worker: quantized groups from the
// quantize stage's codes (delta, zstd), others through their RowCodec
// (zstd for nexusquant's float16 layers, raw for a RowCodec method).
func (p *Pipeline) encodeFrames(ctx context.Context, s Settings, encs []*groupEncoder) ([]groupFrames, error) {
	kv := p.kv
	d := kv.HeadDim
	w := codeWidth(d, s)
	ev := p.cache[1].out.(*evictOut)
	qo := p.cache[4].out.(*quantOut)
	gf := make([]groupFrames, 2*kv.Layers*kv.KVHeads)
	err := p.forHeads(ctx, func(worker, layer, head int) error {
		ge := encs[worker]
		pos := ev.list(s, kv.KVHeads, layer, head)
		for kvi := range 2 {
			g := p.group(layer, kvi, head)
			out := &gf[g]
			if qo.codes != nil && qo.codes[g] != nil {
				codes := qo.codes[g]
				cb := len(codes) / (len(pos) * w)
				// Encode into the worker's buffer, keep an exact copy: no
				// append growth, little garbage.
				ge.out, out.words = ge.encode(ge.out[:0], nil, codes, w*cb, cb, s.Delta)
				out.frames = append([]byte(nil), ge.out...)
				ge.out, out.scaleWords = ge.encodeScales(ge.out[:0], nil, qo.scales[g])
				out.scaleFrames = append([]byte(nil), ge.out...)
				continue
			}
			rc := p.codecFor(s, layer)
			var rows []float32
			var buf []byte
			for r0 := 0; r0 < len(pos); r0 += s.BlockTokens {
				blk := pos[r0:min(len(pos), r0+s.BlockTokens)]
				rows = p.gather(rows, kvi == 0, layer, head, blk)
				buf = rc.Encode(buf[:0], rows, d, kvi == 0)
				if want := rc.EncodedLen(len(blk), d); len(buf) != want {
					return fmt.Errorf("row codec %s: encoded %d rows to %d bytes, EncodedLen says %d", rc.Name(), len(blk), len(buf), want)
				}
				var word uint64
				out.frames, word = appendFrame(out.frames, buf, ge.enc)
				out.words = append(out.words, word)
			}
		}
		return nil
	})
	return gf, err
}

// runEntropy: SPEC §6. Builds the frames, the scale frames and the
// Compressed; measures one frame per group (the blocking cost) and the error
// of a full decode through ReadBlock.
func (p *Pipeline) runEntropy(ctx context.Context, s Settings) (any, error) {
	kv := p.kv
	d := kv.HeadDim
	ev := p.cache[1].out.(*evictOut)
	qo := p.cache[4].out.(*quantOut)
	var enc *zstd.Encoder // nil: raw frames (row-codec methods)
	if p.nexus(s) {
		var err error
		if enc, err = zstdEncoder(s.ZstdLevel); err != nil {
			return nil, err
		}
	}
	encs := make([]*groupEncoder, p.workers)
	for i := range encs {
		encs[i] = &groupEncoder{block: s.BlockTokens, enc: enc}
	}
	gf, err := p.encodeFrames(ctx, s, encs)
	if err != nil {
		return nil, err
	}
	w := codeWidth(d, s)
	// Concatenate in group order.
	var total, nWords, sTotal, sWords int
	for i := range gf {
		total += len(gf[i].frames)
		nWords += len(gf[i].words)
		sTotal += len(gf[i].scaleFrames)
		sWords += len(gf[i].scaleWords)
	}
	pt := &parts{modelID: p.modelID, layers: kv.Layers, kvHeads: kv.KVHeads, headDim: d,
		width: w, T: kv.T, s: s,
		posKind: ev.pos.kind, posZstd: ev.pos.zstd, posStoredLen: len(ev.pos.stored),
		frames: make([]byte, 0, total), words: make([]uint64, 0, nWords),
		scaleFrames: make([]byte, 0, sTotal), scaleWords: make([]uint64, 0, sWords)}
	for i := range gf {
		pt.frames = append(pt.frames, gf[i].frames...)
		pt.words = append(pt.words, gf[i].words...)
		pt.scaleFrames = append(pt.scaleFrames, gf[i].scaleFrames...)
		pt.scaleWords = append(pt.scaleWords, gf[i].scaleWords...)
		gf[i] = groupFrames{}
	}
	// posRaw is shared with the evict stage's output; assemble keeps it.
	pt.posRaw = append([]byte(nil), ev.pos.raw...)
	c, err := assemble(pt, p.rope)
	if err != nil {
		return nil, fmt.Errorf("assembling the compressed cache: %w", err)
	}
	out := &entropyOut{c: c}
	start := time.Now()
	if err := p.measureUnblocked(ctx, s, qo, ev, encs, w, out); err != nil {
		return nil, err
	}
	out.measure += time.Since(start)
	// Decode everything through ReadBlock: the entropy stage's error is the
	// error of what the model will read.
	blocks := make([]*Block, p.workers)
	for i := range blocks {
		blocks[i] = c.NewBlock()
	}
	err = p.measureTasks(ctx, &out.errSums, func(worker, layer, head int, t *errSums) error {
		blk := blocks[worker]
		var ref []float32
		var diff, norm [2]float64 // the group's sums, in the order measureRows adds them
		for i := range c.NumBlocks(layer, head) {
			if err := c.ReadBlock(layer, head, i, blk); err != nil {
				return err
			}
			for kvi, got := range [2][]float32{blk.K, blk.V} {
				ref = p.gather(ref, kvi == 0, layer, head, blk.Pos)
				diff[kvi], norm[kvi] = sqErr(diff[kvi], norm[kvi], got, ref)
			}
		}
		for kvi := range 2 {
			t.diff[kvi] += diff[kvi]
			t.ref[kvi] += norm[kvi]
		}
		return nil
	})
	// Keep the decode buffers of one reader (one scratch, one Block), so the
	// report's ResidentBytes does not depend on this machine's core count.
	for _, b := range blocks {
		c.ReleaseBlock(b)
	}
	c.pool.trim(1, 1)
	return out, err
}

// measureUnblocked computes the row-stream and scales bytes with one frame
// (and one scale frame) per group.
func (p *Pipeline) measureUnblocked(ctx context.Context, s Settings, qo *quantOut, ev *evictOut, encs []*groupEncoder, w int, out *entropyOut) error {
	kv := p.kv
	c := out.c
	per := make([]int64, 2*kv.Layers*kv.KVHeads)
	perScales := make([]int64, len(per))
	err := p.forHeads(ctx, func(worker, layer, head int) error {
		ge := encs[worker]
		for kvi := range 2 {
			g := p.group(layer, kvi, head)
			blocked := 0
			for f := int(c.groupFrame[g]); f < int(c.groupFrame[g+1]); f++ {
				fr, _ := c.frame(f)
				blocked += len(fr)
			}
			codes := qo.codes
			if codes != nil && codes[g] != nil {
				cb := len(codes[g]) / (c.Kept(layer, head) * w)
				per[g] = int64(ge.unblockedSize(codes[g], w*cb, cb, s.Delta, blocked))
				perScales[g] = int64(ge.unblockedScales(qo.scales[g]))
				continue
			}
			if _, f16 := c.rowCodecFor(layer).(f16Codec); f16 && s.Method == MethodNexusQuant {
				pos := ev.list(s, kv.KVHeads, layer, head)
				rows := p.gather(nil, kvi == 0, layer, head, pos)
				raw := f16Codec{}.Encode(nil, rows, kv.HeadDim, kvi == 0)
				per[g] = int64(ge.unblockedSize(raw, 2*kv.HeadDim, 2, false, blocked))
				continue
			}
			per[g] = int64(blocked)
		}
		return nil
	})
	for g, v := range per {
		out.unblocked += v
		out.unblockedScales += perScales[g]
	}
	return err
}
