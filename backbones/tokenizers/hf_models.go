package tokenizers

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// The models of a tokenizer.json, each turning one pre-tokenised word into
// ids the way Hugging Face's `tokenizers` does. Unigram and BPE use the same
// algorithms as SentencePiece but not the same rules for ties, unknown
// characters and arithmetic, so they are written out here rather than mapped
// onto the SentencePiece encoders: Unigram scores in float64 over every
// vocabulary entry (control tokens included), BPE applies the file's merge
// list by rank instead of merging by piece score.

// maxHFVocabID bounds the ids a file may use, so that a corrupt file cannot
// make the loader allocate gigabytes for its id table.
const maxHFVocabID = 1 << 24

type hfModel interface {
	tokenize(word string) ([]int, error)
	tokenToID(token string) (int, bool)
	idToToken(id int) (string, bool)
	vocabSize() int
}

// hfVocab is the id ↔ token table every model has.
type hfVocab struct {
	ids    map[string]int
	tokens []string // by id; "" where no token has that id
	filled []bool
}

func (v *hfVocab) tokenToID(token string) (int, bool) {
	id, ok := v.ids[token]
	return id, ok
}

func (v *hfVocab) idToToken(id int) (string, bool) {
	if id < 0 || id >= len(v.tokens) || !v.filled[id] {
		return "", false
	}
	return v.tokens[id], true
}

// vocabSize is one more than the largest id.
func (v *hfVocab) vocabSize() int { return len(v.tokens) }

// readVocabMap reads a {"token": id} vocabulary (BPE, WordPiece, WordLevel).
func readVocabMap(raw json.RawMessage) (*hfVocab, error) {
	var entries map[string]int
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("model vocab: %w", err)
	}
	v := &hfVocab{ids: entries}
	maxID := -1
	for token, id := range entries {
		if id < 0 || id >= maxHFVocabID {
			return nil, fmt.Errorf("model vocab: token %q has id %d (want 0 ≤ id < %d)", token, id, maxHFVocabID)
		}
		maxID = max(maxID, id)
	}
	v.tokens = make([]string, maxID+1)
	v.filled = make([]bool, maxID+1)
	for token, id := range entries {
		// Two tokens with one id: keep the smaller, so lookups are deterministic.
		if !v.filled[id] || token < v.tokens[id] {
			v.tokens[id], v.filled[id] = token, true
		}
	}
	return v, nil
}

// byteFallbackIDs finds the <0xNN> tokens; -1 where one is missing.
func byteFallbackIDs(lookup func(string) (int, bool)) [256]int {
	var ids [256]int
	for b := range ids {
		ids[b] = -1
		if id, ok := lookup(bytePiece(byte(b))); ok {
			ids[b] = id
		}
	}
	return ids
}

// spellBytes returns the byte tokens of s, or false when one is missing
// (Hugging Face then falls back to the unknown token).
func spellBytes(byteIDs *[256]int, s string) ([]int, bool) {
	ids := make([]int, len(s))
	for i := 0; i < len(s); i++ {
		if ids[i] = byteIDs[s[i]]; ids[i] < 0 {
			return nil, false
		}
	}
	return ids, true
}

// hfUnigram is the Unigram model: Viterbi over all vocabulary matches,
// maximising the summed scores, unknown characters scored 10 below the
// lowest score and consecutive unknowns fused into one token.
type hfUnigram struct {
	hfVocab
	scores       []float64 // by id
	trie         *pieceTrie
	unkID        int // -1 when the file names none
	minScore     float64
	byteFallback bool
	byteIDs      [256]int
}

func newHFUnigram(cfg *hfModelConfig) (*hfUnigram, error) {
	var entries [][2]json.RawMessage
	if err := json.Unmarshal(cfg.Vocab, &entries); err != nil {
		return nil, fmt.Errorf("Unigram vocab (want [[token, score], ...]): %w", err)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("Unigram vocab is empty")
	}
	if len(entries) >= maxHFVocabID {
		return nil, fmt.Errorf("Unigram vocab has %d entries (at most %d)", len(entries), maxHFVocabID)
	}
	m := &hfUnigram{
		hfVocab:      hfVocab{ids: make(map[string]int, len(entries)), tokens: make([]string, len(entries)), filled: make([]bool, len(entries))},
		scores:       make([]float64, len(entries)),
		unkID:        -1,
		minScore:     math.Inf(1),
		byteFallback: cfg.ByteFallback,
	}
	for id, entry := range entries {
		var token string
		if err := json.Unmarshal(entry[0], &token); err != nil {
			return nil, fmt.Errorf("Unigram vocab entry %d: token: %w", id, err)
		}
		if err := json.Unmarshal(entry[1], &m.scores[id]); err != nil {
			return nil, fmt.Errorf("Unigram vocab entry %d: score: %w", id, err)
		}
		m.tokens[id], m.filled[id] = token, true
		m.ids[token] = id // a repeated token keeps its last id, as in Hugging Face
		m.minScore = min(m.minScore, m.scores[id])
	}
	builder := newPieceTrieBuilder()
	for token, id := range m.ids {
		builder.insert(token, id)
	}
	m.trie = builder.freeze()
	if cfg.UnkID != nil {
		if *cfg.UnkID < 0 || *cfg.UnkID >= len(entries) {
			return nil, fmt.Errorf("Unigram unk_id %d is outside the %d-entry vocab", *cfg.UnkID, len(entries))
		}
		m.unkID = *cfg.UnkID
	}
	m.byteIDs = byteFallbackIDs(m.tokenToID)
	return m, nil
}

func (m *hfUnigram) tokenize(word string) ([]int, error) {
	pieces, err := m.segment(word)
	if err != nil {
		return nil, err
	}
	ids := make([]int, 0, len(pieces))
	for _, piece := range pieces {
		if id, ok := m.ids[piece]; ok {
			ids = append(ids, id)
			continue
		}
		if m.byteFallback {
			if bytes, ok := spellBytes(&m.byteIDs, piece); ok {
				ids = append(ids, bytes...)
				continue
			}
		}
		if m.unkID < 0 {
			return nil, fmt.Errorf("Unigram: %q is not in the vocabulary and the model has no unk_id", piece)
		}
		ids = append(ids, m.unkID)
	}
	return ids, nil
}

// segment returns the best segmentation of word as strings, unknown runs
// fused (their strings are then not vocabulary tokens).
func (m *hfUnigram) segment(word string) ([]string, error) {
	size := len(word)
	if size == 0 {
		return nil, nil
	}
	type node struct {
		score    float64
		startsAt int // -1 while no path reaches here
		id       int
	}
	best := make([]node, size+1)
	for i := range best {
		best[i].startsAt = -1
	}
	unkScore := m.minScore - float64(unkPenalty)
	for startsAt := 0; startsAt < size; {
		scoreTillHere := best[startsAt].score
		charLen := min(utf8CharLen(word[startsAt]), size-startsAt)
		hasSingleNode := false
		trieNode := trieRoot
		for keyPos := startsAt; keyPos < size; {
			trieNode = m.trie.step(trieNode, word[keyPos])
			keyPos++
			if trieNode < 0 {
				break
			}
			id := int(m.trie.pieceAt(trieNode))
			if id < 0 {
				continue
			}
			candidate := m.scores[id] + scoreTillHere
			if target := &best[keyPos]; target.startsAt < 0 || candidate > target.score {
				*target = node{score: candidate, startsAt: startsAt, id: id}
			}
			if keyPos-startsAt == charLen {
				hasSingleNode = true
			}
		}
		if !hasSingleNode {
			if m.unkID < 0 {
				return nil, fmt.Errorf("Unigram: %q is not in the vocabulary and the model has no unk_id", word[startsAt:startsAt+charLen])
			}
			candidate := unkScore + scoreTillHere
			if target := &best[startsAt+charLen]; target.startsAt < 0 || candidate > target.score {
				*target = node{score: candidate, startsAt: startsAt, id: m.unkID}
			}
		}
		startsAt += charLen
	}
	var reversed []string
	unkEnd := -1 // end of the run of unknowns being fused, or -1
	for end := size; end > 0; {
		n := best[end]
		if n.id == m.unkID {
			if unkEnd < 0 {
				unkEnd = end
			}
		} else {
			if unkEnd >= 0 {
				reversed = append(reversed, word[end:unkEnd])
				unkEnd = -1
			}
			reversed = append(reversed, word[n.startsAt:end])
		}
		end = n.startsAt
	}
	if unkEnd >= 0 {
		reversed = append(reversed, word[:unkEnd])
	}
	for i, j := 0, len(reversed)-1; i < j; i, j = i+1, j-1 {
		reversed[i], reversed[j] = reversed[j], reversed[i]
	}
	return reversed, nil
}

// hfBPE is the BPE model: a word starts as its characters (or their byte
// tokens, or the unknown token), then the merge with the lowest rank
// anywhere in the word is applied, leftmost first, until none applies.
type hfBPE struct {
	*hfVocab
	merges       map[[2]int]hfMerge
	unkID        int // -1 when the file names no unk_token
	fuseUnk      bool
	byteFallback bool
	byteIDs      [256]int
	prefix       string // continuing_subword_prefix
	suffix       string // end_of_word_suffix
	ignoreMerges bool
}

type hfMerge struct{ rank, newID int }

func newHFBPE(cfg *hfModelConfig) (*hfBPE, error) {
	if cfg.Dropout != nil && *cfg.Dropout > 0 {
		return nil, fmt.Errorf("BPE dropout %v: %w (it makes encoding random)", *cfg.Dropout, errUnsupported)
	}
	vocab, err := readVocabMap(cfg.Vocab)
	if err != nil {
		return nil, err
	}
	m := &hfBPE{hfVocab: vocab, unkID: -1, fuseUnk: cfg.FuseUnk, byteFallback: cfg.ByteFallback, ignoreMerges: cfg.IgnoreMerges}
	if cfg.ContinuingSubwordPrefix != nil {
		m.prefix = *cfg.ContinuingSubwordPrefix
	}
	if cfg.EndOfWordSuffix != nil {
		m.suffix = *cfg.EndOfWordSuffix
	}
	if cfg.UnkToken != nil {
		id, ok := vocab.ids[*cfg.UnkToken]
		if !ok {
			return nil, fmt.Errorf("BPE unk_token %q is not in the vocab", *cfg.UnkToken)
		}
		m.unkID = id
	}
	pairs, err := readMerges(cfg.Merges)
	if err != nil {
		return nil, err
	}
	m.merges = make(map[[2]int]hfMerge, len(pairs))
	for rank, pair := range pairs {
		left, okLeft := vocab.ids[pair[0]]
		right, okRight := vocab.ids[pair[1]]
		if !okLeft || !okRight {
			return nil, fmt.Errorf("BPE merge %d (%q %q): token not in the vocab", rank+1, pair[0], pair[1])
		}
		second := pair[1]
		if m.prefix != "" {
			second = strings.TrimPrefix(second, m.prefix)
		}
		merged, ok := vocab.ids[pair[0]+second]
		if !ok {
			return nil, fmt.Errorf("BPE merge %d (%q %q): %q is not in the vocab", rank+1, pair[0], pair[1], pair[0]+second)
		}
		m.merges[[2]int{left, right}] = hfMerge{rank: rank, newID: merged} // a repeated pair keeps its last rank
	}
	m.byteIDs = byteFallbackIDs(m.tokenToID)
	return m, nil
}

// readMerges accepts both spellings: "a b" strings (older files; a string
// that does not split into exactly two parts is an error, as in Hugging
// Face) and [a, b] pairs.
func readMerges(raw json.RawMessage) ([][2]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("BPE merges: %w", err)
	}
	pairs := make([][2]string, len(items))
	for i, item := range items {
		var line string
		if json.Unmarshal(item, &line) == nil {
			parts := strings.Split(line, " ")
			if len(parts) != 2 {
				return nil, fmt.Errorf("BPE merges: entry %d %q is not two tokens separated by one space", i+1, line)
			}
			pairs[i] = [2]string{parts[0], parts[1]}
			continue
		}
		var pair []string
		if err := json.Unmarshal(item, &pair); err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("BPE merges: entry %d is neither \"a b\" nor [a, b]", i+1)
		}
		pairs[i] = [2]string{pair[0], pair[1]}
	}
	return pairs, nil
}

// bpeWordSymbol is one symbol of a word being merged; a symbol merged into
// its left neighbour gets length 0.
type bpeWordSymbol struct {
	id, length int
	prev, next int
}

func (m *hfBPE) tokenize(word string) ([]int, error) {
	if word == "" {
		return nil, nil
	}
	if m.ignoreMerges {
		if id, ok := m.ids[word]; ok {
			return []int{id}, nil
		}
	}
	symbols := make([]bpeWordSymbol, 0, len(word))
	add := func(id, length int) {
		symbols = append(symbols, bpeWordSymbol{id: id, length: length, prev: len(symbols) - 1, next: len(symbols) + 1})
	}
	unkLen := 0 // pending (fused) unknown run, in bytes; 0 when none
	for i, size := 0, 0; i < len(word); i += size {
		_, size = utf8.DecodeRuneInString(word[i:])
		char := word[i : i+size]
		token := char
		if i > 0 {
			token = m.prefix + token
		}
		if i+len(char) == len(word) {
			token += m.suffix
		}
		if id, ok := m.ids[token]; ok {
			if unkLen > 0 {
				add(m.unkID, unkLen)
				unkLen = 0
			}
			add(id, len(char))
			continue
		}
		if m.byteFallback {
			if ids, ok := spellBytes(&m.byteIDs, token); ok {
				if unkLen > 0 {
					add(m.unkID, unkLen)
					unkLen = 0
				}
				for _, id := range ids {
					add(id, 1)
				}
				continue
			}
		}
		if m.unkID < 0 {
			return nil, fmt.Errorf("BPE: %q is not in the vocabulary and the model has no unk_token", char)
		}
		if unkLen > 0 && !m.fuseUnk {
			add(m.unkID, unkLen)
			unkLen = 0
		}
		unkLen += len(char)
	}
	if unkLen > 0 {
		add(m.unkID, unkLen)
	}
	symbols[len(symbols)-1].next = -1
	m.mergeAll(symbols)
	ids := make([]int, 0, len(symbols))
	for _, s := range symbols {
		if s.length > 0 {
			ids = append(ids, s.id)
		}
	}
	return ids, nil
}

// bpeQueued is a merge waiting in the queue: lowest rank first, then leftmost.
type bpeQueued struct{ pos, rank, newID int }

func (m *hfBPE) mergeAll(symbols []bpeWordSymbol) {
	var queue priorityQueue[bpeQueued]
	for i := 0; i+1 < len(symbols); i++ {
		if merge, ok := m.merges[[2]int{symbols[i].id, symbols[i+1].id}]; ok {
			queue.push(bpeQueued{pos: i, rank: merge.rank, newID: merge.newID})
		}
	}
	for len(queue) > 0 {
		top := queue.pop()
		current := &symbols[top.pos]
		if current.length == 0 || current.next < 0 {
			continue
		}
		nextPos := current.next
		right := symbols[nextPos]
		// A queued merge is stale when either side has changed since.
		if merge, ok := m.merges[[2]int{current.id, right.id}]; !ok || merge.newID != top.newID {
			continue
		}
		current.id = top.newID
		current.length += right.length
		current.next = right.next
		symbols[nextPos].length = 0
		if right.next >= 0 {
			symbols[right.next].prev = top.pos
		}
		if current.prev >= 0 {
			if merge, ok := m.merges[[2]int{symbols[current.prev].id, current.id}]; ok {
				queue.push(bpeQueued{pos: current.prev, rank: merge.rank, newID: merge.newID})
			}
		}
		if current.next >= 0 {
			if merge, ok := m.merges[[2]int{current.id, symbols[current.next].id}]; ok {
				queue.push(bpeQueued{pos: top.pos, rank: merge.rank, newID: merge.newID})
			}
		}
	}
}

// before orders the merge queue (a priorityQueue): lowest rank first, then leftmost.
func (a bpeQueued) before(b bpeQueued) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.pos < b.pos
}
