package llama

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// Packed training (core.Packer): several runs' transformed inputs stacked along the batch
// share one forward and one backward. Llama pads on the left and numbers real tokens only,
// so a row padded further keeps its positions and its source still ends where generation
// starts; the loss of each run is taken inside the model (core.BlockLoss), so that a 4-bit
// model's packs take the recomputed backward (recompute.go) like a run alone, with one
// dequantisation of each layer for the whole pack.

// PackPadSide is the side Collate pads: the left.
func (b *Backbone) PackPadSide() core.PadSide { return core.PadLeft }

// PackSlack is core.PackSlackOf: one pass for every length when the weights are 4-bit.
func (b *Backbone) PackSlack() float64 { return core.PackSlackOf(b.model.Quantized()) }

// PackAuto is core.PackAutoOf: 4-bit weights pack, full-precision ones run alone. One more
// run of shape s keeps, in a pass of the recomputed backward, every layer's input and one
// layer's working set (its norms, q/k/v, context and FFN activations in the compute dtype,
// its attention probabilities in fp32).
func (b *Backbone) PackAuto(s core.PackShape, budget int64) (int, string) {
	c, act := b.model.Cfg, int64(4)
	if b.model.DType == gotch.BFloat16 {
		act = 2
	}
	tokens := s.Rows * s.Positions
	perRun := c.Layers*tokens*c.Dim*act + tokens*(3*c.Hidden+6*c.Dim)*act + c.Heads*tokens*s.Positions*4
	return core.PackAutoOf(b.model.Quantized(), perRun, budget)
}

// BlockLosses is Loss over a pack's stacked rows (core.Packer): rows[b] consecutive rows
// belong to block b; it returns the sum of the blocks' mean losses and each block's value.
func (b *Backbone) BlockLosses(in core.Input, labels *ts.Tensor, rows []int64) (total *ts.Tensor, each []float64, err error) {
	if err := b.decoderOnly(); err != nil {
		return nil, nil, err
	}
	bl, err := core.NewBlockLoss(labels, rows)
	if err != nil {
		return nil, nil, fmt.Errorf("llama: %w", err)
	}
	b.model.Within(in.Batch, func() { total, err = b.model.BlockLoss(in.Embeds, in.Mask, bl) })
	return total, bl.Each, err
}

// BlockLoss runs the causal model over sources embeds [B, L, D] (mask [B, L]) followed by
// bl's targets and returns bl's sum of the blocks' mean losses (bl.Each: each block's). A
// libtorch failure is the error.
func (m *Model) BlockLoss(embeds, mask *ts.Tensor, bl *core.BlockLoss) (total *ts.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			total, err = nil, fmt.Errorf("llama: packed loss: %v", r)
		}
	}()
	head := func(L, T int64, target *ts.Tensor) lossHead {
		return func(h *ts.Tensor) *ts.Tensor {
			sel := h.MustNarrow(1, L-1, T, true)
			logits := m.logits(sel)
			sel.MustDrop()
			flat := logits.MustView([]int64{-1, m.Cfg.Vocab}, true)
			defer flat.MustDrop()
			return bl.Of(flat, target)
		}
	}
	out, err := m.forwardTargets(embeds, mask, bl.Labels, false, head)
	return out.Loss, err
}

var _ core.Packer = (*Backbone)(nil)
