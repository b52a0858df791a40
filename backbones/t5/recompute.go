package t5

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// The training loss of a 4-bit model when the gradient goes only to the input embeddings
// (input-family methods: PT, DePT, EPT — no hook, no trainable backbone weight).
//
// Plain autograd would keep every linear's dequantised weight until the backward pass (each
// matmul saves its weight for the input's gradient): the whole model in float32 again, 12 GB
// for T5-3B. Instead the forward runs without gradients, keeping only each block's input
// [B, T, d]; then, last block first, each block is run again with gradients from its saved
// input and back-propagated alone against the gradient of its output, so one block's weights
// are dequantised at a time (Llama's NF4 does the same over its layers). The decoder's blocks
// all attend to the encoder states: they share one leaf for them, whose gradient sums over the
// decoder before the encoder's blocks are walked back. The result is the loss's value with,
// through the embeddings, the exact gradient: loss + ⟨x, g⟩ − ⟨x, g⟩.detach().
//
// Dropout (training steps of checkpoints with dropout_rate > 0) must draw the same masks in
// the block's second run as in its first: each segment (the input dropout, each block, the
// encoder's final norm) reseeds libtorch's generator from seeds drawn once per step from it,
// so a step is as reproducible from the run's seed as plain autograd's.

// recomputedForwards counts forwardRecomputed calls; plainBackward turns the recomputed
// backward off (tests compare the two).
// recomputeCheck, if set, sees each segment's output from the forward pass and from its
// second run (tests: with dropout they must be equal, masks and all).
var (
	recomputedForwards int
	plainBackward      bool
	recomputeCheck     func(segment int, forward, again *ts.Tensor)
)

func checkSegment(segment int, forward, again *ts.Tensor) {
	if recomputeCheck != nil {
		recomputeCheck(segment, forward, again)
	}
}

// recomputable reports whether Forward can take forwardRecomputed: 4-bit weights, nothing
// asked of it but the loss, a gradient wanted for the embeddings only (no hook, no trainable
// backbone weight: their gradients would need the plain graph).
func (m *Model) recomputable(embeds *ts.Tensor, keepLogits, keepEncoder bool) bool {
	if !m.Quantized() || plainBackward || keepLogits || keepEncoder || !embeds.MustRequiresGrad() {
		return false
	}
	if m.hooks.Any() {
		return false
	}
	for _, w := range m.weights {
		if w.MustRequiresGrad() {
			return false
		}
	}
	return true
}

// segmentSeeds are the generator seeds of a step's n dropout segments; nil when dropout is
// off (the generator is then left alone).
func (m *Model) segmentSeeds(n int) []int64 {
	if !m.training() {
		return nil
	}
	// Drawn on the CPU whatever the device: only their values are used (they seed the
	// generator per segment), and the CPU generator keeps them the same on every device.
	r, err := ts.Randint(math.MaxInt32, []int64{int64(n)}, gotch.Int64, gotch.CPU)
	if err != nil {
		panic(err)
	}
	return r.Int64Values(true)
}

// forwardRecomputed is Forward's loss for a recomputable call (see the file's comment).
func (m *Model) forwardRecomputed(embeds, mask *ts.Tensor, labels [][]int64, lossOf lossFn) (Outputs, error) {
	recomputedForwards++
	nEnc, nDec := len(m.encoder), len(m.decoder)
	seeds := m.segmentSeeds(nEnc + nDec + 2)
	seed := func(i int) {
		if seeds != nil {
			ts.ManualSeed(seeds[i])
		}
	}
	// Segments: 0 the input dropout, 1..nEnc the encoder's blocks, nEnc+1 its final norm and
	// dropout, then the decoder's blocks.
	encSeg := func(i int) int { return 1 + i }
	finalSeg := nEnc + 1
	decSeg := func(j int) int { return nEnc + 2 + j }
	B, T := int64(len(labels)), int64(len(labels[0]))

	encBias := m.encoderBias(mask)
	selfBias, crossBias := m.decoderBiases(T, mask)
	decIDs := m.idsOnDevice(flatten(m.ShiftRight(labels)), B, T)
	target := m.idsOnDevice(flatten(labels), -1)
	defer func() {
		for _, t := range []*ts.Tensor{encBias, selfBias, crossBias, decIDs, target} {
			dropIfAny(t)
		}
	}()

	// Forward without gradients, keeping each block's input.
	encIn := make([]*ts.Tensor, nEnc+1)
	decIn := make([]*ts.Tensor, nDec+1)
	var enc *ts.Tensor
	ts.NoGrad(func() {
		seed(0)
		h := m.dropout(embeds.MustDetach(false))
		for i, b := range m.encoder {
			encIn[i] = h
			seed(encSeg(i))
			h = m.block(b, h.MustShallowClone(), encBias, nil, nil, nil)
		}
		encIn[nEnc] = h
		seed(finalSeg)
		enc = m.dropout(m.rmsNorm("encoder.final_layer_norm", h, m.encFinal))
		g := m.dropout(m.embed(decIDs))
		for j, b := range m.decoder {
			decIn[j] = g
			seed(decSeg(j))
			g = m.block(b, g.MustShallowClone(), selfBias, enc, crossBias, nil)
		}
		decIn[nDec] = g
	})

	// The head: the loss and its gradient with respect to the decoder's output.
	leaf := decIn[nDec].MustDetach(false).MustSetRequiresGrad(true, true)
	final := m.dropout(m.rmsNorm("decoder.final_layer_norm", leaf, m.decFinal))
	logits := m.LMHead(final)
	final.MustDrop()
	flat := logits.MustView([]int64{-1, m.Cfg.Vocab}, true)
	loss := lossOf(flat, target)
	flat.MustDrop()
	value := loss.MustDetach(false)
	g := m.backwardThrough(loss, leaf, nil)

	// The decoder, last block first; every block adds its share to the encoder states' gradient.
	encLeaf := enc.MustDetach(false).MustSetRequiresGrad(true, true)
	for j := nDec - 1; j >= 0; j-- {
		leaf := decIn[j].MustDetach(false).MustSetRequiresGrad(true, true)
		seed(decSeg(j))
		out := m.block(m.decoder[j], leaf.MustShallowClone(), selfBias, encLeaf, crossBias, nil)
		checkSegment(decSeg(j), decIn[j+1], out)
		decIn[j+1].MustDrop()
		g = m.backwardThrough(out, leaf, g)
	}
	decIn[0].MustDrop()
	g.MustDrop() // the decoder embeddings' gradient: the table is frozen
	g = encLeaf.MustGrad(false).MustDetach(true)
	encLeaf.MustDrop()

	// The encoder's final norm, then its blocks.
	leaf = encIn[nEnc].MustDetach(false).MustSetRequiresGrad(true, true)
	seed(finalSeg)
	out := m.dropout(m.rmsNorm("encoder.final_layer_norm", leaf, m.encFinal))
	checkSegment(finalSeg, enc, out)
	enc.MustDrop()
	g = m.backwardThrough(out, leaf, g)
	for i := nEnc - 1; i >= 0; i-- {
		leaf := encIn[i].MustDetach(false).MustSetRequiresGrad(true, true)
		seed(encSeg(i))
		out := m.block(m.encoder[i], leaf.MustShallowClone(), encBias, nil, nil, nil)
		checkSegment(encSeg(i), encIn[i+1], out)
		encIn[i+1].MustDrop()
		g = m.backwardThrough(out, leaf, g)
	}

	// The input dropout with gradients, and the loss carrying g to the embeddings.
	seed(0)
	x := m.dropout(embeds.MustShallowClone())
	checkSegment(0, encIn[0], x)
	encIn[0].MustDrop()
	dot := x.MustMul(g, true).MustSum(gotch.Float, true)
	g.MustDrop()
	dd := dot.MustDetach(false)
	total := dot.MustSub(dd, true).MustAdd(value, true)
	dd.MustDrop()
	value.MustDrop()
	return Outputs{Loss: total}, nil
}

// backwardThrough back-propagates out (consumed) from leaf: against gradOut (consumed) when
// given, else out is a scalar loss. It returns leaf's gradient and drops leaf.
func (m *Model) backwardThrough(out, leaf, gradOut *ts.Tensor) *ts.Tensor {
	s := out
	if gradOut != nil {
		s = out.MustMul(gradOut, true).MustSum(gotch.Float, true)
		gradOut.MustDrop()
	}
	s.MustBackward()
	s.MustDrop()
	g := leaf.MustGrad(false)
	if !g.MustDefined() {
		panic(fmt.Errorf("t5: recomputed backward: no gradient reached a block's input"))
	}
	g = g.MustDetach(true)
	leaf.MustDrop()
	return g
}
