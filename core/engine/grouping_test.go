package engine

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// A length-grouped epoch holds every example once, is seeded, and pads far less than random
// batches.
func TestLengthGroupedBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lengths := make([]int, 2490) // RTE-sized, lengths spread like real sources
	for i := range lengths {
		lengths[i] = 10 + rng.IntN(240)
	}
	a := LengthGroupedBatches(lengths, 16, rand.New(rand.NewPCG(7, 0)))
	b := LengthGroupedBatches(lengths, 16, rand.New(rand.NewPCG(7, 0)))
	if !slices.EqualFunc(a, b, slices.Equal) {
		t.Fatal("same seed, different batches")
	}
	seen := make([]int, len(lengths))
	for _, batch := range a {
		if len(batch) == 0 || len(batch) > 16 {
			t.Fatalf("batch of %d", len(batch))
		}
		for _, i := range batch {
			seen[i]++
		}
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("example %d appears %d times", i, n)
		}
	}
	p := CountPaddedPositions(lengths, 16, 256, 1)
	if p.PadToMax != 2490*256 || !(p.Grouped < p.Dynamic && p.Dynamic < p.PadToMax) {
		t.Fatalf("positions %+v", p)
	}
	// Grouped batches waste little: within 10% of the unpadded total.
	total := 0
	for _, l := range lengths {
		total += l
	}
	if float64(p.Grouped) > 1.1*float64(total) {
		t.Errorf("grouped epoch processes %d positions for %d real tokens", p.Grouped, total)
	}
}
