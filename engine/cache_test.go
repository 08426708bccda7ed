package engine

import (
	"slices"
	"testing"
)

// TestFloatCacheTruncate fills a cache, truncates it, appends again, and
// checks that every (layer, head) reads back exactly the rows of a cache that
// never held the dropped ones.
func TestFloatCacheTruncate(t *testing.T) {
	const layers, heads, d = 2, 3, 4
	row := func(pos, layer int) (k, v []float32) {
		k, v = make([]float32, heads*d), make([]float32, heads*d)
		for i := range k {
			k[i] = float32(pos*1000 + layer*100 + i)
			v[i] = -k[i]
		}
		return k, v
	}
	fill := func(c *FloatCache, from, to int, salt int) {
		for p := from; p < to; p++ {
			for l := 0; l < layers; l++ {
				k, v := row(p+salt, l)
				if err := c.Append(l, int32(p), k, v); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	read := func(c *FloatCache, l, h int) (pos []int32, k, v []float32) {
		var b Block
		for i := 0; i < c.NumBlocks(l, h); i++ {
			if err := c.ReadBlock(l, h, i, &b); err != nil {
				t.Fatal(err)
			}
			pos, k, v = append(pos, b.Pos...), append(k, b.K...), append(v, b.V...)
		}
		return
	}
	cases := []struct {
		name                   string
		blockRows, n, cut, add int
	}{
		{"inside a block", 4, 10, 6, 3},
		{"at a block boundary", 4, 10, 8, 5},
		{"to empty", 4, 10, 0, 2},
		{"negative is empty", 4, 7, -3, 2},
		{"past the end keeps all", 4, 7, 9, 1},
		{"one block", 256, 20, 11, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := NewFloatCache(layers, heads, d)
			got.BlockRows = tc.blockRows
			fill(got, 0, tc.n, 0)
			got.Truncate(tc.cut)
			keep := min(max(tc.cut, 0), tc.n)
			// Rows appended after the cut differ from the dropped ones.
			fill(got, keep, keep+tc.add, 7)

			want := NewFloatCache(layers, heads, d)
			want.BlockRows = tc.blockRows
			fill(want, 0, keep, 0)
			fill(want, keep, keep+tc.add, 7)
			for l := 0; l < layers; l++ {
				for h := 0; h < heads; h++ {
					if g, w := got.Len(l, h), want.Len(l, h); g != w {
						t.Fatalf("layer %d head %d: Len %d, want %d", l, h, g, w)
					}
					gp, gk, gv := read(got, l, h)
					wp, wk, wv := read(want, l, h)
					if !slices.Equal(gp, wp) || !slices.Equal(gk, wk) || !slices.Equal(gv, wv) {
						t.Fatalf("layer %d head %d: positions %v, want %v (or keys/values differ)", l, h, gp, wp)
					}
				}
			}
		})
	}
}

// TestReserve: rows appended after Reserve land in the reserved blocks,
// without allocating, and read back as without it; a Truncate and more
// appends still work.
func TestReserve(t *testing.T) {
	const layers, heads, d, rows = 2, 3, 4, 21
	plain, res := NewFloatCache(layers, heads, d), NewFloatCache(layers, heads, d)
	plain.BlockRows, res.BlockRows = 8, 8
	res.Reserve(2 * rows) // AllocsPerRun runs fill twice
	k, v := randVec(heads*d, 1), randVec(heads*d, 2)
	fill := func(c *FloatCache) {
		p0 := c.Len(0, 0)
		for p := p0; p < p0+rows; p++ {
			for l := 0; l < layers; l++ {
				if err := c.Append(l, int32(p), k, v); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if allocs := testing.AllocsPerRun(1, func() { fill(res) }); allocs != 0 {
		t.Errorf("appending %d reserved rows allocated %v times", rows, allocs)
	}
	fill(plain)
	fill(plain)
	// After a Truncate the dropped blocks are reused: refilling allocates
	// nothing either.
	res.Truncate(0)
	if allocs := testing.AllocsPerRun(1, func() { res.Truncate(0); fill(res) }); allocs != 0 {
		t.Errorf("refilling a truncated cache allocated %v times", allocs)
	}
	res.Truncate(0)
	fill(res)
	fill(res)
	for _, c := range []*FloatCache{plain, res} {
		c.Truncate(10)
		for l := 0; l < layers; l++ {
			if err := c.Append(l, 10, v, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, _, _, _, wk, wv := plain.Export()
	_, _, _, T, gk, gv := res.Export()
	if T != 11 || !slices.Equal(gk, wk) || !slices.Equal(gv, wv) {
		t.Fatalf("reserved cache exports %d rows, differing from the plain one", T)
	}
}
