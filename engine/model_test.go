package engine

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
)

// A small random model built in memory, and a slow float64 reference forward
// pass written from the definitions, to check the fast paths against.

var tinyConfig = Config{
	Arch: "llama", Layers: 2, Embd: 32, Heads: 4, KVHeads: 2, HeadDim: 8, FF: 48, Vocab: 40, Ctx: 64,
	RopeBase: 10000, RopeScale: 1, NormEps: 1e-5, RopeDims: 8, RopeAttnFactor: 1, RopeOrigCtx: 64,
	AttnScale: 1 / math.Sqrt(8), EmbedScale: 1,
}

// randomModel returns a model with F32 weights drawn from a seeded normal
// distribution; qwen2 adds q/k/v biases and NEOX RoPE.
func randomModel(arch string, seed uint64) *Model {
	c := tinyConfig
	c.Arch = arch
	c.RopeNeox = arch == "qwen2"
	m := &Model{Config: c}
	seed *= 1000
	next := func(n int, scale float32) []float32 {
		seed++
		v := randVec(n, seed)
		for i := range v {
			v[i] *= scale
		}
		return v
	}
	mat := func(name string, rows, cols int) *matrix {
		return f32Matrix(name, next(rows*cols, 1/float32(math.Sqrt(float64(cols)))), rows, cols)
	}
	norm := func(n int) []float32 {
		v := next(n, 0.1)
		for i := range v {
			v[i]++
		}
		return v
	}
	qd, kvd := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	m.tokEmbd = mat("token_embd.weight", c.Vocab, c.Embd)
	m.output = mat("output.weight", c.Vocab, c.Embd)
	m.outputNorm = norm(c.Embd)
	m.rope = newRope(c.RopeDims, c.RopeBase, c.RopeScale, c.RopeNeox, nil, 1)
	for i := 0; i < c.Layers; i++ {
		l := layer{
			attnNorm: norm(c.Embd), ffnNorm: norm(c.Embd),
			wq: mat("attn_q", qd, c.Embd), wk: mat("attn_k", kvd, c.Embd), wv: mat("attn_v", kvd, c.Embd),
			wo: mat("attn_output", c.Embd, qd), gate: mat("ffn_gate", c.FF, c.Embd),
			up: mat("ffn_up", c.FF, c.Embd), down: mat("ffn_down", c.Embd, c.FF),
			rope: &m.rope,
		}
		if arch == "qwen2" {
			l.bq, l.bk, l.bv = next(qd, 0.5), next(kvd, 0.5), next(kvd, 0.5)
		}
		m.layers = append(m.layers, l)
	}
	return m
}

// refResult is the reference forward's output: logits [token][vocab] and
// attention probabilities [layer][head][query][key].
type refResult struct {
	logits [][]float64
	probs  [][][][]float64
}

// refForward runs ids from position 0 in float64 with a plain full softmax.
func refForward(m *Model, ids []int32) refResult {
	c := m.Config
	n, E, H, Hkv, d := len(ids), c.Embd, c.Heads, c.KVHeads, c.HeadDim
	matvec := func(w *matrix, x []float64, bias []float32) []float64 {
		out := make([]float64, w.rows)
		for r := range out {
			var s float64
			for j, v := range x {
				s += float64(w.f32[r*w.cols+j]) * v
			}
			if bias != nil {
				s += float64(bias[r])
			}
			out[r] = s
		}
		return out
	}
	norm := func(x []float64, w []float32) []float64 {
		var ss float64
		for _, v := range x {
			ss += v * v
		}
		sc := 1 / math.Sqrt(ss/float64(len(x))+float64(c.NormEps))
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = v * sc * float64(w[i])
		}
		return out
	}
	rope := func(x []float64, pos int) {
		cs := make([]float32, m.rope.dims)
		m.rope.table(pos, cs)
		half := m.rope.dims / 2
		for i := 0; i < half; i++ {
			a, b := 2*i, 2*i+1
			if m.rope.neox {
				a, b = i, i+half
			}
			co, si := float64(cs[2*i]), float64(cs[2*i+1])
			x0, x1 := x[a], x[b]
			x[a], x[b] = x0*co-x1*si, x0*si+x1*co
		}
	}
	x := make([][]float64, n)
	for i, id := range ids {
		x[i] = make([]float64, E)
		for j := range x[i] {
			x[i][j] = float64(m.tokEmbd.f32[int(id)*E+j])
		}
	}
	res := refResult{probs: make([][][][]float64, c.Layers)}
	for li, ly := range m.layers {
		q := make([][]float64, n)
		k := make([][]float64, n)
		v := make([][]float64, n)
		for i := range x {
			h := norm(x[i], ly.attnNorm)
			q[i], k[i], v[i] = matvec(ly.wq, h, ly.bq), matvec(ly.wk, h, ly.bk), matvec(ly.wv, h, ly.bv)
			for hh := 0; hh < H; hh++ {
				rope(q[i][hh*d:(hh+1)*d], i)
			}
			for hh := 0; hh < Hkv; hh++ {
				rope(k[i][hh*d:(hh+1)*d], i)
			}
		}
		res.probs[li] = make([][][]float64, H)
		att := make([][]float64, n)
		for i := range att {
			att[i] = make([]float64, H*d)
		}
		for hh := 0; hh < H; hh++ {
			kh := hh / (H / Hkv)
			res.probs[li][hh] = make([][]float64, n)
			for i := 0; i < n; i++ {
				p := make([]float64, i+1)
				mx := math.Inf(-1)
				for r := range p {
					var s float64
					for j := 0; j < d; j++ {
						s += q[i][hh*d+j] * k[r][kh*d+j]
					}
					p[r] = s / math.Sqrt(float64(d))
					mx = max(mx, p[r])
				}
				var sum float64
				for r := range p {
					p[r] = math.Exp(p[r] - mx)
					sum += p[r]
				}
				for r := range p {
					p[r] /= sum
					for j := 0; j < d; j++ {
						att[i][hh*d+j] += p[r] * v[r][kh*d+j]
					}
				}
				res.probs[li][hh][i] = p
			}
		}
		for i := range x {
			o := matvec(ly.wo, att[i], nil)
			for j := range x[i] {
				x[i][j] += o[j]
			}
			h := norm(x[i], ly.ffnNorm)
			g, u := matvec(ly.gate, h, nil), matvec(ly.up, h, nil)
			for j := range g {
				g[j] = g[j] / (1 + math.Exp(-g[j])) * u[j]
			}
			dn := matvec(ly.down, g, nil)
			for j := range x[i] {
				x[i][j] += dn[j]
			}
		}
	}
	for i := range x {
		res.logits = append(res.logits, matvec(m.output, norm(x[i], m.outputNorm), nil))
	}
	return res
}

func tinyIDs(n int) []int32 {
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32((i*7 + 3) % tinyConfig.Vocab)
	}
	return ids
}

// TestForwardMatchesReference: batched Forward (LogitsAll) against the
// float64 reference, for both architectures.
func TestForwardMatchesReference(t *testing.T) {
	forEachKernels(t, testForwardMatchesReference)
}

func testForwardMatchesReference(t *testing.T, ks *kernelSet) {
	for _, arch := range []string{"llama", "qwen2"} {
		t.Run(arch, func(t *testing.T) {
			m := randomModel(arch, 1)
			m.ks = ks
			ids := tinyIDs(20)
			logits, _, err := m.Forward(context.Background(), m.NewCache(), ids, 0, ForwardOptions{Logits: LogitsAll})
			if err != nil {
				t.Fatal(err)
			}
			ref := refForward(m, ids)
			V := m.Config.Vocab
			for i := range ids {
				for j := 0; j < V; j++ {
					if got, want := float64(logits[i*V+j]), ref.logits[i][j]; math.Abs(got-want) > 1e-4*(1+math.Abs(want)) {
						t.Fatalf("token %d logit %d: %g, reference %g", i, j, got, want)
					}
				}
			}
		})
	}
}

// TestForwardIncremental: a prefill then one token at a time through the
// cache gives the logits of one batched call, for several cache block sizes.
func TestForwardIncremental(t *testing.T) {
	m := randomModel("llama", 2)
	ids := tinyIDs(30)
	ctx := context.Background()
	all, _, err := m.Forward(ctx, m.NewCache(), ids, 0, ForwardOptions{Logits: LogitsAll})
	if err != nil {
		t.Fatal(err)
	}
	V := m.Config.Vocab
	for _, bs := range []int{1, 3, 256} {
		c := m.NewCache()
		c.BlockRows = bs
		const prefill = 11
		got, _, err := m.Forward(ctx, c, ids[:prefill], 0, ForwardOptions{Logits: LogitsAll})
		if err != nil {
			t.Fatal(err)
		}
		for i := prefill; i < len(ids); i++ {
			last, _, err := m.Forward(ctx, c, ids[i:i+1], i, ForwardOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, last...)
		}
		for i := range all {
			if !close32(got[i], all[i], 1e-5) {
				t.Fatalf("block %d: token %d logit %d: incremental %g, batched %g", bs, i/V, i%V, got[i], all[i])
			}
		}
		if n := c.Len(1, 1); n != len(ids) {
			t.Errorf("cache holds %d rows, want %d", n, len(ids))
		}
	}
}

// TestAttnStats: statistics captured during prefill equal the reference
// probabilities summed as SPEC §1 defines them.
func TestAttnStats(t *testing.T) {
	m := randomModel("llama", 3)
	ids := tinyIDs(25)
	const window = 6
	_, st, err := m.Forward(context.Background(), m.NewCache(), ids, 0, ForwardOptions{Stats: window})
	if err != nil {
		t.Fatal(err)
	}
	ref := refForward(m, ids)
	c := m.Config
	T := len(ids)
	if st.Layers != c.Layers || st.Heads != c.Heads || st.T != T || st.Window != window {
		t.Fatalf("stats shape %d×%d×%d window %d", st.Layers, st.Heads, st.T, st.Window)
	}
	for l := 0; l < c.Layers; l++ {
		for h := 0; h < c.Heads; h++ {
			for key := 0; key < T; key++ {
				var obs, all float64
				for q := key; q < T; q++ {
					p := ref.probs[l][h][q][key]
					all += p
					if q >= T-window {
						obs += p
					}
				}
				last := ref.probs[l][h][T-1][key]
				i := (l*c.Heads+h)*T + key
				for _, f := range []struct {
					name      string
					got, want float64
				}{{"Obs", float64(st.Obs[i]), obs}, {"All", float64(st.All[i]), all}, {"Last", float64(st.Last[i]), last}} {
					if math.Abs(f.got-f.want) > 1e-5 {
						t.Fatalf("%s[layer %d][head %d][key %d] = %g, reference %g", f.name, l, h, key, f.got, f.want)
					}
				}
			}
		}
	}
	// Statistics need an empty cache.
	c2 := m.NewCache()
	if _, _, err := m.Forward(context.Background(), c2, ids[:3], 0, ForwardOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Forward(context.Background(), c2, ids[3:5], 3, ForwardOptions{Stats: 2}); err == nil {
		t.Error("statistics on a non-empty cache: no error")
	}
}

// TestBlockAttention: attention read from caches cut into blocks of 1, 3 and
// 256 rows equals a plain full softmax over all rows (float64), for one and
// several new queries.
func TestBlockAttention(t *testing.T) {
	forEachKernels(t, testBlockAttention)
}

func testBlockAttention(t *testing.T, ks *kernelSet) {
	for _, hd := range []int{8, 64} { // 64: the weights·V kernel reading V's rows
		m := randomModel("llama", 4)
		m.ks = ks
		m.Config.HeadDim, m.Config.AttnScale = hd, 1/math.Sqrt(float64(hd))
		testBlockAttentionModel(t, m)
	}
}

func testBlockAttentionModel(t *testing.T, m *Model) {
	c := m.Config
	H, Hkv, d := c.Heads, c.KVHeads, c.HeadDim
	const T = 37
	kc, vc := randVec(T*Hkv*d, 11), randVec(T*Hkv*d, 12)
	for _, n := range []int{1, 5, 8, 40} {
		q := randVec(n*H*d, 13)
		kn, vn := randVec(n*Hkv*d, 14), randVec(n*Hkv*d, 15)
		// Reference: query i at position T+i sees cached rows 0..T-1 and new rows 0..i.
		want := make([]float64, n*H*d)
		for i := 0; i < n; i++ {
			for h := 0; h < H; h++ {
				kh := h / (H / Hkv)
				var keys, vals [][]float32
				for r := 0; r < T; r++ {
					keys = append(keys, kc[(r*Hkv+kh)*d:(r*Hkv+kh+1)*d])
					vals = append(vals, vc[(r*Hkv+kh)*d:(r*Hkv+kh+1)*d])
				}
				for r := 0; r <= i; r++ {
					keys = append(keys, kn[(r*Hkv+kh)*d:(r*Hkv+kh+1)*d])
					vals = append(vals, vn[(r*Hkv+kh)*d:(r*Hkv+kh+1)*d])
				}
				s := make([]float64, len(keys))
				mx := math.Inf(-1)
				for r, kr := range keys {
					for j := range kr {
						s[r] += float64(q[(i*H+h)*d+j]) * float64(kr[j])
					}
					s[r] /= math.Sqrt(float64(d))
					mx = max(mx, s[r])
				}
				var sum float64
				for r := range s {
					s[r] = math.Exp(s[r] - mx)
					sum += s[r]
				}
				for r, vr := range vals {
					for j := range vr {
						want[(i*H+h)*d+j] += s[r] / sum * float64(vr[j])
					}
				}
			}
		}
		for _, bs := range []int{1, 3, 8, 256} {
			cache := m.NewCache()
			cache.BlockRows = bs
			for r := 0; r < T; r++ {
				for l := 0; l < c.Layers; l++ {
					if err := cache.Append(l, int32(r), kc[r*Hkv*d:(r+1)*Hkv*d], vc[r*Hkv*d:(r+1)*Hkv*d]); err != nil {
						t.Fatal(err)
					}
				}
			}
			var read []float32 // the output through ReadBlock
			for _, via := range []string{"ViewBlock", "ReadBlock", "ReadBlocks", "ReadBlocks declining", "ReadBlocksRotatedV", "ReadBlocksRotatedV and ViewBlock"} {
				var cc Cache = cache
				switch via {
				case "ReadBlock":
					cc = readOnly{cache} // hides ViewBlock: exercises ReadBlock
				case "ReadBlocks":
					cc = runReader{readOnly{cache}, false}
				case "ReadBlocks declining":
					cc = runReader{readOnly{cache}, true}
				case "ReadBlocksRotatedV":
					cc = &rotReader{runReader: runReader{readOnly{cache}, false}, viewFrom: 1 << 30}
				case "ReadBlocksRotatedV and ViewBlock":
					// The first half of the blocks in runs with rotated
					// values, the rest lent: stages of both bases.
					cc = &rotReader{runReader: runReader{readOnly{cache}, false}, viewFrom: cache.NumBlocks(1, 0) / 2, lend: cache}
				}
				out := make([]float32, n*H*d)
				if err := m.attend(cc, 1, q, kn, vn, n, T, out, nil); err != nil {
					t.Fatal(err)
				}
				for i := range out {
					if math.Abs(float64(out[i])-want[i]) > 1e-5 {
						t.Fatalf("n %d block %d (%s): out[%d] = %g, full softmax %g", n, bs, via, i, out[i], want[i])
					}
				}
				switch via {
				case "ViewBlock":
				case "ReadBlock":
					read = out
				case "ReadBlocks", "ReadBlocks declining":
					// Runs are folded where single blocks would have been:
					// the same floats.
					for i := range out {
						if math.Float32bits(out[i]) != math.Float32bits(read[i]) {
							t.Fatalf("n %d block %d (%s): out[%d] = %g, through ReadBlock %g", n, bs, via, i, out[i], read[i])
						}
					}
				default:
					// Rotated values summed apart and mapped back once:
					// float32 rounding away from the plain sum.
					for i := range out {
						if e := math.Abs(float64(out[i] - read[i])); e > 1e-6 {
							t.Fatalf("n %d block %d (%s): out[%d] = %g, through ReadBlock %g", n, bs, via, i, out[i], read[i])
						}
					}
				}
			}
		}
	}
}

// readOnly wraps a cache, hiding its optional interfaces.
type readOnly struct{ Cache }

// runReader adds BlockRunReader to a cache: whole blocks read with
// ReadBlock and appended while they fit; declining reads none.
type runReader struct {
	Cache
	declining bool
}

func (r runReader) ReadBlocks(layer, head, i, maxRows int, dst *Block) (int, error) {
	if r.declining {
		return i, nil
	}
	var b Block
	for ; i < r.NumBlocks(layer, head); i++ {
		if err := r.ReadBlock(layer, head, i, &b); err != nil {
			return i, err
		}
		if len(b.Pos) > maxRows {
			break
		}
		maxRows -= len(b.Pos)
		dst.Pos, dst.K, dst.V = append(dst.Pos, b.Pos...), append(dst.K, b.K...), append(dst.V, b.V...)
	}
	return i, nil
}

// rotReader is a RotatedVReader over runReader: its runs give each value
// row reversed and doubled (v' = 2·Jv), which UnrotateV undoes exactly;
// blocks from viewFrom on are lent by lend.
type rotReader struct {
	runReader
	viewFrom int
	lend     *FloatCache
}

func (r *rotReader) RotatedV(layer int) bool { return true }

func (r *rotReader) ReadBlocksRotatedV(layer, head, i, maxRows int, dst *Block) (int, error) {
	if i >= r.viewFrom {
		return i, nil
	}
	_, _, d := r.Dims()
	n0 := len(dst.Pos)
	next, err := r.ReadBlocks(layer, head, i, maxRows, dst)
	for row := n0; row < len(dst.Pos); row++ {
		v := dst.V[row*d : (row+1)*d]
		for j := range d / 2 {
			v[j], v[d-1-j] = v[d-1-j], v[j]
		}
		for j := range v {
			v[j] *= 2
		}
	}
	return next, err
}

func (r *rotReader) UnrotateV(layer int, dst, src []float32) {
	d := len(src)
	for j := range dst {
		dst[j] = src[d-1-j] / 2
	}
}

func (r *rotReader) ViewBlock(layer, head, i int) (Block, bool) {
	if i < r.viewFrom || r.lend == nil {
		return Block{}, false
	}
	return r.lend.ViewBlock(layer, head, i)
}

// badRuns is a BlockRunReader that breaks its contract as bad says.
type badRuns struct {
	Cache
	bad string
}

func (r badRuns) ReadBlocks(layer, head, i, maxRows int, dst *Block) (int, error) {
	switch r.bad {
	case "error":
		return i, errors.New("frame 3 is corrupt")
	case "backwards":
		return i - 1, nil
	case "too many rows":
		for range maxRows + 1 {
			dst.Pos = append(dst.Pos, 0)
			dst.K, dst.V = append(dst.K, make([]float32, 8)...), append(dst.V, make([]float32, 8)...)
		}
		return i + 1, nil
	default: // ragged: a key row short
		dst.Pos = append(dst.Pos, 0)
		dst.K, dst.V = append(dst.K, make([]float32, 7)...), append(dst.V, make([]float32, 8)...)
		return i + 1, nil
	}
}

// TestReadBlocksContract checks that attention turns a BlockRunReader that
// fails or breaks its contract into an error naming the layer, head and
// block, never a panic or a wrong result.
func TestReadBlocksContract(t *testing.T) {
	m := randomModel("llama", 4)
	c := m.Config
	H, Hkv, d := c.Heads, c.KVHeads, c.HeadDim
	if d != 8 {
		t.Fatalf("head dim %d; badRuns writes rows of 8", d)
	}
	cache := m.NewCache()
	cache.BlockRows = 4
	kc, vc := randVec(Hkv*d, 1), randVec(Hkv*d, 2)
	for r := range 10 {
		for l := range c.Layers {
			if err := cache.Append(l, int32(r), kc, vc); err != nil {
				t.Fatal(err)
			}
		}
	}
	q, kn, vn := randVec(H*d, 3), randVec(Hkv*d, 4), randVec(Hkv*d, 5)
	for bad, want := range map[string]string{
		"error":         "blocks from 0: frame 3 is corrupt",
		"backwards":     "next block -1",
		"too many rows": "257 positions",
		"ragged":        "7 key",
	} {
		out := make([]float32, H*d)
		err := m.attend(badRuns{readOnly{cache}, bad}, 1, q, kn, vn, 1, 10, out, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %q", bad, err, want)
		}
	}
}

func TestFloatCacheExport(t *testing.T) {
	c := NewFloatCache(2, 3, 4)
	c.BlockRows = 2
	for p := 0; p < 5; p++ {
		for l := 0; l < 2; l++ {
			k := make([]float32, 12)
			v := make([]float32, 12)
			for i := range k {
				k[i] = float32(1000*l + 100*p + i)
				v[i] = -k[i]
			}
			if err := c.Append(l, int32(p), k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	L, kvh, d, T, K, V := c.Export()
	if L != 2 || kvh != 3 || d != 4 || T != 5 || len(K) != 2*3*5*4 || len(V) != len(K) {
		t.Fatalf("export shape %d %d %d %d, %d values", L, kvh, d, T, len(K))
	}
	for l := 0; l < 2; l++ {
		for h := 0; h < 3; h++ {
			for p := 0; p < 5; p++ {
				for j := 0; j < 4; j++ {
					want := float32(1000*l + 100*p + 4*h + j)
					if got := K[((l*3+h)*5+p)*4+j]; got != want {
						t.Fatalf("K[%d][%d][%d][%d] = %g, want %g", l, h, p, j, got, want)
					}
					if V[((l*3+h)*5+p)*4+j] != -want {
						t.Fatalf("V mismatch at %d %d %d %d", l, h, p, j)
					}
				}
			}
		}
	}
	if c.NumBlocks(0, 0) != 3 {
		t.Errorf("%d blocks, want 3", c.NumBlocks(0, 0))
	}
	var b Block
	if err := c.ReadBlock(1, 2, 2, &b); err != nil || len(b.Pos) != 1 || b.Pos[0] != 4 {
		t.Errorf("last block: %v %v", b.Pos, err)
	}
	if err := c.ReadBlock(1, 2, 3, &b); err == nil {
		t.Error("block out of range: no error")
	}
	if err := c.Append(0, 5, make([]float32, 11), make([]float32, 12)); err == nil {
		t.Error("short row: no error")
	}
}

// TestRoPEInverse: undo after redo is the identity (SPEC §3) for both
// pairings, and the rotation is the one the forward pass applies.
func TestRoPEInverse(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2"} {
		m := randomModel(arch, 5)
		for _, pos := range []int{0, 1, 17, 63} {
			x := randVec(m.Config.HeadDim, uint64(pos))
			y := append([]float32(nil), x...)
			m.RoPE(y, pos, false)
			if pos > 0 && y[0] == x[0] && y[1] == x[1] {
				t.Errorf("%s: RoPE at %d left x unchanged", arch, pos)
			}
			m.RoPE(y, pos, true)
			for i := range x {
				if !close32(y[i], x[i], 1e-5) {
					t.Fatalf("%s pos %d: undo(redo(x))[%d] = %g, x %g", arch, pos, i, y[i], x[i])
				}
			}
		}
	}
}

// TestForwardErrors: bad input gives errors that name the lengths.
func TestForwardErrors(t *testing.T) {
	m := randomModel("llama", 6)
	ctx := context.Background()
	long := make([]int32, m.Config.Ctx+1)
	for _, tc := range []struct {
		name string
		run  func() error
		want string
	}{
		{"prompt longer than context", func() error {
			_, err := m.Generate(ctx, long, 4, Sampler{}, nil)
			return err
		}, "65 tokens is longer than the context of 64"},
		{"past the context", func() error {
			_, _, err := m.Forward(ctx, m.NewCache(), []int32{1, 2}, 63, ForwardOptions{})
			return err
		}, "2 tokens at position 63 exceed the context of 64"},
		{"token outside vocab", func() error {
			_, _, err := m.Forward(ctx, m.NewCache(), []int32{1, 40}, 0, ForwardOptions{})
			return err
		}, "token 40 (index 1) is outside the vocabulary of 40"},
		{"cache shape", func() error {
			_, _, err := m.Forward(ctx, NewFloatCache(3, 2, 8), []int32{1}, 0, ForwardOptions{})
			return err
		}, "cache is 3 layers"},
		{"cancelled", func() error {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			_, _, err := m.Forward(cctx, m.NewCache(), []int32{1}, 0, ForwardOptions{})
			return err
		}, "context canceled"},
	} {
		err := tc.run()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestGenerate: greedy generation equals argmax decoding by hand, stops at
// n tokens and when onToken says so.
func TestGenerate(t *testing.T) {
	m := randomModel("llama", 7)
	ctx := context.Background()
	prompt := tinyIDs(5)
	out, err := m.Generate(ctx, prompt, 8, Sampler{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 8 {
		t.Fatalf("generated %d tokens, want 8", len(out))
	}
	ids := append([]int32(nil), prompt...)
	for len(ids) < len(prompt)+8 {
		lg, _, err := m.Forward(ctx, m.NewCache(), ids, 0, ForwardOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, argmax(lg))
	}
	for i, id := range out {
		if id != ids[len(prompt)+i] {
			t.Fatalf("token %d: generated %d, by hand %d", i, id, ids[len(prompt)+i])
		}
	}
	n := 0
	out, err = m.Generate(ctx, prompt, 8, Sampler{Temp: 0.8, TopK: 5, TopP: 0.9, Seed: 1}, func(int32) bool { n++; return n < 3 })
	if err != nil || len(out) != 3 {
		t.Fatalf("stopped generation: %d tokens, %v", len(out), err)
	}
	again, _ := m.Generate(ctx, prompt, 3, Sampler{Temp: 0.8, TopK: 5, TopP: 0.9, Seed: 1}, nil)
	for i := range out {
		if again[i] != out[i] {
			t.Fatalf("seeded sampling is not reproducible: %v vs %v", out, again)
		}
	}
}

// TestForwardWritesBeforeReading fills Forward's pooled activation buffers
// with NaN before each call: a value read before it is written would show
// in the logits, which must equal those of a first call.
func TestForwardWritesBeforeReading(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2"} {
		m := randomModel(arch, 5)
		ids := tinyIDs(9)
		want, _, err := m.Forward(context.Background(), m.NewCache(), ids, 0, ForwardOptions{Logits: LogitsAll})
		if err != nil {
			t.Fatal(err)
		}
		for rep := 0; rep < 3; rep++ {
			buf := fwdPool.Get().(*[]float32)
			*buf = grow32(*buf, 1<<16)
			for i := range *buf {
				(*buf)[i] = float32(math.NaN())
			}
			fwdPool.Put(buf)
			got, _, err := m.Forward(context.Background(), m.NewCache(), ids, 0, ForwardOptions{Logits: LogitsAll})
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s rep %d: logit %d = %g after a poisoned pool, %g before", arch, rep, i, got[i], want[i])
				}
			}
		}
	}
}
