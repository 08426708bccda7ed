package engine

import (
	"runtime"
	"sync"
	"sync/atomic"
)

var threadCount atomic.Int64 // 0: GOMAXPROCS

// SetThreads sets how many goroutines a Forward call uses for its matrix
// products and attention; n ≤ 0 restores the default, GOMAXPROCS.
func SetThreads(n int) { threadCount.Store(int64(max(n, 0))) }

// Threads is the number of goroutines a Forward call uses.
func Threads() int {
	if n := threadCount.Load(); n > 0 {
		return int(n)
	}
	return runtime.GOMAXPROCS(0)
}

// parallel calls fn(worker, u) for every unit u < units on up to workers
// goroutines (the caller's goroutine is worker 0). Units are handed out one at
// a time, so uneven units and a busy machine still balance.
func parallel(units, workers int, fn func(worker, u int)) {
	workers = min(workers, units)
	if workers <= 1 {
		for u := 0; u < units; u++ {
			fn(0, u)
		}
		return
	}
	var next atomic.Int64
	run := func(w int) {
		for {
			u := int(next.Add(1) - 1)
			if u >= units {
				return
			}
			fn(w, u)
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(w)
		}()
	}
	run(0)
	wg.Wait()
}
