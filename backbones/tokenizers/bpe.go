package tokenizers

// bpeModel reproduces SentencePiece's BPE encoder. SentencePiece stores no
// merge list: a merge of two adjacent symbols is allowed when their
// concatenation is a vocabulary piece, and among all allowed merges the one
// whose resulting piece has the highest score is applied first (ties go to
// the leftmost). Characters that never merge and are not in the vocabulary
// come out as <unk>, which the processor then turns into byte pieces when
// the model has byte fallback (Llama-2 does).
type bpeModel struct {
	pieces      []ModelPiece
	pieceIDs    map[string]int // normal, user-defined and unused pieces
	reservedIDs map[string]int // control, unknown and byte pieces
	userDefined *pieceTrie     // nil when the model has no user-defined pieces
	unkID       int
	hasUnused   bool // whether resegmentation of unused pieces can be needed
}

// bpeSymbol is a node of the doubly linked list of current symbols; a symbol
// emptied by a merge keeps end == start.
type bpeSymbol struct {
	start, end int
	prev, next int
	frozen     bool // user-defined symbols never merge with neighbours
}

// bpeCandidate is a possible merge of symbols left and right. It is stale
// when either side has changed length since it was queued.
type bpeCandidate struct {
	left, right int
	score       float32
	size        int // byte length of the merged piece when it was queued
}

// before orders the agenda (a priorityQueue): best score first, then leftmost.
func (a bpeCandidate) before(b bpeCandidate) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.left < b.left
}

func (m *bpeModel) pieceToID(piece string) int {
	if id, ok := m.reservedIDs[piece]; ok {
		return id
	}
	if id, ok := m.pieceIDs[piece]; ok {
		return id
	}
	return m.unkID
}

func (m *bpeModel) encode(normalized string) []segment {
	if normalized == "" {
		return nil
	}
	// Split into characters, keeping user-defined symbols whole.
	symbols := make([]bpeSymbol, 0, len(normalized))
	for pos := 0; pos < len(normalized); {
		length, frozen := 0, false
		if m.userDefined != nil {
			if l, id := m.userDefined.longestPrefix(normalized[pos:]); id >= 0 {
				length, frozen = l, true
			}
		}
		if length == 0 {
			length = min(utf8CharLen(normalized[pos]), len(normalized)-pos)
		}
		index := len(symbols)
		symbols = append(symbols, bpeSymbol{start: pos, end: pos + length, prev: index - 1, next: index + 1, frozen: frozen})
		pos += length
	}
	symbols[len(symbols)-1].next = -1

	var unusedMerges map[string][2]string // merged piece → its two halves
	agenda := make(priorityQueue[bpeCandidate], 0, len(symbols))
	considerMerge := func(left, right int) {
		if left < 0 || right < 0 || symbols[left].frozen || symbols[right].frozen {
			return
		}
		merged := normalized[symbols[left].start:symbols[right].end]
		id, ok := m.pieceIDs[merged]
		if !ok {
			return
		}
		agenda.push(bpeCandidate{left: left, right: right, score: m.pieces[id].Score, size: len(merged)})
		if m.pieces[id].Type == PieceUnused {
			if unusedMerges == nil {
				unusedMerges = make(map[string][2]string)
			}
			unusedMerges[merged] = [2]string{
				normalized[symbols[left].start:symbols[left].end],
				normalized[symbols[right].start:symbols[right].end],
			}
		}
	}
	for i := 1; i < len(symbols); i++ {
		considerMerge(i-1, i)
	}

	for len(agenda) > 0 {
		top := agenda.pop()
		left, right := &symbols[top.left], &symbols[top.right]
		leftLen, rightLen := left.end-left.start, right.end-right.start
		if leftLen == 0 || rightLen == 0 || leftLen+rightLen != top.size {
			continue // one side was merged away since this was queued
		}
		left.end = right.end
		left.next = right.next
		if right.next >= 0 {
			symbols[right.next].prev = top.left
		}
		right.end = right.start
		considerMerge(left.prev, top.left)
		considerMerge(top.left, left.next)
	}

	segments := make([]segment, 0, len(symbols))
	for i := 0; i != -1; i = symbols[i].next {
		segments = m.resegment(normalized, symbols[i].start, symbols[i].end, unusedMerges, segments)
	}
	return segments
}

// resegment emits normalized[start:end], splitting pieces marked unused
// back into the halves they were merged from, since unused pieces must
// never appear in the output.
func (m *bpeModel) resegment(normalized string, start, end int, unusedMerges map[string][2]string, out []segment) []segment {
	piece := normalized[start:end]
	id := m.pieceToID(piece)
	if !m.hasUnused || m.pieces[id].Type != PieceUnused {
		return append(out, segment{start: start, end: end, id: id})
	}
	halves, ok := unusedMerges[piece]
	if !ok {
		return append(out, segment{start: start, end: end, id: id})
	}
	mid := start + len(halves[0])
	out = m.resegment(normalized, start, mid, unusedMerges, out)
	return m.resegment(normalized, mid, end, unusedMerges, out)
}
