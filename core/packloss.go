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

// DefaultPackSlack is the ratio of input lengths that share one stacked pass of a pack when
// the backbone does not say otherwise (Packer.PackSlack): on a CPU a pass costs what its
// positions cost, so padding a short input to a long one costs more than the extra pass
// saves; within the factor, one pass of more rows wins (PT's 100-token prompt and DePT's 60
// take separate passes on short sources).
const DefaultPackSlack = 1.25

// PackSlackOf is a backbone's PackSlack: every length in one pass when its weights are
// 4-bit (each pass dequantises every layer, twice with a recomputed backward, which costs
// more than the padding a longer neighbour adds), DefaultPackSlack otherwise.
func PackSlackOf(quantized bool) float64 {
	if quantized {
		return 0
	}
	return DefaultPackSlack
}

// AutoPackQuantized is the most runs `--pack auto` packs over 4-bit weights.
const AutoPackQuantized = 4

// PackShape is the largest batch one run adds to a pass of a grid's packs — its rows and
// positions (source, prompt and target tokens) — for Packer.PackAuto.
type PackShape struct{ Rows, Positions int64 }

// PackAutoOf is a backbone's PackAuto, given what one more run keeps during a pass (perRun
// bytes: its share of the activations the backward holds) and the bytes a pack's extra runs
// may take (budget; ≤ 0: no bound known). With 4-bit weights a pack pays outright: each pass
// dequantises every layer once for all its runs instead of once per run, and Llama's
// recomputed backward keeps only each layer's input per run (three LoRA runs on a 7B NF4
// Llama: 0.47× the step time per run at 1.04× the peak memory of one), so up to
// AutoPackQuantized runs pack, as many as the budget holds. Over full-precision weights every
// run trains alone: a pack saves only per-op overhead (nothing on one CPU thread), holds
// every run's activations at once, and changes rows by float rounding where alone they
// repeat bit for bit.
func PackAutoOf(quantized bool, perRun, budget int64) (runs int, why string) {
	if !quantized {
		return 1, "full-precision weights: a pack would save only per-op overhead and hold every run's activations at once (--pack N packs anyway)"
	}
	runs = AutoPackQuantized
	if perRun > 0 && budget > 0 {
		runs = int(min(int64(runs), 1+budget/perRun))
	}
	if runs < 2 {
		return 1, fmt.Sprintf("4-bit weights, but each more run would keep about %s in a pass, more than the memory limit leaves for a pack (%s): every run alone (--pack N packs anyway)", bytesIEC(perRun), bytesIEC(budget))
	}
	bound := "no memory bound known"
	if budget > 0 {
		bound = "a pack may add " + bytesIEC(budget)
	}
	return runs, fmt.Sprintf("4-bit weights: a pack dequantises each layer once per pass for all its runs; each more run keeps about %s in a pass, %s", bytesIEC(perRun), bound)
}

// bytesIEC prints a byte count in binary units (12.0 MiB).
func bytesIEC(b int64) string {
	v, unit := float64(b), 0
	for v >= 1024 && unit < 4 {
		v /= 1024
		unit++
	}
	return fmt.Sprintf("%.1f %s", v, [...]string{"B", "KiB", "MiB", "GiB", "TiB"}[unit])
}

// BlockLoss is the loss of one stacked pass for a backbone's BlockLosses: made from the
// pass's labels and the blocks' row counts, Of turns the target positions' flat logits into
// the sum of the blocks' means, and Each then holds every block's value.
type BlockLoss struct {
	Labels  [][]int64 // the label rows, −100 = ignored
	Each    []float64 // every block's loss, after Of
	rows    []int64
	counts  []int
	weights []float32
}

// NewBlockLoss reads labels [N, T] (−100 = ignored) split into blocks of rows; the blocks must
// cover the rows exactly.
func NewBlockLoss(labels *ts.Tensor, rows []int64) (*BlockLoss, error) {
	lab, err := Labels2D(labels)
	if err != nil {
		return nil, err
	}
	w, counts, err := blockWeights(lab, rows)
	if err != nil {
		return nil, err
	}
	return &BlockLoss{Labels: lab, Each: make([]float64, len(rows)), rows: rows, counts: counts, weights: w}, nil
}

// Of is the sum of the blocks' mean losses from flat logits [N·T, V] (float32) against the
// flat targets [N·T] (neither consumed). It is called inside a forward pass's helpers, which
// cannot return errors: a libtorch failure panics, and the backbone's BlockLosses recovers
// it as its error.
func (l *BlockLoss) Of(flat, target *ts.Tensor) *ts.Tensor {
	w, err := ts.OfSlice(l.weights)
	if err == nil {
		w, err = OnDeviceOf(w, flat)
	}
	if err != nil {
		panic(fmt.Errorf("pack: token weights: %w", err))
	}
	defer w.MustDrop()
	loss, err := blockCrossEntropy(flat, target, w, l.rows, int64(len(l.Labels[0])), l.counts, l.Each)
	if err != nil {
		panic(fmt.Errorf("pack: loss: %w", err))
	}
	return loss
}

// blockWeights are the labels' token weights, flat in row order (1/n_b on a target token of
// block b, 0 where the label is ignored, < 0), and every block's n_b. The blocks must cover
// the label rows exactly.
func blockWeights(labels [][]int64, rows []int64) ([]float32, []int, error) {
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

// blockCrossEntropy is the sum of the blocks' mean losses from flat logits [N·T, V] (float32)
// against target [N·T] (−100 = ignored) with the token weights of blockWeights (a tensor on
// the logits' device); none of them is consumed. It writes each block's value to each (NaN
// for a block without target tokens, as its mean alone would be).
func blockCrossEntropy(flat, target, weights *ts.Tensor, rows []int64, T int64, counts []int, each []float64) (*ts.Tensor, error) {
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
