package llama

import (
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// recomputed counts recomputeLoss calls (tests).
var recomputed int

// recomputeLoss is the training loss of an NF4 model whose gradient goes only to the input
// embeddings (input-family methods, no hooks). Autograd would keep every layer's
// dequantised weight until the backward pass (the whole model in full precision), so the
// forward runs without gradients, keeping each layer's input [B, T, D]; then, last layer
// first, each layer is recomputed with gradients from its saved input and back-propagated
// alone (one layer's weights dequantised at a time). The result has the loss's value and,
// through full, the exact gradient: loss + ⟨full, g⟩ − ⟨full, g⟩.detach().
func (m *Model) recomputeLoss(full, mask *ts.Tensor, L, T int64, target *ts.Tensor) *ts.Tensor {
	recomputed++
	rows := maskRows(mask)
	pos := make([][]int64, len(rows))
	for i, r := range rows {
		pos[i] = Positions(r)
	}
	cos, sin := m.rotary(pos)
	bias := m.onDevice(attnBias(rows, int64(len(rows[0]))))
	defer func() {
		cos.MustDrop()
		sin.MustDrop()
		bias.MustDrop()
	}()
	inputs := make([]*ts.Tensor, len(m.layers)+1)
	ts.NoGrad(func() {
		h := full.MustDetach(false)
		if h.DType() != m.DType {
			h = h.MustTotype(m.DType, true)
		}
		for i := range m.layers {
			inputs[i] = h
			h = m.block(&m.layers[i], h.MustShallowClone(), cos, sin, bias, nil)
		}
		inputs[len(m.layers)] = h
	})
	// Head: loss and its gradient with respect to the last layer's output.
	leaf := inputs[len(m.layers)].MustDetach(false).MustSetRequiresGrad(true, true)
	n := m.rmsNorm("model.norm", leaf, m.norm)
	loss := m.headLoss(n, L, T, target)
	value := loss.MustDetach(false)
	loss.MustBackward()
	loss.MustDrop()
	g := leaf.MustGrad(false).MustDetach(true)
	leaf.MustDrop()
	inputs[len(m.layers)].MustDrop()
	for i := len(m.layers) - 1; i >= 0; i-- {
		leaf := inputs[i].MustDetach(false).MustSetRequiresGrad(true, true)
		out := m.block(&m.layers[i], leaf.MustShallowClone(), cos, sin, bias, nil)
		s := out.MustMul(g, true).MustSum(gotch.Float, true)
		s.MustBackward()
		s.MustDrop()
		g.MustDrop()
		g = leaf.MustGrad(false).MustDetach(true)
		leaf.MustDrop()
		inputs[i].MustDrop()
	}
	x := full
	if x.DType() != gotch.Float {
		x = full.MustTotype(gotch.Float, false)
	}
	g32 := g.MustTotype(gotch.Float, true)
	dot := x.MustMul(g32, false).MustSum(gotch.Float, true)
	if x != full {
		x.MustDrop()
	}
	g32.MustDrop()
	dd := dot.MustDetach(false)
	out := dot.MustSub(dd, true).MustAdd(value, true)
	dd.MustDrop()
	value.MustDrop()
	return out
}
