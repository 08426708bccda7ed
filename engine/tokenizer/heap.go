package tokenizer

// ordered is implemented by the bigram types the merge loops queue.
type ordered[T any] interface {
	// before reports whether the receiver is merged before x.
	before(x T) bool
}

// queue is a binary heap that pops the element ordered first.
type queue[T ordered[T]] struct{ a []T }

func (q *queue[T]) len() int { return len(q.a) }

func (q *queue[T]) reset() { q.a = q.a[:0] }

func (q *queue[T]) push(x T) {
	q.a = append(q.a, x)
	i := len(q.a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.a[i].before(q.a[p]) {
			break
		}
		q.a[i], q.a[p] = q.a[p], q.a[i]
		i = p
	}
}

func (q *queue[T]) pop() T {
	top := q.a[0]
	last := len(q.a) - 1
	q.a[0] = q.a[last]
	q.a = q.a[:last]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < last && q.a[l].before(q.a[m]) {
			m = l
		}
		if r := l + 1; r < last && q.a[r].before(q.a[m]) {
			m = r
		}
		if m == i {
			break
		}
		q.a[i], q.a[m] = q.a[m], q.a[i]
		i = m
	}
	return top
}
