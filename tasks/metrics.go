package tasks

import (
	"math"
	"sort"
)

// The metric functions work on the natural scale (fractions, correlations in [-1, 1]);
// Task.Score multiplies by 100. Degenerate inputs (no examples, a constant series) give 0,
// never NaN, so that a collapsed model scores 0 instead of poisoning averages.

// Accuracy is the fraction of predictions equal to their gold label.
func Accuracy(pred, gold []string) float64 {
	if len(gold) == 0 {
		return 0
	}
	hit := 0
	for i := range gold {
		if pred[i] == gold[i] {
			hit++
		}
	}
	return float64(hit) / float64(len(gold))
}

// classF1 is 2·tp / (2·tp + fp + fn) for one class, 0 when the class is neither predicted
// nor present (scikit-learn's zero_division=0).
func classF1(pred, gold []string, class string) float64 {
	tp, fp, fn := 0, 0, 0
	for i := range gold {
		p, g := pred[i] == class, gold[i] == class
		switch {
		case p && g:
			tp++
		case p:
			fp++
		case g:
			fn++
		}
	}
	if tp == 0 {
		return 0
	}
	return 2 * float64(tp) / float64(2*tp+fp+fn)
}

// BinaryF1 is the F1 of the positive class.
func BinaryF1(pred, gold []string, positive string) float64 {
	return classF1(pred, gold, positive)
}

// MacroF1 is the unweighted mean of the per-class F1 over labels (the task's label set, so
// an invalid prediction only costs the class it should have been and adds no class).
func MacroF1(pred, gold, labels []string) float64 {
	if len(labels) == 0 {
		return 0
	}
	sum := 0.0
	for _, l := range labels {
		sum += classF1(pred, gold, l)
	}
	return sum / float64(len(labels))
}

// Matthews is the Matthews correlation coefficient, in Gorodkin's multi-class form over
// every value seen in pred or gold (as scikit-learn's matthews_corrcoef); for two classes
// it is the usual (tp·tn − fp·fn) / sqrt(…). A constant prediction or gold gives 0.
func Matthews(pred, gold []string) float64 {
	s := float64(len(gold))
	if s == 0 {
		return 0
	}
	predCount, goldCount := map[string]float64{}, map[string]float64{}
	correct := 0.0
	for i := range gold {
		predCount[pred[i]]++
		goldCount[gold[i]]++
		if pred[i] == gold[i] {
			correct++
		}
	}
	var pt, pp, tt float64
	for c, p := range predCount {
		pt += p * goldCount[c]
		pp += p * p
	}
	for _, t := range goldCount {
		tt += t * t
	}
	den := math.Sqrt((s*s - pp) * (s*s - tt))
	if den == 0 {
		return 0
	}
	return (correct*s - pt) / den
}

// Pearson is the Pearson correlation of x and y; 0 when either is constant or n < 2.
func Pearson(x, y []float64) float64 {
	n := float64(len(x))
	if len(x) < 2 {
		return 0
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= n
	my /= n
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	r := sxy / math.Sqrt(sxx*syy)
	return math.Max(-1, math.Min(1, r))
}

// Spearman is the Pearson correlation of the ranks, tied values sharing their average
// rank; 0 when either series is constant.
func Spearman(x, y []float64) float64 {
	return Pearson(averageRanks(x), averageRanks(y))
}

// averageRanks gives 1-based ranks, ties receiving the mean of the ranks they span.
func averageRanks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	ranks := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			ranks[idx[k]] = avg
		}
		i = j + 1
	}
	return ranks
}
