package t5

import (
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// Packed training (core.Packer): T5 pads on the right and its relative position bias sees a
// row's tokens where they are, so a pack's inputs are padded on the right; each run's loss is
// taken inside the model (core.BlockCrossEntropy) so that a 4-bit model's packs take the
// recomputed backward (recompute.go) as a run alone does, with one dequantisation of each
// block per pass for the whole pack.

// PackPadSide is the side Collate pads: the right.
func (b *Backbone) PackPadSide() core.PadSide { return core.PadRight }

// PackSlack puts every length in one pass when the weights are 4-bit (each pass dequantises
// every block, twice with the recomputed backward); otherwise a pass costs what its positions
// cost, and lengths within core.DefaultPackSlack share one.
func (b *Backbone) PackSlack() float64 {
	if b.model.Quantized() {
		return 0
	}
	return core.DefaultPackSlack
}

// BlockLosses is Loss over a pack's stacked rows (core.Packer): rows[b] consecutive rows
// belong to block b; it returns the sum of the blocks' mean losses and each block's value.
func (b *Backbone) BlockLosses(in core.Input, labels *ts.Tensor, rows []int64) (total *ts.Tensor, each []float64, err error) {
	lab, err := core.Labels2D(labels)
	if err != nil {
		return nil, nil, fmt.Errorf("t5: %w", err)
	}
	weights, counts, err := core.BlockWeights(lab, rows)
	if err != nil {
		return nil, nil, fmt.Errorf("t5: %w", err)
	}
	each = make([]float64, len(rows))
	T := int64(len(lab[0]))
	lossOf := func(flat, target *ts.Tensor) *ts.Tensor {
		w := b.model.onDevice(ts.MustOfSlice(weights))
		defer w.MustDrop()
		loss, err := core.BlockCrossEntropy(flat, target, w, rows, T, counts, each)
		if err != nil {
			panic(err) // recovered below: the pack's error
		}
		return loss
	}
	defer func() {
		if r := recover(); r != nil {
			total, each, err = nil, nil, fmt.Errorf("t5: packed loss: %v", r)
		}
	}()
	b.model.Within(in.Batch, func() {
		var out Outputs
		if out, err = b.model.forwardWith(in.Embeds, in.Mask, lab, false, false, lossOf); err == nil {
			total = out.Loss
		}
	})
	return total, each, err
}

var _ core.Packer = (*Backbone)(nil)
