package engine

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
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
// goroutines (the caller's goroutine is worker 0). Units are handed out in
// shrinking runs (grab), so uneven units and a busy machine still balance.
//
// The helpers come from a persistent pool whose goroutines spin briefly
// between regions before they park, so the many short regions of a decode
// step (a few hundred microseconds each) do not pay a goroutine start and a
// futex wake each. When the pool is busy (concurrent Forward calls, or a
// region inside a region) the region spawns goroutines instead.
func parallel(units, workers int, fn func(worker, u int)) {
	workers = min(workers, units)
	if workers <= 1 {
		for u := 0; u < units; u++ {
			fn(0, u)
		}
		return
	}
	if thePool.mu.TryLock() {
		defer thePool.mu.Unlock()
		thePool.run(units, workers, fn)
		return
	}
	var next atomic.Int64
	run := func(w int) {
		for {
			u0, u1 := grab(&next, int64(units), workers)
			if u0 >= u1 {
				return
			}
			for u := u0; u < u1; u++ {
				fn(w, int(u))
			}
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

// grab takes the next run of units [u0, u1) from the counter next (empty
// when none are left): a share of what remains, remaining/(2·workers) but at
// least one (guided self-scheduling). Early grabs take long runs, so a
// region of hundreds of units costs each worker a few atomic operations on
// the shared counter instead of one per unit — on two cores that counter's
// cache line moving between them cost a decode step a fifth of its time at
// 32 KiB units — and the last grabs take single units, so the workers still
// finish together on a busy machine.
func grab(next *atomic.Int64, units int64, workers int) (u0, u1 int64) {
	for {
		u0 = next.Load()
		if u0 >= units {
			return u0, u0
		}
		k := max(1, (units-u0)/int64(2*workers))
		if next.CompareAndSwap(u0, u0+k) {
			return u0, u0 + k
		}
	}
}

// poolJob is one parallel region run by the pool.
type poolJob struct {
	fn      func(worker, u int)
	units   int64
	helpers int           // pool goroutines that may take part: workers 1..helpers
	next    atomic.Int64  // next unit to hand out
	done    atomic.Int64  // units finished
	doneCh  chan struct{} // a helper finishing the last unit sends here (capacity 1)
}

// work runs units until none are left. The region is over when every unit
// is done, not when every helper has looked: a helper that comes late (its
// thread was descheduled, or it was parked) finds nothing left and leaves, so
// the caller never waits for a helper that has no unit.
func (j *poolJob) work(w int) {
	var n int64
	for {
		u0, u1 := grab(&j.next, j.units, j.helpers+1)
		if u0 >= u1 {
			break
		}
		for u := u0; u < u1; u++ {
			j.fn(w, int(u))
		}
		n += u1 - u0
	}
	if n > 0 && j.done.Add(n) == j.units && w != 0 {
		select {
		case j.doneCh <- struct{}{}:
		default: // a token is already there
		}
	}
}

// workerPool holds persistent helper goroutines. mu is held by the one
// region running on it; job is the latest region, which helpers watch.
type workerPool struct {
	mu      sync.Mutex
	job     atomic.Pointer[poolJob]
	helpers []*poolHelper
	doneCh  chan struct{}
}

type poolHelper struct {
	sleeping atomic.Bool
	wake     chan struct{} // capacity 1
}

var thePool workerPool

// poolSpin is how long a helper keeps polling for the next region before it
// parks, and how long run polls for the units still running on helpers
// before it blocks. A decode step's regions follow each other within
// microseconds.
const poolSpin = 50 * time.Microsecond

func (p *workerPool) run(units, workers int, fn func(worker, u int)) {
	for len(p.helpers) < workers-1 {
		h := &poolHelper{wake: make(chan struct{}, 1)}
		p.helpers = append(p.helpers, h)
		go p.helperLoop(len(p.helpers), h, p.job.Load())
	}
	if p.doneCh == nil {
		p.doneCh = make(chan struct{}, 1)
	}
	j := &poolJob{fn: fn, units: int64(units), helpers: workers - 1, doneCh: p.doneCh}
	p.job.Store(j)
	for _, h := range p.helpers[:workers-1] {
		if h.sleeping.CompareAndSwap(true, false) {
			h.wake <- struct{}{}
		}
	}
	j.work(0)
	finished := func() bool { return j.done.Load() == j.units }
	if !spinUntil(finished) {
		for !finished() {
			<-p.doneCh // a token may be stale: check again
		}
	}
	// Late helpers still load j but call no fn: drop the closure so that the
	// region's buffers are not kept alive until the next region.
	j.fn = nil
}

// spinUntil polls cond for up to poolSpin and reports whether it came true.
func spinUntil(cond func() bool) bool {
	var t0 time.Time
	for i := 1; ; i++ {
		if cond() {
			return true
		}
		if i&255 == 0 {
			if t0.IsZero() {
				t0 = time.Now()
			} else if time.Since(t0) > poolSpin {
				return false
			}
		}
	}
}

// helperLoop is helper w's goroutine (workers are numbered from 1): it takes
// part in every region published after last that wants it.
func (p *workerPool) helperLoop(w int, h *poolHelper, last *poolJob) {
	for {
		j := p.job.Load()
		if j == last {
			j = p.await(h, last)
		}
		last = j
		if w <= j.helpers {
			j.work(w)
		}
	}
}

// await polls for a region other than last for poolSpin, then parks until
// run wakes it.
func (p *workerPool) await(h *poolHelper, last *poolJob) *poolJob {
	var j *poolJob
	if spinUntil(func() bool { j = p.job.Load(); return j != last }) {
		return j
	}
	h.sleeping.Store(true)
	if j := p.job.Load(); j != last && h.sleeping.CompareAndSwap(true, false) {
		return j
	}
	<-h.wake
	return p.job.Load()
}
