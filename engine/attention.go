package engine

import (
	"fmt"
	"math"
	"sort"
	"sync"
)

// Attention reads keys and values one block at a time and keeps, per (query,
// head), a running maximum, a running sum of e^(s−max) and an accumulator of
// e^(s−max)·v (the flash-attention online softmax): a block with a larger
// maximum rescales what came before. No layer's rows are ever gathered in one
// buffer, so a cache that decodes blocks from packed storage works unchanged.
//
// Within a block the work is two small matrix products per tile of queries,
// run by the same kernels as the weight products: scores S = Q·Kᵀ for the
// tile's queries and heads, then S (turned into weights in place) times V.

const (
	queryTile    = 16  // queries per tile
	newBlockRows = 256 // block size the new tokens' own rows are cut into
	stageRows    = 256 // most rows of small cache blocks folded in at once
)

var negInf = float32(math.Inf(-1))

// attnTask is the running softmax state of queries [i0, i1) of one forward
// call against one KV head, for the g query heads that share it.
type attnTask struct {
	g, d   int
	i0, i1 int
	start  int     // position of query 0 of the forward call
	scale  float32 // score scale, 1/√d unless the model says otherwise
	cap    float32 // attention soft-capping, 0 for none
	window int32   // sliding window, 0 for full attention
	*attnScratch
	st    *AttnStats
	ks    *kernelSet // the model's kernels
	layer int
	head0 int // first query head of the group
	// rot: some value rows came in a cache's rotated basis (RotatedVReader),
	// summed in accR and mapped back by unrot in finish.
	rot   bool
	unrot func(dst, src []float32)
}

// attnScratch is the memory of one attention task, kept in attnPool
// between calls: a decode step runs a task per layer and KV head, and
// allocating them anew would hand the garbage collector tens of kilobytes a
// token.
type attnScratch struct {
	q      []float32 // [query][head][d], the task's queries
	mx     []float32 // [query][head] running maximum
	sum    []float32 // [query][head] running Σ e^(s−max)
	acc    []float32 // [query][head][d] running Σ e^(s−max)·v
	accR   []float32 // as acc, for value rows in a cache's rotated basis
	tmp    []float32 // d floats: an unrotated accR row
	s, pv  []float32 // scores/weights [row of tile][block row], weights·V
	vt     []float32 // the block's values transposed, [d][rows]
	kg, vg []float32 // the new tokens' keys and values of the task's head
	stage  Block     // small cache blocks gathered (at most stageRows rows)
}

var attnPool = sync.Pool{New: func() any { return new(attnScratch) }}

// newAttnTask starts a task on scratch from attnPool; release gives it back.
func newAttnTask(q []float32, i0, i1, start, kvHead, g, d, heads int, ap attnParams) *attnTask {
	nq := i1 - i0
	sc := attnPool.Get().(*attnScratch)
	sc.q = grow32(sc.q, nq*g*d)
	sc.mx = grow32(sc.mx, nq*g)
	sc.sum = grow32(sc.sum, nq*g)
	sc.acc = grow32(sc.acc, nq*g*d)
	clear(sc.sum)
	clear(sc.acc)
	t := &attnTask{
		g: g, d: d, i0: i0, i1: i1, start: start,
		scale: ap.scale, cap: ap.cap, window: int32(ap.window), ks: ap.ks,
		attnScratch: sc,
		head0:       kvHead * g,
	}
	for i := i0; i < i1; i++ {
		copy(t.q[(i-i0)*g*d:(i-i0+1)*g*d], q[(i*heads+t.head0)*d:])
	}
	for i := range t.mx {
		t.mx[i] = negInf
	}
	return t
}

// release gives the task's scratch back to attnPool; t is unusable after.
func (t *attnTask) release() {
	attnPool.Put(t.attnScratch)
	t.attnScratch = nil
}

// block folds a block of rows into every query of the task. Row r (key
// K[r*d:], value V[r*d:]) has position pos[r]; a query at position p sees
// rows with pos[r] ≤ p. sorted means pos is increasing (the new tokens' own
// rows), which lets a tile of queries skip the rows after its last query.
// rotV means the values are in the cache's rotated basis (accumulated in
// accR).
func (t *attnTask) block(pos []int32, K, V []float32, sorted, rotV bool) {
	rows, d, g := len(pos), t.d, t.g
	if rows == 0 || t.outsideWindow(pos) {
		return
	}
	accAll := t.acc
	if rotV {
		if !t.rot {
			t.accR = grow32(t.accR, len(t.acc))
			clear(t.accR)
			t.rot = true
		}
		accAll = t.accR
	}
	// Weights·V: straight from V's rows where the kernel set can, else
	// through V transposed and mulTile.
	pvRows := t.ks.pvAcc != nil && d%64 == 0
	var vt []float32
	if !pvRows {
		t.vt = grow32(t.vt, d*rows)
		vt = t.vt
		for r := 0; r < rows; r++ {
			for j, v := range V[r*d : (r+1)*d] {
				vt[j*rows+r] = v
			}
		}
	}
	for a := t.i0; a < t.i1; a += queryTile {
		b := min(a+queryTile, t.i1)
		lastPos := int32(t.start + b - 1)
		used := rows
		if sorted {
			for used > 0 && pos[used-1] > lastPos {
				used--
			}
		}
		if used == 0 {
			continue
		}
		span := spanOf(pos[:used], sorted)
		m := (b - a) * g // rows of the tile: (query, head)
		if cap(t.s) < m*used {
			t.s = make([]float32, m*used)
		}
		if cap(t.pv) < m*d {
			t.pv = make([]float32, m*d)
		}
		s, pv := t.s[:m*used], t.pv[:m*d]
		qa := t.q[(a-t.i0)*g*d : (b-t.i0)*g*d]
		mulTile(t.ks, m, qa, d, d, K, d, used, s, used)
		for row := 0; row < m; row++ {
			i := a + row/g
			t.softmaxRow(s[row*used:(row+1)*used], pos[:used], int32(t.start+i), (i-t.i0)*g+row%g, span)
			if t.st != nil {
				t.record(s[row*used:(row+1)*used], i, row%g)
			}
		}
		acc := accAll[(a-t.i0)*g*d : (b-t.i0)*g*d]
		if pvRows {
			t.ks.pvAcc(m, d, used, s, used, V, d, acc, d)
			continue
		}
		mulTile(t.ks, m, s, used, used, vt, rows, d, pv, d)
		addTo(acc, pv)
	}
}

// outsideWindow reports whether a sliding window hides every row of a block
// from every query of the task.
func (t *attnTask) outsideWindow(pos []int32) bool {
	if t.window <= 0 {
		return false
	}
	first := int32(t.start + t.i0) // the task's earliest query sees the most
	for _, p := range pos {
		if first-p < t.window {
			return false
		}
	}
	return true
}

// attnParams is how one layer scores keys: the scale, soft-capping and
// sliding window.
type attnParams struct {
	scale, cap float32
	window     int
	ks         *kernelSet
}

// attnParams returns layer l's scoring parameters.
func (m *Model) attnParams(l int) attnParams {
	c := m.Config
	ap := attnParams{scale: float32(c.AttnScale), cap: float32(c.AttnSoftcap), window: m.layers[l].window, ks: m.kernels()}
	if ap.scale == 0 {
		ap.scale = 1 / float32(math.Sqrt(float64(c.HeadDim)))
	}
	return ap
}

// softmaxRow turns one row of raw scores into weights e^(s·scale−max) (0 for
// rows the query cannot see) and updates state st: the running maximum and
// sum, with the accumulator rescaled when the maximum grows.
func (t *attnTask) softmaxRow(row []float32, pos []int32, p int32, st int, vis blockSpan) {
	// The rows query p sees: all of them, or for positions in order a
	// contiguous run [lo, hi); otherwise (or with soft-capping) row by row.
	lo, hi, fast := 0, len(row), false
	if t.cap == 0 {
		switch {
		case vis.max <= p && (t.window <= 0 || p-vis.min < t.window):
			fast = true
		case vis.sorted:
			hi = sort.Search(len(row), func(r int) bool { return pos[r] > p })
			if t.window > 0 {
				lo = sort.Search(hi, func(r int) bool { return p-pos[r] < t.window })
			}
			fast = true
		}
	}
	var bmax float32
	if fast {
		if lo >= hi {
			clear(row) // nothing visible in this block
			return
		}
		bmax = t.ks.scaleMax(row[lo:hi], t.scale)
	} else {
		bmax = negInf
		for r := range row {
			if pos[r] > p || (t.window > 0 && p-pos[r] >= t.window) {
				row[r] = negInf
				continue
			}
			row[r] *= t.scale
			if t.cap > 0 {
				row[r] = float32(math.Tanh(float64(row[r]/t.cap))) * t.cap
			}
			bmax = max(bmax, row[r])
		}
		if bmax == negInf {
			clear(row) // nothing visible in this block
			return
		}
		lo, hi = 0, len(row)
	}
	old := t.mx[st]
	mx := max(old, bmax)
	if mx != old {
		t.mx[st] = mx
		if old != negInf {
			corr := exp32(old - mx)
			t.sum[st] *= corr
			acc := t.acc[st*t.d : (st+1)*t.d]
			for j := range acc {
				acc[j] *= corr
			}
			if t.rot {
				accR := t.accR[st*t.d : (st+1)*t.d]
				for j := range accR {
					accR[j] *= corr
				}
			}
		}
	}
	clear(row[:lo])
	clear(row[hi:])
	vis2 := row[lo:hi]
	for r := range vis2 {
		vis2[r] -= mx
	}
	t.ks.exp(vis2)
	t.sum[st] += sum8(vis2)
}

// blockSpan is what softmaxRow needs to know of a block's positions: their
// least and greatest, and whether they are in increasing order.
type blockSpan struct {
	min, max int32
	sorted   bool
}

// spanOf returns pos's blockSpan; sorted is given by the caller when known,
// else found.
func spanOf(pos []int32, sorted bool) blockSpan {
	sp := blockSpan{min: pos[0], max: pos[0], sorted: true}
	for r, v := range pos {
		sp.min, sp.max = min(sp.min, v), max(sp.max, v)
		if r > 0 && v <= pos[r-1] {
			sp.sorted = false
		}
	}
	sp.sorted = sp.sorted || sorted
	return sp
}

// record adds query i's probabilities (weights over the running sum) for head
// h of the group to the statistics. It is only used when the new tokens form
// the only block (prefill on an empty cache), so they are final.
func (t *attnTask) record(w []float32, i, h int) {
	t.st.add(t.layer, t.head0+h, i, w, 1/t.sum[(i-t.i0)*t.g+h])
}

// add adds query i's probabilities w·inv over keys 0.. (a prefill on an empty
// cache) for query head h of layer l to the statistics.
func (st *AttnStats) add(l, h, i int, w []float32, inv float32) {
	base := (l*st.Heads + h) * st.T
	all := st.All[base : base+len(w)]
	for r, e := range w {
		all[r] += e * inv
	}
	if i >= st.T-st.Window {
		obs := st.Obs[base : base+len(w)]
		for r, e := range w {
			obs[r] += e * inv
		}
	}
	if i == st.T-1 {
		last := st.Last[base : base+len(w)]
		for r, e := range w {
			last[r] = e * inv
		}
	}
}

// finish writes acc/sum for query i's heads into out (g×d).
func (t *attnTask) finish(i int, out []float32) {
	for h := 0; h < t.g; h++ {
		st := (i-t.i0)*t.g + h
		o := out[h*t.d : (h+1)*t.d]
		if t.sum[st] == 0 {
			clear(o)
			continue
		}
		inv := 1 / t.sum[st]
		acc := t.acc[st*t.d : (st+1)*t.d]
		if t.rot {
			t.tmp = grow32(t.tmp, t.d)
			t.unrot(t.tmp, t.accR[st*t.d:(st+1)*t.d])
			for j, a := range acc {
				o[j] = (a + t.tmp[j]) * inv
			}
			continue
		}
		for j, a := range acc {
			o[j] = a * inv
		}
	}
}

// attend computes the attention output of layer l for n new tokens at
// positions start.. into out (n×H×d): q (n×H×d) and the new keys/values k, v
// (n×Hkv×d) have RoPE applied; earlier positions come from c. Work is split
// over (KV head, range of queries). When st is non-nil (prefill on an empty
// cache) the probabilities are recorded in it.
func (m *Model) attend(c Cache, l int, q, k, v []float32, n, start int, out []float32, st *AttnStats) error {
	H, Hkv, d := m.Config.Heads, m.Config.KVHeads, m.Config.HeadDim
	G := H / Hkv
	threads := Threads()
	chunks := 1
	if st == nil && n >= 2*queryTile {
		chunks = min((2*threads+Hkv-1)/Hkv, n/queryTile)
	}
	chunk := (n + chunks - 1) / chunks
	chunks = (n + chunk - 1) / chunk
	errs := make([]error, threads)
	ap := m.attnParams(l)
	pos := make([]int32, n)
	for i := range pos {
		pos[i] = int32(start + i)
	}

	parallel(Hkv*chunks, threads, func(worker, u int) {
		kh, ck := u%Hkv, u/Hkv
		i0, i1 := ck*chunk, min((ck+1)*chunk, n)
		t := newAttnTask(q, i0, i1, start, kh, G, d, H, ap)
		t.st, t.layer = st, l

		defer t.release()
		// Earlier positions: the cache, block by block. A block read from a
		// cache that cannot lend it goes through buf, the task's own: a
		// pooled one would keep the largest block any cache ever gave.
		// Small read blocks (a packed cache hands out a few rows at a time)
		// are gathered into stage, up to stageRows rows, and folded in
		// together: each fold costs a product setup and a softmax pass per
		// query, whatever its rows.
		var buf Block
		stage := &t.stage
		if cap(stage.Pos) < stageRows {
			stage.Pos = make([]int32, 0, stageRows)
		}
		if cap(stage.K) < stageRows*d {
			stage.K, stage.V = make([]float32, 0, stageRows*d), make([]float32, 0, stageRows*d)
		}
		stage.Pos, stage.K, stage.V = stage.Pos[:0], stage.K[:0], stage.V[:0]
		// stageRot: the stage's values are in the cache's rotated basis; a
		// stage holds rows of one basis.
		stageRot := false
		fold := func() {
			if len(stage.Pos) > 0 {
				t.block(stage.Pos, stage.K, stage.V, false, stageRot)
				stage.Pos, stage.K, stage.V = stage.Pos[:0], stage.K[:0], stage.V[:0]
			}
		}
		// Runs of blocks the cache cannot lend are read straight into the
		// stage, with the values rotated where the cache offers it.
		var readRuns func(layer, head, i, maxRows int, dst *Block) (int, error)
		rotRuns := false
		if r, ok := c.(BlockRunReader); ok {
			readRuns = r.ReadBlocks
		}
		if r, ok := c.(RotatedVReader); ok && r.RotatedV(l) {
			readRuns, rotRuns = r.ReadBlocksRotatedV, true
			t.unrot = func(dst, src []float32) { r.UnrotateV(l, dst, src) }
		}
		for b := 0; b < c.NumBlocks(l, kh); b++ {
			lent, isLent := lentBlock(c, l, kh, b)
			if readRuns != nil && !isLent {
				if len(stage.Pos) > 0 && stageRot != rotRuns {
					fold()
				}
				stageRot = rotRuns
				next, err := readRun(readRuns, l, kh, b, d, stage)
				if err == nil && next == b && len(stage.Pos) > 0 {
					// Block b does not fit what is left of the stage.
					fold()
					next, err = readRun(readRuns, l, kh, b, d, stage)
				}
				if err != nil {
					errs[worker] = err
					return
				}
				if next > b {
					b = next - 1
					continue
				}
				// Block b alone has more rows than the stage holds, or the
				// cache leaves its blocks to ReadBlock: read it on its own
				// below.
			}
			blk, err := readUnlessLent(c, l, kh, b, d, &buf, lent, isLent)
			if err != nil {
				errs[worker] = err
				return
			}
			if readRuns != nil && len(blk.Pos) <= stageRows && !isLent {
				// The cache declined a block that fits an empty stage: it
				// reads block by block (an overlay on a prefix without
				// runs), so the rest goes through ReadBlock too.
				readRuns = nil
			}
			if len(blk.Pos) >= stageRows/2 {
				fold()
				t.block(blk.Pos, blk.K, blk.V, false, false)
				continue
			}
			if len(stage.Pos)+len(blk.Pos) > stageRows || (len(stage.Pos) > 0 && stageRot) {
				fold()
			}
			stageRot = false
			stage.Pos = append(stage.Pos, blk.Pos...)
			stage.K = append(stage.K, blk.K...)
			stage.V = append(stage.V, blk.V...)
		}
		fold()

		// The new tokens' own rows (those up to the task's last query),
		// in blocks; one block when recording statistics, so that the
		// weights seen by record are final.
		t.kg, t.vg = grow32(t.kg, i1*d), grow32(t.vg, i1*d)
		kg, vg := t.kg, t.vg
		for r := 0; r < i1; r++ {
			copy(kg[r*d:(r+1)*d], k[(r*Hkv+kh)*d:])
			copy(vg[r*d:(r+1)*d], v[(r*Hkv+kh)*d:])
		}
		step := newBlockRows
		if st != nil {
			step = i1
		}
		for r0 := 0; r0 < i1; r0 += step {
			r1 := min(r0+step, i1)
			t.block(pos[r0:r1], kg[r0*d:r1*d], vg[r0*d:r1*d], true, false)
		}
		for i := i0; i < i1; i++ {
			t.finish(i, out[(i*H+kh*G)*d:(i*H+kh*G+G)*d])
		}
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// lentBlock returns block b of (layer l, KV head kh) as c lends it
// (BlockViewer), or ok false when c does not lend it.
func lentBlock(c Cache, l, kh, b int) (blk Block, ok bool) {
	if v, is := c.(BlockViewer); is {
		return v.ViewBlock(l, kh, b)
	}
	return Block{}, false
}

// readRun appends to stage, through read (a BlockRunReader's ReadBlocks or
// ReadBlocksRotatedV), as many whole blocks from block b of (layer l, KV
// head kh) as fit in its free rows (of stageRows), and returns the block
// after the last one read (b when none was). It checks what was appended:
// whole rows of d floats, and no more than the stage's free rows.
func readRun(read func(layer, head, i, maxRows int, dst *Block) (int, error), l, kh, b, d int, stage *Block) (int, error) {
	free := stageRows - len(stage.Pos)
	n0 := len(stage.Pos)
	next, err := read(l, kh, b, free, stage)
	if err != nil {
		return b, fmt.Errorf("engine: attention: layer %d head %d blocks from %d: %w", l, kh, b, err)
	}
	rows := len(stage.Pos) - n0
	if next < b || rows > free || len(stage.K) != len(stage.Pos)*d || len(stage.V) != len(stage.Pos)*d {
		return b, fmt.Errorf("engine: attention: layer %d head %d: reading blocks from %d gave %d positions, %d key and %d value floats in all and next block %d (head dim %d, %d rows free)", l, kh, b, len(stage.Pos), len(stage.K), len(stage.V), next, d, free)
	}
	return next, nil
}

// cacheBlock returns block b of (layer l, KV head kh) of c: lent without a
// copy when c can lend it (BlockViewer), else read into buf. It checks that
// the block's rows are d floats long; errors name the layer, head and block.
func cacheBlock(c Cache, l, kh, b, d int, buf *Block) (Block, error) {
	blk, lent := lentBlock(c, l, kh, b)
	return readUnlessLent(c, l, kh, b, d, buf, blk, lent)
}

// readUnlessLent is cacheBlock once lentBlock has been asked: blk as lent,
// or block b read into buf.
func readUnlessLent(c Cache, l, kh, b, d int, buf *Block, blk Block, lent bool) (Block, error) {
	if !lent {
		if err := c.ReadBlock(l, kh, b, buf); err != nil {
			return Block{}, fmt.Errorf("engine: attention: layer %d head %d block %d: %w", l, kh, b, err)
		}
		blk = *buf
	}
	if rows := len(blk.Pos); len(blk.K) != rows*d || len(blk.V) != rows*d {
		return Block{}, fmt.Errorf("engine: attention: layer %d head %d block %d has %d positions, %d key and %d value floats (head dim %d)", l, kh, b, rows, len(blk.K), len(blk.V), d)
	}
	return blk, nil
}
