package tasks

import (
	"fmt"
	"math/bits"
	"math/rand/v2"

	"github.com/ptbench/ptbench/core/data"
)

// SplitSeed is the protocol's seed for every split shuffle ("seed 42 shuffles").
const SplitSeed = 42

// newRNG is the one generator behind every shuffle and sample of this package:
// math/rand/v2's PCG seeded with (seed, stream). PCG's output sequence is fixed by its
// published algorithm, so splits stay identical across Go releases.
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

// Permutation is the split shuffle: permute over PCG(seed, 0).
func Permutation(n int, seed int64) []int {
	return permute(newRNG(seed, 0), n)
}

// HalveValidation is the small-task split: the official validation set is shuffled and cut,
// the first floor(n/2) = dev, the rest = test. Examples sharing a Group (MultiRC's answer
// options of one question) are kept together: groups are shuffled and n counts groups.
// Ungrouped examples are groups of one, which makes this the plain example-level cut.
func HalveValidation(val []data.Example, seed int64) (dev, test []data.Example) {
	var order []string
	members := map[string][]data.Example{}
	for _, ex := range val {
		key := groupKey(ex)
		if _, seen := members[key]; !seen {
			order = append(order, key)
		}
		members[key] = append(members[key], ex)
	}
	perm := Permutation(len(order), seed)
	half := len(order) / 2
	for rank, idx := range perm {
		if rank < half {
			dev = append(dev, members[order[idx]]...)
		} else {
			test = append(test, members[order[idx]]...)
		}
	}
	return dev, test
}

// groupKey is the unit that is scored (and split) together: the Group, else the example.
func groupKey(ex data.Example) string {
	if ex.Group != "" {
		return "g:" + ex.Group
	}
	return "id:" + ex.ID
}

// HoldOut is the large-task split: n shuffled training examples become dev, the rest (in
// shuffled order) stay train.
func HoldOut(train []data.Example, n int, seed int64) (dev, rest []data.Example, err error) {
	if len(train) <= n {
		return nil, nil, fmt.Errorf("training set has %d examples, too few to hold out %d for dev", len(train), n)
	}
	perm := Permutation(len(train), seed)
	dev = make([]data.Example, 0, n)
	rest = make([]data.Example, 0, len(train)-n)
	for rank, idx := range perm {
		if rank < n {
			dev = append(dev, train[idx])
		} else {
			rest = append(rest, train[idx])
		}
	}
	return dev, rest, nil
}
