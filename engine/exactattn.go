package engine

import "math"

// Attention in Model.Exact mode, as llama.cpp computes it without flash
// attention over its default float16 KV cache: keys and values are float16
// (rows are rounded when read, which changes nothing for rows that already
// are), the cache cells are padded to a multiple of 32 with masked cells;
// Q is rounded to float16 and multiplied with K (ggml_vec_dot_f16 for one
// token, tinyBLAS for a batch); the scores are scaled, masked and passed
// through ggml's softmax (ggml_v_expf per group of 16, the sum in float64 of
// each group's reduce16, then one float32 reciprocal); the probabilities are
// rounded to float16 and multiplied with V in the same kernels' order.

// exactCellPad is llama.cpp's KV cell padding without flash attention.
const exactCellPad = 32

// attendExact is attend for Model.Exact: the same contract, llama.cpp's
// arithmetic. The cache's rows come first, in block order, then the new
// tokens' rows.
func (m *Model) attendExact(c Cache, l int, q, k, v []float32, n, start int, out []float32, st *AttnStats) error {
	H, Hkv, d := m.Config.Heads, m.Config.KVHeads, m.Config.HeadDim
	G := H / Hkv
	ap := m.attnParams(l)
	scale, win := ap.scale, int32(ap.window)

	// Gather each KV head's cells: positions, float16 keys and values.
	type cells struct {
		pos  []int32
		K, V []float32
	}
	heads := make([]cells, Hkv)
	for kh := range heads {
		ce := &heads[kh]
		var buf Block
		for b := 0; b < c.NumBlocks(l, kh); b++ {
			blk, err := cacheBlock(c, l, kh, b, d, &buf)
			if err != nil {
				return err
			}
			ce.pos = append(ce.pos, blk.Pos...)
			ce.K = append(ce.K, blk.K...)
			ce.V = append(ce.V, blk.V...)
		}
		for i := 0; i < n; i++ {
			ce.pos = append(ce.pos, int32(start+i))
			ce.K = append(ce.K, k[(i*Hkv+kh)*d:(i*Hkv+kh+1)*d]...)
			ce.V = append(ce.V, v[(i*Hkv+kh)*d:(i*Hkv+kh+1)*d]...)
		}
		for i, x := range ce.K {
			ce.K[i] = round16(x)
		}
		for i, x := range ce.V {
			ce.V[i] = round16(x)
		}
	}

	// One unit per (KV head, query); per KV head when recording statistics,
	// so that one goroutine owns each head's rows of st.
	query := func(kh, i int) {
		ce := &heads[kh]
		rows := len(ce.pos)
		nkv := (rows + exactCellPad - 1) / exactCellPad * exactCellPad
		p := int32(start + i)
		w := make([]float32, nkv)
		col := make([]float32, nkv)
		qh := make([]float32, d)
		for g := 0; g < G; g++ {
			h := kh*G + g
			for j, x := range q[(i*H+h)*d : (i*H+h+1)*d] {
				qh[j] = round16(x)
			}
			mx := negInf
			for t := range w {
				w[t] = negInf
				if t >= rows || ce.pos[t] > p || (win > 0 && p-ce.pos[t] >= win) {
					continue
				}
				kr := ce.K[t*d : (t+1)*d]
				var s float32
				if n >= 2 && d%tinyK == 0 {
					s = dotTiny(kr, qh)
				} else {
					s = dotVec(kr, qh, false)
				}
				w[t] = s * scale
				if ap.cap > 0 {
					w[t] = float32(math.Tanh(float64(w[t]/ap.cap))) * ap.cap
				}
				mx = max(mx, w[t])
			}
			var sum float64
			for t0 := 0; t0 < nkv; t0 += 16 {
				var e [16]float32
				for j := range e {
					e[j] = ggmlExp(w[t0+j] - mx)
					w[t0+j] = e[j]
				}
				sum += float64(reduce16(&e))
			}
			inv := float32(1 / sum)
			for t := range w {
				w[t] *= inv
			}
			if st != nil {
				st.add(l, h, i, w[:rows], 1) // w is already normalized
			}
			for t := range w {
				w[t] = round16(w[t])
			}
			o := out[(i*H+h)*d : (i*H+h+1)*d]
			for j := range o {
				for t := 0; t < rows; t++ {
					col[t] = ce.V[t*d+j]
				}
				if n >= 2 {
					o[j] = dotTiny(col, w)
				} else {
					o[j] = dotVec(col, w, false)
				}
			}
		}
	}
	if st != nil {
		parallel(Hkv, Threads(), func(_, kh int) {
			for i := 0; i < n; i++ {
				query(kh, i)
			}
		})
	} else {
		parallel(Hkv*n, Threads(), func(_, u int) { query(u%Hkv, u/Hkv) })
	}
	return nil
}
