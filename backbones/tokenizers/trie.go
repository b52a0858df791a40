package tokenizers

import "sort"

// pieceTrie maps byte strings to piece ids and can be walked one byte at a
// time. Both encoders need "every vocabulary piece that starts here", which
// a walk answers in one pass instead of one map lookup per candidate length.
//
// Nodes are frozen into flat slices after building: each node's outgoing
// edges are a contiguous, label-sorted run in edgeLabels/edgeTargets. The
// root, visited once per input position, gets a direct 256-entry table.
type pieceTrie struct {
	nodeFirstEdge []int32 // index into edge slices
	nodeEdgeCount []uint16
	nodePieceID   []int32 // -1 when no piece ends at this node
	edgeLabels    []byte
	edgeTargets   []int32
	rootTable     [256]int32 // child of root per byte, -1 when absent
}

const trieRoot int32 = 0

// pieceTrieBuilder collects entries in a pointer-friendly form before freezing.
type pieceTrieBuilder struct {
	children []map[byte]int32
	pieceID  []int32
}

func newPieceTrieBuilder() *pieceTrieBuilder {
	return &pieceTrieBuilder{children: []map[byte]int32{nil}, pieceID: []int32{-1}}
}

// insert records key → id. An empty key is ignored (it could never be matched
// by a walk that consumes at least one byte). Re-inserting keeps the first id,
// matching SentencePiece, which rejects duplicates.
func (b *pieceTrieBuilder) insert(key string, id int) {
	if key == "" {
		return
	}
	node := trieRoot
	for i := 0; i < len(key); i++ {
		next, ok := b.children[node][key[i]]
		if !ok {
			next = int32(len(b.pieceID))
			b.children = append(b.children, nil)
			b.pieceID = append(b.pieceID, -1)
			if b.children[node] == nil {
				b.children[node] = make(map[byte]int32, 2)
			}
			b.children[node][key[i]] = next
		}
		node = next
	}
	if b.pieceID[node] < 0 {
		b.pieceID[node] = int32(id)
	}
}

func (b *pieceTrieBuilder) freeze() *pieceTrie {
	n := len(b.pieceID)
	t := &pieceTrie{
		nodeFirstEdge: make([]int32, n),
		nodeEdgeCount: make([]uint16, n),
		nodePieceID:   append([]int32(nil), b.pieceID...),
	}
	labels := make([]byte, 0, 256)
	for node := 0; node < n; node++ {
		labels = labels[:0]
		for label := range b.children[node] {
			labels = append(labels, label)
		}
		sort.Slice(labels, func(i, j int) bool { return labels[i] < labels[j] })
		t.nodeFirstEdge[node] = int32(len(t.edgeLabels))
		t.nodeEdgeCount[node] = uint16(len(labels))
		for _, label := range labels {
			t.edgeLabels = append(t.edgeLabels, label)
			t.edgeTargets = append(t.edgeTargets, b.children[node][label])
		}
	}
	for i := range t.rootTable {
		t.rootTable[i] = -1
	}
	for label, target := range b.children[trieRoot] {
		t.rootTable[label] = target
	}
	return t
}

// step follows the edge labelled c from node, returning -1 when there is none.
func (t *pieceTrie) step(node int32, c byte) int32 {
	if node == trieRoot {
		return t.rootTable[c]
	}
	first := int(t.nodeFirstEdge[node])
	labels := t.edgeLabels[first : first+int(t.nodeEdgeCount[node])]
	// Most nodes have a handful of children; a linear scan beats binary
	// search there.
	if len(labels) <= 8 {
		for i, label := range labels {
			if label == c {
				return t.edgeTargets[first+i]
			}
		}
		return -1
	}
	lo, hi := 0, len(labels)
	for lo < hi {
		mid := (lo + hi) / 2
		if labels[mid] < c {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(labels) && labels[lo] == c {
		return t.edgeTargets[first+lo]
	}
	return -1
}

// pieceAt returns the id of the piece ending at node, or -1.
func (t *pieceTrie) pieceAt(node int32) int32 { return t.nodePieceID[node] }

// longestPrefix returns the byte length and id of the longest key that is a
// prefix of s, or (0, -1) when none is.
func (t *pieceTrie) longestPrefix(s string) (length int, id int) {
	length, id = 0, -1
	node := trieRoot
	for i := 0; i < len(s); i++ {
		node = t.step(node, s[i])
		if node < 0 {
			break
		}
		if pid := t.nodePieceID[node]; pid >= 0 {
			length, id = i+1, int(pid)
		}
	}
	return length, id
}
