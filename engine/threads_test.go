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
