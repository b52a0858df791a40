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

// SampleKShot draws the protocol's k-shot training set as DePT's train.py draws it
// (lines 530-545): k examples in all, k/|classes| of each class (integer division). Walking a
// seeded shuffle of train, an example is kept while its class has fewer than its share, or
// whatever its class when one slot is left, until k are kept; so with k not a multiple of
// the class count (16-shot MNLI) the last example goes to whichever class comes next, and a
// two-class draw can end one off balance, as the reference's does. A class with fewer
// examples than its share gives all it has (and the draw then ends short, as there). The
// shuffle is a PCG(seed, kshotStream) permutation, not the numpy generator behind the
// reference's datasets.shuffle. The kept examples stay in shuffled order. It is a pure
// function of its arguments; train is not modified.
func SampleKShot(train []data.Example, k int, seed int64, classOf func(data.Example) string) []data.Example {
	if k <= 0 {
		return train
	}
	share := k / len(classesOf(train, classOf))
	counts := map[string]int{}
	var picked []data.Example
	for _, idx := range permute(newRNG(seed, kshotStream), len(train)) {
		if len(picked) == k {
			break
		}
		if c := classOf(train[idx]); counts[c] < share || len(picked) == k-1 {
			counts[c]++
			picked = append(picked, train[idx])
		}
	}
	return picked
}

// classesOf counts train's examples per class.
func classesOf(train []data.Example, classOf func(data.Example) string) map[string]int {
	counts := map[string]int{}
	for _, ex := range train {
		counts[classOf(ex)]++
	}
	return counts
}

// kshotTrain is a task's k-shot training set: SampleKShot's, after checking that k means
// something for this data. k must not be negative, must leave every class a share (k at
// least the number of classes: below it the reference's draw keeps nothing), and must not
// exceed the training set.
func kshotTrain(task string, train []data.Example, k int, seed int64, classOf func(data.Example) string) ([]data.Example, error) {
	if k < 0 {
		return nil, fmt.Errorf("%s: k-shot must be ≥ 0 (0 = the full training set), got %d", task, k)
	}
	counts := classesOf(train, classOf)
	switch {
	case k > len(train):
		return nil, fmt.Errorf("%s: k-shot %d is more than the training data has: %d examples; pass --k-shot ≤ %d",
			task, k, len(train), len(train))
	case k < len(counts):
		return nil, fmt.Errorf("%s: k-shot %d is fewer than the task's %d classes (%s): k is the total, k/%d per class; pass --k-shot ≥ %d",
			task, k, len(counts), describeClasses(counts), len(counts), len(counts))
	}
	return SampleKShot(train, k, seed, classOf), nil
}

// SampleKShot is the task's k-shot draw from its full training set (data.KShotSampler): what
// Load gives with DataOptions.KShot k and Seed seed.
func (t *info) SampleKShot(train []data.Example, k int, seed int64) ([]data.Example, error) {
	return kshotTrain(t.name, train, k, seed, t.kshotClass)
}

// describeClasses lists class counts ("class 0: 12, class 1: 9"), at most ten of them.
func describeClasses(counts map[string]int) string {
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
		parts = append(parts, fmt.Sprintf("%q %d", c, counts[c]))
	}
	return "examples per class: " + strings.Join(parts, ", ")
}

// stsbBinaryClass binarises an STS-B target at 2.5 for k-shot balancing: "1" when the
// (rounded) score is above 2.5, "0" up to it, "" if the target is not a number.
func stsbBinaryClass(target string) string {
	v, err := strconv.ParseFloat(target, 64)
	switch {
	case err != nil:
		return ""
	case v > 2.5: // DePT's train.py:541, "0" if label <= 2.5 else "1"
		return "1"
	default:
		return "0"
	}
}
