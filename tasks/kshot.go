package tasks

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/ptbench/ptbench/core/data"
)

// kshotStream keeps k-shot draws independent of the split shuffles even when a run's seed
// is the split seed.
const kshotStream = 0x6b73686f74 // "kshot"

// SampleKShot draws k examples of every class from train, the protocol's k-shot setting.
// Classes are visited in sorted order; each class's examples (in file order) are permuted
// with one PCG(seed, kshotStream) stream and the first k kept. A class with fewer than k
// examples contributes all it has. The chosen examples are then shuffled together with the
// same stream so that classes interleave. It is a pure function of its arguments; train is
// not modified.
func SampleKShot(train []data.Example, k int, seed int64, classOf func(data.Example) string) []data.Example {
	if k <= 0 {
		return train
	}
	byClass := map[string][]data.Example{}
	for _, ex := range train {
		c := classOf(ex)
		byClass[c] = append(byClass[c], ex)
	}
	classes := make([]string, 0, len(byClass))
	for c := range byClass {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	rng := newRNG(seed, kshotStream)
	var picked []data.Example
	for _, c := range classes {
		members := byClass[c]
		for rank, idx := range permute(rng, len(members)) {
			if rank == k {
				break
			}
			picked = append(picked, members[idx])
		}
	}
	out := make([]data.Example, len(picked))
	for i, idx := range permute(rng, len(picked)) {
		out[i] = picked[idx]
	}
	return out
}

// kshotTrain is a task's k-shot training set: SampleKShot's, after checking that k means
// something for this data. k must not be negative, and at least one class must have k
// examples: a k above every class's count would silently train on the whole set while
// recording k. (A class with fewer than k examples still gives all it has, as SampleKShot
// documents: k-shot CB keeps its rare class.)
func kshotTrain(task string, train []data.Example, k int, seed int64, classOf func(data.Example) string) ([]data.Example, error) {
	if k < 0 {
		return nil, fmt.Errorf("%s: k-shot must be ≥ 0 (0 = the full training set), got %d", task, k)
	}
	counts := map[string]int{}
	largest := 0
	for _, ex := range train {
		c := classOf(ex)
		counts[c]++
		largest = max(largest, counts[c])
	}
	if k > largest {
		return nil, fmt.Errorf("%s: k-shot %d is more than the training data has: %s; pass --k-shot ≤ %d",
			task, k, describeClasses(counts), largest)
	}
	return SampleKShot(train, k, seed, classOf), nil
}

// describeClasses lists class counts ("class 0: 12, class 1: 9"), at most ten of them.
func describeClasses(counts map[string]int) string {
	if len(counts) == 1 {
		for c, n := range counts {
			if c == "" {
				return fmt.Sprintf("%d training examples in one class (free-text targets)", n)
			}
		}
	}
	names := make([]string, 0, len(counts))
	for c := range counts {
		names = append(names, c)
	}
	sort.Strings(names)
	var parts []string
	for i, c := range names {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("… %d classes in all", len(names)))
			break
		}
		parts = append(parts, fmt.Sprintf("class %q: %d", c, counts[c]))
	}
	return "examples per class " + strings.Join(parts, ", ")
}

// stsbBinaryClass binarises an STS-B target at 2.5 for k-shot balancing: "1" when the
// (rounded) score is at least 2.5, "0" below, "" if the target is not a number.
func stsbBinaryClass(target string) string {
	v, err := strconv.ParseFloat(target, 64)
	switch {
	case err != nil:
		return ""
	case v >= 2.5:
		return "1"
	default:
		return "0"
	}
}
