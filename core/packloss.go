package core

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch/ts"
)

// The loss of a pack's stacked rows, for backbones that take it themselves (Packer's
// BlockLosses): rows[b] consecutive rows belong to run b, whose loss alone is the mean
// cross-entropy over its own target tokens. Weighting every target token of block b by 1/n_b
// (n_b: the block's tokens) and summing gives the sum of those means in one reduction, whose
// gradient reaching block b's rows is exactly that of b's own loss.

// BlockWeights are the labels' token weights, flat in row order (1/n_b on a target token of
// block b, 0 where the label is ignored, < 0), and every block's n_b. The blocks must cover
// the label rows exactly.
func BlockWeights(labels [][]int64, rows []int64) ([]float32, []int, error) {
	n := int64(0)
	for _, r := range rows {
		if r <= 0 {
			return nil, nil, fmt.Errorf("pack: a block of %d rows", r)
		}
		n += r
	}
	if n != int64(len(labels)) || len(labels) == 0 {
		return nil, nil, fmt.Errorf("pack: blocks of %d rows for %d label rows", n, len(labels))
	}
	w := make([]float32, 0, len(labels)*len(labels[0]))
	counts := make([]int, len(rows))
	r0 := 0
	for b, nr := range rows {
		block := labels[r0 : r0+int(nr)]
		r0 += int(nr)
		for _, row := range block {
			for _, v := range row {
				if v >= 0 {
					counts[b]++
				}
			}
		}
		wt := float32(0)
		if counts[b] > 0 {
			wt = float32(1 / float64(counts[b]))
		}
		for _, row := range block {
			for _, v := range row {
				if v >= 0 {
					w = append(w, wt)
				} else {
					w = append(w, 0)
				}
			}
		}
	}
	return w, counts, nil
}

// BlockCrossEntropy is the sum of the blocks' mean losses from flat logits [N·T, V] (float32)
// against target [N·T] (−100 = ignored) with the token weights of BlockWeights (a tensor on
// the logits' device); none of them is consumed. It writes each block's value to each (NaN
// for a block without target tokens, as its mean alone would be).
func BlockCrossEntropy(flat, target, weights *ts.Tensor, rows []int64, T int64, counts []int, each []float64) (*ts.Tensor, error) {
	ce, err := flat.CrossEntropyLoss(target, ts.None, 0, -100, 0, false) // reduction none: 0 where ignored
	if err != nil {
		return nil, err
	}
	weighted, err := ce.Mul(weights, true)
	if err != nil {
		return nil, err
	}
	vals, err := weighted.Detach(false)
	if err != nil {
		weighted.MustDrop()
		return nil, err
	}
	per := vals.Float64Values(true)
	t := 0
	for b, nr := range rows {
		s := 0.0
		for range int(nr) * int(T) {
			s += per[t]
			t++
		}
		each[b] = s
		if counts[b] == 0 {
			each[b] = math.NaN()
		}
	}
	return weighted.Sum(weighted.DType(), true)
}
