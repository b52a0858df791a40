package llama

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// Packed training (core.Packer): several runs' transformed inputs stacked along the batch
// share one forward and one backward. Llama pads on the left and numbers real tokens only,
// so a row padded further keeps its positions and its source still ends where generation
// starts; the loss of each run is taken inside the model, so that a 4-bit model's packs take
// the recomputed backward (recompute.go) like a run alone, with one dequantisation of each
// layer for the whole pack.

// PackPadSide is the side Collate pads: the left.
func (b *Backbone) PackPadSide() core.PadSide { return core.PadLeft }

// PackSlack puts every length in one pass when the weights are 4-bit: each pass dequantises
// every layer (twice, with the recomputed backward), which costs more than the padding a
// longer neighbour adds at these batch sizes. Otherwise a pass's cost follows its positions,
// and lengths within core.DefaultPackSlack share one.
func (b *Backbone) PackSlack() float64 {
	if b.model.Quantized() {
		return 0
	}
	return core.DefaultPackSlack
}

// BlockLosses is Loss over a pack's stacked rows (core.Packer): the sum of every block's mean
// target cross-entropy, and each block's value.
func (b *Backbone) BlockLosses(in core.Input, labels *ts.Tensor, rows []int64) (total *ts.Tensor, each []float64, err error) {
	if err := b.decoderOnly(); err != nil {
		return nil, nil, err
	}
	lab, err := core.Labels2D(labels)
	if err != nil {
		return nil, nil, fmt.Errorf("llama: %w", err)
	}
	b.model.Within(in.Batch, func() { total, each, err = b.model.BlockLosses(in.Embeds, in.Mask, lab, rows) })
	return total, each, err
}

// BlockLosses runs the causal model over sources embeds [B, L, D] (mask [B, L]) followed by
// the targets labels [B][T] (−100 = none), where rows[b] consecutive rows belong to block b.
// Block b's loss is its mean cross-entropy over its own n_b target tokens — Loss's value for
// those rows alone — computed as Σ CE_t / n_b; the returned total is the sum over blocks, so
// its gradient reaching block b's rows is exactly that of b's loss. A block without target
// tokens has a NaN loss (as Loss would). A libtorch failure is the error.
func (m *Model) BlockLosses(embeds, mask *ts.Tensor, labels [][]int64, rows []int64) (total *ts.Tensor, each []float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			total, each, err = nil, nil, fmt.Errorf("llama: packed loss: %v", r)
		}
	}()
	n := int64(0)
	for _, r := range rows {
		if r <= 0 {
			return nil, nil, fmt.Errorf("llama: packed loss: a block of %d rows", r)
		}
		n += r
	}
	if n != int64(len(labels)) || len(labels) == 0 {
		return nil, nil, fmt.Errorf("llama: packed loss: blocks of %d rows for %d label rows", n, len(labels))
	}
	weights, counts := tokenWeights(labels, rows)
	each = make([]float64, len(rows))
	out, err := m.forwardTargets(embeds, mask, labels, false, m.blockHead(weights, rows, counts, each))
	return out.Loss, each, err
}

// tokenWeights gives every target token of block b the weight 1/n_b (n_b: the block's
// tokens; ignored positions weigh 0), flat in row order, and returns the n_b.
func tokenWeights(labels [][]int64, rows []int64) ([]float32, []int) {
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
	return w, counts
}

// blockHead is the head of a pack: the target columns' logits, the per-token cross-entropy
// (0 at ignored positions) weighted by weights and summed. It writes each block's value
// (its weighted tokens' sum, NaN without tokens) to each.
func (m *Model) blockHead(weights []float32, rows []int64, counts []int, each []float64) headMaker {
	return func(L, T int64, target *ts.Tensor) lossHead {
		return func(h *ts.Tensor) *ts.Tensor {
			sel := h.MustNarrow(1, L-1, T, true)
			logits := m.logits(sel)
			sel.MustDrop()
			flat := logits.MustView([]int64{-1, m.Cfg.Vocab}, true)
			ce := flat.MustCrossEntropyLoss(target, ts.None, 0, -100, 0, true) // reduction none
			w := m.onDevice(ts.MustOfSlice(weights))
			weighted := ce.MustMul(w, true)
			w.MustDrop()
			vals := weighted.MustDetach(false)
			per := vals.Float64Values()
			vals.MustDrop()
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
			return weighted.MustSum(weighted.DType(), true)
		}
	}
}

var _ core.Packer = (*Backbone)(nil)
