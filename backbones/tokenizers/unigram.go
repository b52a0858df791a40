package tokenizers

// segment is one piece of an encoder's output: the byte range it covers in
// the normalised string and the vocabulary id it was matched to.
type segment struct {
	start, end int
	id         int
}

// unkPenalty is how much worse than the worst real piece an unknown
// character scores, so the Viterbi path uses <unk> only when nothing else
// covers a character (SentencePiece's kUnkPenalty).
const unkPenalty float32 = 10.0

// unigramModel segments by maximising the summed log-probability scores of
// the pieces (Viterbi over the lattice of all vocabulary matches). It is a
// transcription of SentencePiece's optimised unigram encoder, including its
// mix of float and double arithmetic and its tie-breaking order, because a
// different but equally good segmentation would still give different ids.
type unigramModel struct {
	pieces   []ModelPiece
	trie     *pieceTrie // normal, user-defined and unused pieces
	unkID    int
	minScore float32 // over normal pieces; sets the unknown-character score
	maxScore float32 // over normal pieces; user-defined pieces beat any path
}

func newUnigramModel(pieces []ModelPiece, trie *pieceTrie, unkID int) *unigramModel {
	m := &unigramModel{pieces: pieces, trie: trie, unkID: unkID}
	first := true
	for _, p := range pieces {
		if p.Type != PieceNormal {
			continue
		}
		if first || p.Score < m.minScore {
			m.minScore = p.Score
		}
		if first || p.Score > m.maxScore {
			m.maxScore = p.Score
		}
		first = false
	}
	return m
}

// bestPathEnd is the best path found so far that ends at one byte offset.
type bestPathEnd struct {
	score    float32 // total score of the path, stored as float like the reference
	startsAt int32   // where its last piece starts; -1 while no path reaches here
	id       int32   // id of its last piece
}

// utf8CharLen is SentencePiece's OneCharLen: the sequence length implied by a
// lead byte (stray continuation bytes count as one-byte characters).
func utf8CharLen(lead byte) int {
	switch {
	case lead < 0xC0:
		return 1
	case lead < 0xE0:
		return 2
	case lead < 0xF0:
		return 3
	default:
		return 4
	}
}

func (m *unigramModel) encode(normalized string) []segment {
	size := len(normalized)
	if size == 0 {
		return nil
	}
	unkScore := m.minScore - unkPenalty
	best := make([]bestPathEnd, size+1)
	for i := range best {
		best[i].startsAt = -1
	}
	best[0].score = 0

	for startsAt := 0; startsAt < size; {
		scoreTillHere := best[startsAt].score
		charLen := min(utf8CharLen(normalized[startsAt]), size-startsAt)
		coveredByPiece := false

		node := trieRoot
		for keyPos := startsAt; keyPos < size; {
			node = m.trie.step(node, normalized[keyPos])
			keyPos++
			if node < 0 {
				break
			}
			id := m.trie.pieceAt(node)
			if id < 0 || m.pieces[id].Type == PieceUnused {
				continue
			}
			length := keyPos - startsAt
			// The reference computes this in double (the user-defined
			// branch is a double expression), then stores a float.
			var score float64
			if m.pieces[id].Type == PieceUserDefined {
				score = float64(float32(length)*m.maxScore) - 0.1
			} else {
				score = float64(m.pieces[id].Score)
			}
			candidate := score + float64(scoreTillHere)
			target := &best[keyPos]
			if target.startsAt == -1 || candidate > float64(target.score) {
				target.score = float32(candidate)
				target.startsAt = int32(startsAt)
				target.id = id
			}
			if length == charLen {
				coveredByPiece = true
			}
		}

		if !coveredByPiece {
			candidate := unkScore + scoreTillHere
			target := &best[startsAt+charLen]
			if target.startsAt == -1 || candidate > target.score {
				target.score = candidate
				target.startsAt = int32(startsAt)
				target.id = int32(m.unkID)
			}
		}
		startsAt += charLen
	}

	count := 0
	for end := size; end > 0; end = int(best[end].startsAt) {
		count++
	}
	segments := make([]segment, count)
	for end := size; end > 0; end = int(best[end].startsAt) {
		count--
		segments[count] = segment{start: int(best[end].startsAt), end: end, id: int(best[end].id)}
	}
	return segments
}
