package tokenizers

// priorityQueue is a binary heap whose first element is the one that comes before every
// other (T's before). Both BPE encoders (SentencePiece's and tokenizer.json's) keep their merge
// candidates in one; generic rather than container/heap, which boxes every element in an
// interface on this hot path.
type priorityQueue[T interface{ before(T) bool }] []T

func (q *priorityQueue[T]) push(x T) {
	*q = append(*q, x)
	h := *q
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h[i].before(h[parent]) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func (q *priorityQueue[T]) pop() T {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		left, right, first := 2*i+1, 2*i+2, i
		if left < len(h) && h[left].before(h[first]) {
			first = left
		}
		if right < len(h) && h[right].before(h[first]) {
			first = right
		}
		if first == i {
			break
		}
		h[i], h[first] = h[first], h[i]
		i = first
	}
	*q = h
	return top
}
