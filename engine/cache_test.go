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
