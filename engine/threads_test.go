package engine

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestParallel checks that every unit runs exactly once, on a worker index
// below the worker count, for regions run one after another (the pool),
// concurrently from several goroutines and nested inside a region (both fall
// back to fresh goroutines), and after the helpers have parked.
func TestParallel(t *testing.T) {
	check := func(t *testing.T, units, workers int) {
		seen := make([]atomic.Int32, units)
		var bad atomic.Int32
		parallel(units, workers, func(w, u int) {
			if w < 0 || w >= max(workers, 1) {
				bad.Add(1)
			}
			seen[u].Add(1)
		})
		if bad.Load() != 0 {
			t.Errorf("units %d workers %d: a worker index out of range", units, workers)
		}
		for u := range seen {
			if n := seen[u].Load(); n != 1 {
				t.Fatalf("units %d workers %d: unit %d ran %d times", units, workers, u, n)
			}
		}
	}
	for _, workers := range []int{0, 1, 2, 3, 5} {
		for _, units := range []int{0, 1, 2, 7, 100} {
			check(t, units, workers)
		}
	}
	time.Sleep(3 * poolSpin) // let the helpers park, then wake them
	check(t, 64, 3)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				check(t, 37, 2+g%3)
			}
		}()
	}
	wg.Wait()
	var inner atomic.Int64
	parallel(8, 3, func(_, _ int) {
		parallel(5, 2, func(_, _ int) { inner.Add(1) })
	})
	if inner.Load() != 40 {
		t.Errorf("nested regions ran %d inner units, want 40", inner.Load())
	}
}

// TestGrab checks guided self-scheduling: the runs grab hands out cover
// [0, units) exactly once, in order from one goroutine and as a partition
// from several; from one goroutine each run is a 1/(2·workers) share of
// what is left (at least one unit), so the runs shrink to single units and
// a region of n units costs O(workers·log n) grabs.
func TestGrab(t *testing.T) {
	for _, tc := range []struct {
		units   int64
		workers int
	}{{0, 2}, {1, 2}, {7, 2}, {100, 2}, {800, 2}, {800, 3}, {5, 16}} {
		var next atomic.Int64
		var runs int
		at := int64(0)
		last := tc.units + 1
		for {
			u0, u1 := grab(&next, tc.units, tc.workers)
			if u0 >= u1 {
				break
			}
			want := max(1, (tc.units-at)/int64(2*tc.workers))
			if u0 != at || u1-u0 != want || u1-u0 > last {
				t.Fatalf("%+v: run [%d, %d) after %d, want %d units", tc, u0, u1, at, want)
			}
			at, last = u1, u1-u0
			runs++
		}
		if at != tc.units {
			t.Errorf("%+v: runs covered %d units", tc, at)
		}
		if tc.units == 800 && runs > 2*tc.workers*12+2*tc.workers {
			t.Errorf("%+v: %d grabs", tc, runs)
		}
	}
	const units = 10000
	var next atomic.Int64
	seen := make([]atomic.Int32, units)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				u0, u1 := grab(&next, units, 4)
				if u0 >= u1 {
					return
				}
				for u := u0; u < u1; u++ {
					seen[u].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	for u := range seen {
		if n := seen[u].Load(); n != 1 {
			t.Fatalf("concurrent grabs: unit %d handed out %d times", u, n)
		}
	}
}
