package eval

import (
	"context"
	"fmt"
	"sync"
	"time"

	"nexusquant/engine"
	"nexusquant/stages"
)

// Runner runs evaluation jobs one at a time off the caller's goroutine and
// reports them as typed Events on one channel. Newest wins: Load and Submit
// never block; each cancels the job in flight (which then ends with
// Cancelled) and replaces any job still waiting to start. So a UI can call
// them from its update loop, and the Explorer's "not safe for concurrent
// Runs" is the Runner's problem, not the caller's.
//
// A Runner owns the model of its last Load and closes it on the next Load or
// on Close.
type Runner struct {
	events chan Event
	stop   chan struct{} // closed by Close: the forwarder gives up

	mu      sync.Mutex
	wake    *sync.Cond
	queue   []Event // events not yet handed to the channel
	pending *request
	cancel  context.CancelFunc // of the job in flight
	nextID  uint64
	closed  bool

	// Owned by the worker goroutine.
	model *engine.Model
	ex    *Explorer

	workerDone chan struct{}
}

// LoadSpec is a load job: open the model, then Prepare the input.
type LoadSpec struct {
	// Open returns the model; the Runner owns (and closes) what it returns.
	Open  func() (*engine.Model, error)
	Input Input
	// Seed of the paired bootstrap of every later run.
	Seed int64
}

// RunOptions are a run job's extras.
type RunOptions struct {
	// Greedy also generates window 0's greedy continuation from the packed
	// cache, for a side-by-side view with the baseline's (GreedyDone).
	Greedy bool
}

// request is a job waiting to start.
type request struct {
	id       uint64
	load     *LoadSpec
	settings stages.Settings
	opts     RunOptions
}

// NewRunner starts a Runner's goroutines. Call Close when done.
func NewRunner() *Runner {
	r := &Runner{events: make(chan Event, 16), stop: make(chan struct{}), workerDone: make(chan struct{})}
	r.wake = sync.NewCond(&r.mu)
	go r.forward()
	go r.work()
	return r
}

// Events is the channel of every job's events, in order. It is closed after
// Close, once the events queued before it are delivered.
func (r *Runner) Events() <-chan Event { return r.events }

// Load queues a load job and returns its id. The job ends with Loaded,
// Failed or Cancelled.
func (r *Runner) Load(spec LoadSpec) uint64 { return r.submit(&request{load: &spec}) }

// Submit queues a run of settings s on the loaded explorer and returns its id.
// The job ends with Done, Failed or Cancelled (Failed when nothing is loaded).
func (r *Runner) Submit(s stages.Settings, opts RunOptions) uint64 {
	return r.submit(&request{settings: s, opts: opts})
}

func (r *Runner) submit(req *request) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID++
	req.id = r.nextID
	if r.closed {
		return req.id
	}
	r.cancelLocked()
	r.pending = req
	r.wake.Broadcast()
	return req.id
}

// cancelLocked cancels the job in flight and drops the one waiting to start,
// which ends with Cancelled. r.mu is held.
func (r *Runner) cancelLocked() {
	if r.pending != nil {
		r.emitLocked(Cancelled{JobRef{r.pending.id}})
		r.pending = nil
	}
	if r.cancel != nil {
		r.cancel()
	}
}

// Cancel cancels the job in flight and any job waiting to start.
func (r *Runner) Cancel() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cancelLocked()
}

// Close cancels every job, waits for the job in flight to end, closes the
// model and then the Events channel. Events still queued may be dropped;
// Close never waits for a reader.
func (r *Runner) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.cancelLocked()
	r.wake.Broadcast()
	r.mu.Unlock()
	<-r.workerDone
	if r.model != nil {
		r.model.Close()
	}
	close(r.stop)
	r.mu.Lock()
	r.wake.Broadcast() // the forwarder may be waiting for events
	r.mu.Unlock()
}

// Await reads Events until job id ends and returns its last event; on is
// called for every event of that job (may be nil). Events of other jobs are
// passed to on too. It returns nil if the channel closes first. Await is for
// a caller that runs one job at a time (the command line).
func (r *Runner) Await(id uint64, on func(Event)) Event {
	for ev := range r.events {
		if on != nil {
			on(ev)
		}
		if ev.JobID() == id && terminal(ev) {
			return ev
		}
	}
	return nil
}

// emitLocked queues ev, replacing a queued progress event of the same type
// and job. r.mu is held.
func (r *Runner) emitLocked(ev Event) {
	if n := len(r.queue); n > 0 && coalescible(ev) {
		last := r.queue[n-1]
		if last.JobID() == ev.JobID() && sameKind(last, ev) {
			r.queue[n-1] = ev
			return
		}
	}
	r.queue = append(r.queue, ev)
	r.wake.Broadcast()
}

func (r *Runner) emit(ev Event) {
	r.mu.Lock()
	r.emitLocked(ev)
	r.mu.Unlock()
}

// forward hands queued events to the channel, one at a time.
func (r *Runner) forward() {
	for {
		r.mu.Lock()
		for len(r.queue) == 0 && !r.stopped() {
			r.wake.Wait()
		}
		if r.stopped() {
			r.mu.Unlock()
			close(r.events)
			return
		}
		ev := r.queue[0]
		r.queue[0] = nil
		r.queue = r.queue[1:]
		r.mu.Unlock()
		select {
		case r.events <- ev:
		case <-r.stop:
			close(r.events)
			return
		}
	}
}

// stopped reports whether Close has finished with the worker.
func (r *Runner) stopped() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// sameKind reports whether a and b are progress events of one type.
func sameKind(a, b Event) bool {
	switch a.(type) {
	case Prefill:
		_, ok := b.(Prefill)
		return ok
	case ContinuationProgress:
		_, ok := b.(ContinuationProgress)
		return ok
	}
	return false
}

// work runs one job at a time: the newest waiting one.
func (r *Runner) work() {
	defer func() {
		close(r.workerDone)
		r.mu.Lock()
		r.wake.Broadcast()
		r.mu.Unlock()
	}()
	for {
		r.mu.Lock()
		for r.pending == nil && !r.closed {
			r.wake.Wait()
		}
		if r.closed {
			r.mu.Unlock()
			return
		}
		req := r.pending
		r.pending = nil
		ctx, cancel := context.WithCancel(context.Background())
		r.cancel = cancel
		r.mu.Unlock()

		ev := r.run(ctx, req)
		cancel()
		r.mu.Lock()
		r.cancel = nil
		r.emitLocked(ev)
		r.mu.Unlock()
	}
}

// run executes one job and returns its terminal event.
func (r *Runner) run(ctx context.Context, req *request) (ev Event) {
	ref := JobRef{req.id}
	defer func() {
		if p := recover(); p != nil { // a bug must not take the UI down
			ev = Failed{ref, fmt.Errorf("internal error: %v", p)}
		}
	}()
	var err error
	if req.load != nil {
		ev, err = r.runLoad(ctx, ref, req.load)
	} else {
		ev, err = r.runSettings(ctx, ref, req.settings, req.opts)
	}
	switch {
	case err == nil:
		return ev
	case ctx.Err() != nil: // cancelled: whatever error that caused is not news
		return Cancelled{ref}
	}
	return Failed{ref, err}
}

func (r *Runner) runLoad(ctx context.Context, ref JobRef, spec *LoadSpec) (Event, error) {
	start := time.Now()
	r.emit(Prefill{JobRef: ref, Phase: "load"})
	if r.model != nil {
		r.model.Close()
		r.model, r.ex = nil, nil
	}
	m, err := spec.Open()
	if err != nil {
		return nil, err
	}
	r.model = m
	windows := spec.Input.Windows // 0: as many as the text holds, not known yet
	if spec.Input.Kind == "prompt" {
		r.emit(Prefill{JobRef: ref, Phase: "generate", Windows: 1, ElapsedMillis: ms(time.Since(start).Seconds())})
	}
	onProgress := func(p Progress) {
		r.emit(Prefill{JobRef: ref, Phase: p.Phase, Window: p.Window, Windows: windows, Done: p.Done, Total: p.Total,
			ElapsedMillis: ms(time.Since(start).Seconds())})
	}
	ex, src, err := Prepare(ctx, m, spec.Input, onProgress)
	if err != nil {
		return nil, err
	}
	ex.OnProgress = nil
	ex.Seed = spec.Seed
	r.ex = ex
	return Loaded{JobRef: ref, Explorer: ex, Source: src}, nil
}

func (r *Runner) runSettings(ctx context.Context, ref JobRef, s stages.Settings, opts RunOptions) (Event, error) {
	if r.ex == nil {
		return nil, fmt.Errorf("no model and text loaded yet")
	}
	h := Hooks{
		OnStage: func(w int, st stages.StageReport) { r.emit(StageDone{ref, w, st}) },
		OnPipeline: func(w int, rep stages.Report, packed *stages.Compressed) {
			r.emit(PipelineDone{ref, w, rep, packed})
		},
		OnContinuation: func(w, done, total int, nll, base float64) {
			r.emit(ContinuationProgress{ref, w, done, total, nll, base})
		},
		OnWindow: func(w int, wr WindowResult) { r.emit(WindowDone{ref, w, wr}) },
	}
	res, err := r.ex.RunWith(ctx, s, h)
	if err != nil {
		return nil, err
	}
	if opts.Greedy {
		r.emit(Scored{ref, res})
		d, err := r.ex.GreedyDiff(ctx, res.Packed)
		if err != nil {
			return nil, err
		}
		r.emit(GreedyDone{ref, d})
	}
	return Done{ref, res}, nil
}
