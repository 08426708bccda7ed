package eval

import (
	"slices"
	"strings"
	"testing"
)

func TestWindows(t *testing.T) {
	ids := []int32{1, 10, 11, 12, 13, 14, 15, 16, 17, 18}
	cases := []struct {
		name         string
		bos          int32
		prefix, cont int
		k            int
		want         [][]int32
		wantErr      bool
	}{
		{"bos three windows", 1, 2, 2, 0, [][]int32{{1, 10, 11, 12}, {1, 13, 14, 15}, {1, 16, 17, 18}}, false},
		{"bos one window", 1, 3, 2, 1, [][]int32{{1, 10, 11, 12, 13}}, false},
		{"no bos", -1, 3, 2, 0, [][]int32{{1, 10, 11, 12, 13}, {14, 15, 16, 17, 18}}, false},
		{"too many", 1, 3, 2, 4, nil, true},
		{"too long", 1, 20, 2, 1, nil, true},
		{"cont too short", 1, 3, 1, 1, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Windows(ids, c.bos, c.prefix, c.cont, c.k)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, c.wantErr)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %d windows, want %d", len(got), len(c.want))
			}
			for i := range got {
				if !slices.Equal(got[i], c.want[i]) {
					t.Errorf("window %d = %v, want %v", i, got[i], c.want[i])
				}
			}
		})
	}
}

func TestWindowsRefusesNegativeCount(t *testing.T) {
	ids := make([]int32, 100)
	if _, err := Windows(ids, -1, 8, 4, -1); err == nil || !strings.Contains(err.Error(), "-1 windows") {
		t.Errorf("Windows(k=-1): %v, want an error naming the count", err)
	}
}
