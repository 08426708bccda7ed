package stages

import (
	"fmt"
	"time"
)

// defaultMemo is how many recent outputs a Pipeline keeps per stage unless
// SetMemo says otherwise.
const defaultMemo = 4

// stageOut is what every stage output carries: the sums behind its relative
// errors and the time spent measuring them.
type stageOut interface{ sums() *errSums }

// memoEntry is one stage output with the stage key it was computed under and
// its report (Name, RelErrK/V, Duration; Bytes and Cached are filled per Run).
type memoEntry[T stageOut] struct {
	key string
	out T
	rep StageReport
}

// memo is a stage's most recent outputs, most recently used first: a small
// LRU keyed by the stage's stageKeys entry. Keys are chained (key i includes
// every earlier stage's key), so a key alone identifies the output.
type memo[T stageOut] struct {
	entries []memoEntry[T]
}

// get returns the entry under key and makes it the most recent.
func (m *memo[T]) get(key string) (memoEntry[T], bool) {
	for i, e := range m.entries {
		if e.key == key {
			copy(m.entries[1:i+1], m.entries[:i])
			m.entries[0] = e
			return e, true
		}
	}
	return memoEntry[T]{}, false
}

// put adds e as the most recent entry, dropping the least recent ones beyond
// n (n >= 1). e.key must not be held already (put follows a missed get).
func (m *memo[T]) put(e memoEntry[T], n int) {
	m.entries = append(m.entries, memoEntry[T]{})
	copy(m.entries[1:], m.entries)
	m.entries[0] = e
	m.trim(n)
}

// trim drops the least recent entries beyond n.
func (m *memo[T]) trim(n int) {
	for len(m.entries) > n {
		m.entries[len(m.entries)-1] = memoEntry[T]{} // let the output be collected
		m.entries = m.entries[:len(m.entries)-1]
	}
}

// recent returns the most recently used output (the last successful Run's
// when that Run reached the stage), or the zero T when there is none.
func (m *memo[T]) recent() T {
	if len(m.entries) == 0 {
		var zero T
		return zero
	}
	return m.entries[0].out
}

// runStage serves stage i from m when its key (rs.keys[i]) is there, else
// runs it, counts the run (Runs, rs.reran) and stores the output. It returns
// the output and the stage's report without Bytes (the caller adds them with
// rs.done), Cached set when the output came from the memo.
func runStage[T stageOut](p *Pipeline, rs *runState, m *memo[T], i int, run func() (T, error)) (T, StageReport, error) {
	name := StageNames[i]
	if e, ok := m.get(rs.keys[i]); ok {
		rep := e.rep
		rep.Cached = true
		return e.out, rep, nil
	}
	start := time.Now()
	out, err := run()
	if err != nil {
		var zero T
		return zero, StageReport{}, fmt.Errorf("stage %s: %w", name, err)
	}
	p.countRun(name)
	rs.reran = append(rs.reran, name)
	rep := StageReport{Name: name}
	rep.setDuration(time.Since(start) - out.sums().measure)
	rep.RelErrK, rep.RelErrV = out.sums().relErrs()
	if n, ok := any(out).(interface{ note() string }); ok {
		rep.Note = n.note()
	}
	m.put(memoEntry[T]{key: rs.keys[i], out: out, rep: rep}, p.memoCap)
	return out, rep, nil
}
