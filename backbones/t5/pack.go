package t5

import (
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// Packed training (core.Packer): T5 pads on the right and its relative position bias sees a
// row's tokens where they are, so a pack's inputs are padded on the right; each run's loss is
// taken inside the model (core.BlockLoss) so that a 4-bit model's packs take the recomputed
// backward (recompute.go) as a run alone does, with one dequantisation of each block per pass
// for the whole pack.

// PackPadSide is the side Collate pads: the right.
func (b *Backbone) PackPadSide() core.PadSide { return core.PadRight }

// PackSlack is core.PackSlackOf: one pass for every length when the weights are 4-bit.
func (b *Backbone) PackSlack() float64 { return core.PackSlackOf(b.model.Quantized()) }

// PackAuto is core.PackAutoOf: 4-bit weights pack, full-precision ones run alone. One more
// run of shape s keeps, in a pass, every layer's input (the residual stream is fp32 in every
// mode) and one layer's working set (norms, q/k/v, context, FFN, attention probabilities) —
// what the recomputed backward of input methods holds; hook methods keep more.
func (b *Backbone) PackAuto(s core.PackShape, budget int64) (int, string) {
	c := b.model.Cfg
	tokens := s.Rows * s.Positions
	perRun := (c.EncoderLayers+c.DecoderLayers)*tokens*c.DModel*4 + tokens*(c.DFF+6*c.DModel)*4 + c.Heads*tokens*s.Positions*4
	return core.PackAutoOf(b.model.Quantized(), perRun, budget)
}

// BlockLosses is Loss over a pack's stacked rows (core.Packer): rows[b] consecutive rows
// belong to block b; it returns the sum of the blocks' mean losses and each block's value. A
// libtorch failure is the error.
func (b *Backbone) BlockLosses(in core.Input, labels *ts.Tensor, rows []int64) (total *ts.Tensor, each []float64, err error) {
	bl, err := core.NewBlockLoss(labels, rows)
	if err != nil {
		return nil, nil, fmt.Errorf("t5: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			total, each, err = nil, nil, fmt.Errorf("t5: packed loss: %v", r)
		}
	}()
	b.model.Within(in.Batch, func() {
		var out Outputs
		if out, err = b.model.forwardWith(in.Embeds, in.Mask, bl.Labels, false, false, bl.Of); err == nil {
			total = out.Loss
		}
	})
	return total, bl.Each, err
}

var _ core.Packer = (*Backbone)(nil)
