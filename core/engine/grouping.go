package engine

import (
	"math/rand/v2"
	"sort"
)

// GroupWindow is how many batches' worth of examples a length-grouped epoch sorts together:
// large enough that a batch's rows have similar lengths, small enough that batches still mix
// the data (HF's LengthGroupedSampler uses mega-batches of 50 batches).
const GroupWindow = 50

// LengthGroupedBatches is one epoch of batches in which rows have similar lengths: a seeded
// shuffle, cut into windows of GroupWindow·batch examples, each window sorted by length
// (longest first) and cut into batches, the batches' order shuffled. Every example appears
// once; the last batch of a window may be smaller. Padding each batch to its longest row then
// wastes little, and since padding is exact, no row's loss changes — only which rows share
// a batch.
func LengthGroupedBatches(lengths []int, batch int, rng *rand.Rand) [][]int {
	order := rng.Perm(len(lengths))
	var batches [][]int
	win := batch * GroupWindow
	for s := 0; s < len(order); s += win {
		w := append([]int(nil), order[s:min(s+win, len(order))]...)
		sort.SliceStable(w, func(a, b int) bool { return lengths[w[a]] > lengths[w[b]] })
		for b := 0; b < len(w); b += batch {
			batches = append(batches, w[b:min(b+batch, len(w))])
		}
	}
	rng.Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })
	return batches
}

// PaddedPositions counts the source positions an epoch processes (rows × their batch's padded
// length) when batches are padded to maxLen, to their longest row with random batches, and to
// their longest row with length-grouped batches.
type PaddedPositions struct {
	PadToMax int `json:"pad_to_max"`
	Dynamic  int `json:"dynamic"`
	Grouped  int `json:"grouped"`
}

// CountPaddedPositions measures one epoch of each batching (seeded).
func CountPaddedPositions(lengths []int, batch, maxLen int, seed int64) PaddedPositions {
	cost := func(batches [][]int) int {
		n := 0
		for _, b := range batches {
			longest := 0
			for _, i := range b {
				longest = max(longest, min(lengths[i], maxLen))
			}
			n += longest * len(b)
		}
		return n
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	perm := rng.Perm(len(lengths))
	var random [][]int
	for s := 0; s < len(perm); s += batch {
		random = append(random, perm[s:min(s+batch, len(perm))])
	}
	return PaddedPositions{
		PadToMax: len(lengths) * maxLen,
		Dynamic:  cost(random),
		Grouped:  cost(LengthGroupedBatches(lengths, batch, rand.New(rand.NewPCG(uint64(seed), 2)))),
	}
}
