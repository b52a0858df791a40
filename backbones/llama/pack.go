package llama

import (
	"fmt"

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
// the targets labels [B][T] (−100 = none), where rows[b] consecutive rows belong to block b,
// and returns core.BlockCrossEntropy's sum of the blocks' mean losses and each block's value.
// A libtorch failure is the error.
func (m *Model) BlockLosses(embeds, mask *ts.Tensor, labels [][]int64, rows []int64) (total *ts.Tensor, each []float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			total, each, err = nil, nil, fmt.Errorf("llama: packed loss: %v", r)
		}
	}()
	weights, counts, err := core.BlockWeights(labels, rows)
	if err != nil {
		return nil, nil, fmt.Errorf("llama: %w", err)
	}
	each = make([]float64, len(rows))
	out, err := m.forwardTargets(embeds, mask, labels, false, m.blockHead(weights, rows, counts, each))
	return out.Loss, each, err
}

// blockHead is the head of a pack: the target columns' logits and core.BlockCrossEntropy.
func (m *Model) blockHead(weights []float32, rows []int64, counts []int, each []float64) headMaker {
	return func(L, T int64, target *ts.Tensor) lossHead {
		return func(h *ts.Tensor) *ts.Tensor {
			sel := h.MustNarrow(1, L-1, T, true)
			logits := m.logits(sel)
			sel.MustDrop()
			flat := logits.MustView([]int64{-1, m.Cfg.Vocab}, true)
			defer flat.MustDrop()
			w := m.onDevice(ts.MustOfSlice(weights))
			defer w.MustDrop()
			loss, err := core.BlockCrossEntropy(flat, target, w, rows, T, counts, each)
			if err != nil {
				panic(err) // BlockLosses's recover: the pack's error
			}
			return loss
		}
	}
}

var _ core.Packer = (*Backbone)(nil)
