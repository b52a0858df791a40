package core

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

func TestBlockWeights(t *testing.T) {
	cases := []struct {
		labels  [][]int64
		rows    []int64
		weights string
		counts  string
		err     bool
	}{
		{[][]int64{{5, -100}, {-100, -100}, {7, 8}}, []int64{1, 1, 1}, "[1 0 0 0 0.5 0.5]", "[1 0 2]", false},
		{[][]int64{{5, 6}, {7, -100}}, []int64{2}, "[0.33333334 0.33333334 0.33333334 0]", "[3]", false},
		{[][]int64{{5}}, []int64{2}, "", "", true},
		{[][]int64{{5}, {6}}, []int64{0, 2}, "", "", true},
	}
	for _, c := range cases {
		w, n, err := blockWeights(c.labels, c.rows)
		if (err != nil) != c.err || !c.err && (fmt.Sprint(w) != c.weights || fmt.Sprint(n) != c.counts) {
			t.Errorf("blockWeights(%v, %v) = %v, %v, %v", c.labels, c.rows, w, n, err)
		}
	}
}

// Each block's value is the mean cross-entropy of its own tokens, the total their sum; a
// block without tokens is NaN.
func TestBlockCrossEntropyIsEachBlocksMean(t *testing.T) {
	labels := [][]int64{{1, 2}, {0, -100}, {-100, -100}, {3, 1}}
	rows := []int64{2, 1, 1}
	ts.ManualSeed(3)
	logits := ts.MustRandn([]int64{8, 4}, gotch.Float, gotch.CPU)
	defer logits.MustDrop()
	var flat []int64
	for _, r := range labels {
		flat = append(flat, r...)
	}
	target := ts.MustOfSlice(flat)
	defer target.MustDrop()
	w, counts, err := blockWeights(labels, rows)
	if err != nil {
		t.Fatal(err)
	}
	wt := ts.MustOfSlice(w)
	defer wt.MustDrop()
	each := make([]float64, len(rows))
	total, err := blockCrossEntropy(logits, target, wt, rows, 2, counts, each)
	if err != nil {
		t.Fatal(err)
	}
	defer total.MustDrop()
	mean := func(from, n int64) float64 {
		l := logits.MustNarrow(0, from, n, false)
		tg := target.MustNarrow(0, from, n, false)
		defer tg.MustDrop()
		return l.MustCrossEntropyLoss(tg, ts.None, 1, -100, 0, true).Float64Values(true)[0]
	}
	want := []float64{mean(0, 4), mean(6, 2)}
	if math.Abs(each[0]-want[0]) > 1e-6 || math.Abs(each[2]-want[1]) > 1e-6 || !math.IsNaN(each[1]) {
		t.Fatalf("blocks %v, want [%v NaN %v]", each, want[0], want[1])
	}
	if v := total.Float64Values()[0]; math.Abs(v-want[0]-want[1]) > 1e-6 {
		t.Errorf("total %v, want %v", v, want[0]+want[1])
	}
}

// --pack auto packs over 4-bit weights, as many runs as the memory budget holds (at most
// AutoPackQuantized), and leaves full-precision runs alone,
// with a reason for the log either way; the slack follows the same split.
func TestPackAutoOf(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		name           string
		quantized      bool
		perRun, budget int64
		runs           int
		why            string
	}{
		{"4-bit, small batches", true, 16 * mib, 3000 * mib, AutoPackQuantized, "about 16.0 MiB"},
		{"4-bit, no memory bound", true, 16 * mib, 0, AutoPackQuantized, "no memory bound known"},
		{"4-bit, large batches", true, 1500 * mib, 3000 * mib, 3, "about 1.5 GiB"},
		{"4-bit, beyond the budget", true, 4000 * mib, 3000 * mib, 1, "every run alone"},
		{"full precision", false, 16 * mib, 3000 * mib, 1, "full-precision"},
	} {
		runs, why := PackAutoOf(c.quantized, c.perRun, c.budget)
		if runs != c.runs || !strings.Contains(why, c.why) {
			t.Errorf("%s: %d runs (%q); want %d, %q", c.name, runs, why, c.runs, c.why)
		}
		if want := map[bool]float64{true: 0, false: DefaultPackSlack}[c.quantized]; PackSlackOf(c.quantized) != want {
			t.Errorf("%s: slack %v, want %v", c.name, PackSlackOf(c.quantized), want)
		}
	}
}
