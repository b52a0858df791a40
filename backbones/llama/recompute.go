package llama

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/backbones/quant"
)

// The training loss of an NF4 model. Plain autograd would keep every layer's dequantised
// weights until the backward pass (each matmul saves its weight for its input's gradient):
// the whole model in full precision again, ≈26 GB for Llama-2-7B in float32. Instead the
// forward runs without gradients, keeping each layer's input [B, T, D]; then, last layer
// first, each layer is recomputed with gradients from its saved input and differentiated
// alone (quant.Grads: one layer's weights dequantised at a time) against the gradient of
// its output. What is trainable comes back to the step's own backward through the returned
// loss, loss + Σ⟨t, g_t⟩ − Σ⟨t, g_t⟩.detach(): its value is the loss and its gradient is
// exact for every t — the input embeddings (input methods), unfrozen norm or head weights,
// and hook methods' parameters through their re-called hooks (hookrecord.go). Llama has no
// dropout of its own; hooks' random draws are reseeded per call (hookrecord.go).

// recomputed counts recomputeLoss calls; recomputeCheck, if set, sees each layer's output
// from the forward pass and from its recomputation (tests: they must be equal, dropout
// masks and all).
var (
	recomputed     int
	recomputeCheck func(layer int, forward, again *ts.Tensor)
)

// recomputable reports whether a training loss takes recomputeLoss: 4-bit weights, gradients
// recorded, and something that wants one (the input, a hook, an unfrozen weight).
func (m *Model) recomputable(full *ts.Tensor) bool {
	if !m.Quantized() || m.plainBackward || !gradEnabled() {
		return false
	}
	if full.MustRequiresGrad() || m.hooks.Any() {
		return true
	}
	for _, w := range m.headWeights() {
		if w.MustRequiresGrad() {
			return true
		}
	}
	for i := range m.layers {
		for _, w := range m.layerWeights(&m.layers[i]) {
			if w.MustRequiresGrad() {
				return true
			}
		}
	}
	return false
}

// gradEnabled is libtorch's grad mode on this thread, probed: whether an op on a leaf that
// requires grad records a graph (gotch's GradSetEnabled returns the previous mode read as
// 8 bytes of a C int, so its answer cannot be trusted).
func gradEnabled() bool {
	x, err := ts.Ones([]int64{1}, gotch.Float, gotch.CPU)
	if err != nil {
		return false
	}
	defer x.MustDrop()
	leaf, err := x.SetRequiresGrad(true, false) // a second handle: both are dropped
	if err != nil {
		return false
	}
	defer leaf.MustDrop()
	y, err := leaf.MulScalar(scalar(1), false)
	if err != nil {
		return false
	}
	defer y.MustDrop()
	return y.MustRequiresGrad()
}

// layerWeights are a layer's full-precision tensors (norms; linears not stored in 4 bits).
func (m *Model) layerWeights(L *layer) []*ts.Tensor {
	ws := []*ts.Tensor{L.attnNorm, L.ffnNorm}
	for _, l := range []*linear{&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down} {
		if l.w != nil {
			ws = append(ws, l.w)
		}
	}
	return ws
}

// headWeights are the final norm's and the LM head's full-precision tensors.
func (m *Model) headWeights() []*ts.Tensor {
	if m.head.w != nil {
		return []*ts.Tensor{m.norm, m.head.w}
	}
	return []*ts.Tensor{m.norm}
}

// segmentSeeds are a training step's per-layer hook seeds (the head last); nil outside a
// training step or without hooks, when the generator is left alone.
func (m *Model) segmentSeeds(n int) ([]int64, error) {
	if !m.hooks.Any() || m.batch == nil || !m.batch.Train {
		return nil, nil
	}
	r, err := ts.Randint(math.MaxInt32/1024, []int64{int64(n)}, gotch.Int64, gotch.CPU)
	if err != nil {
		return nil, err
	}
	s := r.Int64Values(true)
	for i := range s {
		s[i] *= 1024 // room for each layer's hook calls
	}
	return s, nil
}

// recomputeLoss is the training loss of full [B, L+T, D] under mask (head's scalar of the
// final hidden states), its gradient routed as the file's comment says. A libtorch failure (a panic of a Must op) is its error.
func (m *Model) recomputeLoss(full, mask *ts.Tensor, head lossHead) (out *ts.Tensor, err error) {
	recomputed++
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("llama: recomputed backward: %v", r)
		}
	}()
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
	nl := len(m.layers)
	seeds, err := m.segmentSeeds(nl + 1)
	if err != nil {
		return nil, err
	}
	seed := func(i int) int64 {
		if seeds == nil {
			return 0
		}
		return seeds[i]
	}
	rec := &recorder{orig: m.hooks, seeded: seeds != nil}
	if m.hooks.Any() {
		prev := m.hooks
		m.hooks = rec.hooks()
		defer func() { m.hooks = prev }()
	}
	budget, err := keepBudget()
	if err != nil {
		return nil, err
	}
	keepFrom := nl - m.keptLayers(budget)
	defer func() {
		m.keeping = false
		m.dropKept(nil)
	}()
	inputs := make([]*ts.Tensor, nl+1)
	defer func() {
		for _, t := range inputs {
			if t != nil {
				t.MustDrop()
			}
		}
		for i := range rec.records {
			rec.records[i].drop()
		}
	}()
	ts.NoGrad(func() {
		h := full.MustDetach(false)
		if h.DType() != m.DType {
			h = h.MustTotype(m.DType, true)
		}
		for i := range m.layers {
			inputs[i] = h
			rec.start(seed(i), false)
			m.keeping = i >= keepFrom
			h = m.block(&m.layers[i], h.MustShallowClone(), cos, sin, bias, nil)
		}
		m.keeping = false
		inputs[nl] = h
	})
	var terms []*ts.Tensor // Σ⟨t, g_t⟩ so far (float32 scalars)
	defer func() {
		for _, t := range terms {
			t.MustDrop()
		}
	}()
	// Head: the loss and its gradient with respect to the last layer's output.
	leaf := inputs[nl].MustDetach(false).MustSetRequiresGrad(true, true)
	rec.start(seed(nl), true)
	loss := head(m.rmsNorm("model.norm", leaf, m.norm))
	value := loss.MustDetach(false)
	defer value.MustDrop()
	g, err := m.segmentGrads(rec, loss, leaf, m.headWeights(), &terms)
	loss.MustDrop()
	leaf.MustDrop()
	if err != nil {
		return nil, err
	}
	wantInput := full.MustRequiresGrad()
	for i := nl - 1; i >= 0; i-- {
		leaf := inputs[i].MustDetach(false)
		if i > 0 || wantInput {
			leaf = leaf.MustSetRequiresGrad(true, true)
		}
		rec.start(seed(i), true)
		out := m.block(&m.layers[i], leaf.MustShallowClone(), cos, sin, bias, nil)
		if recomputeCheck != nil {
			recomputeCheck(i, inputs[i+1], out)
		}
		inputs[i+1].MustDrop()
		inputs[i+1] = nil
		s := out.MustMul(g, true).MustSum(gotch.Float, true)
		g.MustDrop()
		in := leaf
		if !leaf.MustRequiresGrad() {
			in = nil
		}
		g, err = m.segmentGrads(rec, s, in, m.layerWeights(&m.layers[i]), &terms)
		s.MustDrop()
		leaf.MustDrop()
		m.dropKept(&m.layers[i])
		if err != nil {
			return nil, err
		}
	}
	if wantInput {
		x := full
		if x.DType() != gotch.Float {
			x = full.MustTotype(gotch.Float, false)
		}
		terms = append(terms, dot(x, g))
		if x != full {
			x.MustDrop()
		}
	}
	if g != nil {
		g.MustDrop()
	}
	return surrogate(value, terms), nil
}

// segmentGrads differentiates root (a recomputed segment's scalar) with respect to its input
// leaf (nil: none wanted), the trainable ones of ws and the recorded hook results. It returns
// the input's gradient (in the compute dtype; nil without leaf) and appends the segment's
// terms ⟨w, g_w⟩ and ⟨r′, g_r⟩ to terms; the records are consumed.
func (m *Model) segmentGrads(rec *recorder, root, leaf *ts.Tensor, ws []*ts.Tensor, terms *[]*ts.Tensor) (*ts.Tensor, error) {
	records := rec.records
	rec.records = nil
	defer func() {
		for i := range records {
			records[i].drop()
		}
	}()
	var inputs, trainable []*ts.Tensor
	if leaf != nil {
		inputs = append(inputs, leaf)
	}
	for _, w := range ws {
		if w.MustRequiresGrad() {
			trainable = append(trainable, w)
		}
	}
	inputs = append(inputs, trainable...)
	for i := range records {
		inputs = append(inputs, records[i].out)
	}
	if len(inputs) == 0 || !root.MustRequiresGrad() {
		return nil, nil
	}
	grads, err := quant.Grads(root, inputs)
	if err != nil {
		return nil, err
	}
	var gin *ts.Tensor
	if leaf != nil {
		gin, grads = grads[0], grads[1:]
		if !gin.MustDefined() {
			gin.MustDrop()
			gin = leaf.MustZerosLike(false)
		}
	}
	for k, gr := range grads {
		if gr.MustDefined() {
			if k < len(trainable) {
				*terms = append(*terms, dot(trainable[k], gr))
			} else {
				*terms = append(*terms, rec.term(&records[k-len(trainable)], gr))
			}
		}
		gr.MustDrop()
	}
	return gin, nil
}

// dot is ⟨t, g⟩ as a float32 scalar, differentiable in t (g is a constant).
func dot(t, g *ts.Tensor) *ts.Tensor {
	g2 := g
	if g.DType() != t.DType() {
		g2 = g.MustTotype(t.DType(), false)
		defer g2.MustDrop()
	}
	return t.MustMul(g2, false).MustSum(gotch.Float, true)
}

// surrogate is value + Σ terms − (Σ terms).detach(): the loss's value with the terms'
// gradients.
func surrogate(value *ts.Tensor, terms []*ts.Tensor) *ts.Tensor {
	if len(terms) == 0 {
		return value.MustShallowClone()
	}
	sum := terms[0].MustShallowClone()
	for _, t := range terms[1:] {
		sum = sum.MustAdd(t, true)
	}
	d := sum.MustDetach(false)
	out := sum.MustSub(d, true).MustAdd(value, true)
	d.MustDrop()
	return out
}
