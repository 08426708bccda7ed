package eval

import "nexusquant/stages"

// Event is one thing a Runner reports about a job. Every event names its job;
// a consumer that started a newer job ignores the older one's events.
//
// The concrete types are the ones in this file. Progress events (Prefill,
// ContinuationProgress) may be coalesced when the consumer falls behind:
// only the newest one of a run of them is delivered. Every other event is
// delivered, and each job ends with exactly one of Done, Failed or Cancelled.
type Event interface {
	// JobID is the job the event belongs to (Runner.Load and Runner.Submit
	// return it).
	JobID() uint64
	event()
}

// JobRef carries the job number of an event.
type JobRef struct{ Job uint64 }

// JobID implements Event.
func (j JobRef) JobID() uint64 { return j.Job }
func (JobRef) event()          {}

// Prefill reports progress while a load job prefills the windows and computes
// their baselines. Phase is "load", "generate", "prefill" or "baseline";
// Done counts layers of Total within the window; Windows is 0 when the
// number of windows is not known yet; ElapsedMillis is the job's time so far.
type Prefill struct {
	JobRef
	Phase         string
	Window        int
	Windows       int
	Done, Total   int
	ElapsedMillis float64
}

// Loaded ends a successful load job: the explorer is ready for Submit.
type Loaded struct {
	JobRef
	Explorer *Explorer
	Source   *Source
}

// StageDone reports one pipeline stage of a window, finished or served from
// the memo (Stage.Cached).
type StageDone struct {
	JobRef
	Window int
	Stage  stages.StageReport
}

// PipelineDone is a window's pipeline report, sent before its continuation
// starts: every byte figure of the run is known from here on.
type PipelineDone struct {
	JobRef
	Window int
	Report stages.Report
	Packed *stages.Compressed
}

// ContinuationProgress reports the teacher-forced continuation of a window:
// Done of Total tokens scored, with the running mean NLL of the compressed
// and the baseline run over them (nats).
type ContinuationProgress struct {
	JobRef
	Window      int
	Done, Total int
	NLL         float64
	BaseNLL     float64
}

// WindowDone carries one window's figures.
type WindowDone struct {
	JobRef
	Window int
	Result WindowResult
}

// Scored carries a run's final figures as soon as they are known, before the
// greedy continuation of RunOptions.Greedy is generated; Done follows.
type Scored struct {
	JobRef
	Result *Result
}

// GreedyDone carries the greedy continuations of window 0 from the packed
// cache and from the baseline, when the job asked for them.
type GreedyDone struct {
	JobRef
	Diff *TextDiff
}

// Done ends a successful run job.
type Done struct {
	JobRef
	Result *Result
}

// Failed ends a job that returned an error.
type Failed struct {
	JobRef
	Err error
}

// Cancelled ends a job that a newer one (or Runner.Cancel/Close) replaced,
// including one that never started.
type Cancelled struct{ JobRef }

// terminal reports whether ev ends its job.
func terminal(ev Event) bool {
	switch ev.(type) {
	case Done, Failed, Cancelled, Loaded:
		return true
	}
	return false
}

// coalescible reports whether ev may be replaced by a newer event of the
// same type and job.
func coalescible(ev Event) bool {
	switch ev.(type) {
	case Prefill, ContinuationProgress:
		return true
	}
	return false
}
