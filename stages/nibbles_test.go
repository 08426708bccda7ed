package stages

import (
	"slices"
	"testing"
)

func TestPackNibbles(t *testing.T) {
	cases := []struct {
		name  string
		codes []int8
		err   bool
	}{
		{"range", []int8{-8, -7, -1, 0, 1, 7, 3, -4}, false},
		{"zeros", make([]int8, 16), false},
		{"too big", []int8{0, 8, 0, 0}, true},
		{"too small", []int8{0, 0, 0, -9}, true},
		{"int8 extremes", []int8{127, -128}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := make([]byte, len(tc.codes))
			for i, c := range tc.codes {
				src[i] = byte(c)
			}
			dst := make([]byte, len(src)/2)
			err := packNibbles(dst, src)
			if (err != nil) != tc.err {
				t.Fatalf("packNibbles error %v, want error %v", err, tc.err)
			}
			if err != nil {
				return
			}
			got := make([]int16, len(src))
			unpackNibbles(got, dst)
			want := make([]int16, len(src))
			for i, c := range tc.codes {
				want[i] = int16(c)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("round trip %v, want %v", got, want)
			}
		})
	}
}

func TestNibbleCodes(t *testing.T) {
	cases := []struct {
		lattice string
		bits    int
		want    bool
	}{
		{"e8", 2, true}, {"relaxed", 2, true}, {"relaxed", 3, false}, {"e8", 8, false},
		{"scalar", 2, true}, {"scalar", 4, true}, {"scalar", 5, false},
	}
	for _, tc := range cases {
		q, err := NewQuantizer(tc.lattice, tc.bits)
		if err != nil {
			t.Fatal(err)
		}
		if got := nibbleCodes(q); got != tc.want {
			t.Errorf("%s %d bits: nibbleCodes %v, want %v", tc.lattice, tc.bits, got, tc.want)
		}
	}
}
