package tasks

import (
	"fmt"
	"math/bits"
	"math/rand/v2"

	"github.com/ptbench/ptbench/core/data"
)

// SplitSeed is the protocol's seed for every split shuffle ("seed 42 shuffles").
const SplitSeed = 42

// newRNG is the generator behind k-shot sampling and the synthetic tasks (not the splits):
// math/rand/v2's PCG seeded with (seed, stream). PCG's output sequence is fixed by its
// published algorithm, so samples stay identical across Go releases.
func newRNG(seed int64, stream uint64) *rand.PCG {
	return rand.NewPCG(uint64(seed), stream)
}

// permute returns a random permutation of 0..n-1 by Fisher–Yates from the back: for i =
// n-1 down to 1, j = the high 64 bits of rng.Uint64() × (i+1) (Lemire's multiply-shift
// without rejection; its bias, below (i+1)/2^64, is irrelevant here), then swap i and j.
// Written out rather than calling rand.Shuffle so the exact permutation is part of this
// package's documented behaviour.
func permute(rng *rand.PCG, n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j, _ := bits.Mul64(rng.Uint64(), uint64(i+1))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// Permutation is the split shuffle: torch.randperm(n) under a generator seeded with seed,
// exactly as the reference code draws it (TorchRandperm), so that dev and test hold the
// examples the published numbers were measured on.
func Permutation(n int, seed int64) []int {
	return TorchRandperm(n, seed)
}

// HalveIndices is the small-task cut of n official validation rows, as DePT's and ATTEMPT's
// get_split_indices with validation_size = n/2: the shuffle's first floor(n/2) positions
// are dev, the rest test, each in shuffled order.
func HalveIndices(n int, seed int64) (dev, test []int) {
	perm := Permutation(n, seed)
	return perm[:n/2], perm[n/2:]
}

// HalveValidation is the small-task split of the official validation examples (one
// example per row of the Hugging Face validation set; MultiRC: per answer option, so a
// question's options can fall in both halves, as in the reference code).
func HalveValidation(val []data.Example, seed int64) (dev, test []data.Example) {
	devRows, testRows := HalveIndices(len(val), seed)
	return pick(val, devRows), pick(val, testRows)
}

// HoldOutIndices is the large-task cut of n training rows: the shuffle's first hold
// positions are dev, the rest (in shuffled order) train.
func HoldOutIndices(n, hold int, seed int64) (dev, rest []int, err error) {
	if n <= hold {
		return nil, nil, fmt.Errorf("training set has %d examples, too few to hold out %d for dev", n, hold)
	}
	perm := Permutation(n, seed)
	return perm[:hold], perm[hold:], nil
}

// HoldOut is the large-task split: n shuffled training examples become dev, the rest (in
// shuffled order) stay train.
func HoldOut(train []data.Example, n int, seed int64) (dev, rest []data.Example, err error) {
	devRows, restRows, err := HoldOutIndices(len(train), n, seed)
	if err != nil {
		return nil, nil, err
	}
	return pick(train, devRows), pick(train, restRows), nil
}

// pick returns exs[rows[0]], exs[rows[1]], … .
func pick(exs []data.Example, rows []int) []data.Example {
	out := make([]data.Example, len(rows))
	for i, r := range rows {
		out[i] = exs[r]
	}
	return out
}

// groupKey is the unit that exact match is computed over: the Group, else the example.
func groupKey(ex data.Example) string {
	if ex.Group != "" {
		return "g:" + ex.Group
	}
	return "id:" + ex.ID
}
