package t5

import (
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// The bf16 fast forms (--dtype bfloat16), apart from the fp32 computation in model.go, which
// is HF's T5 as written. One decision selects them, fastBF16: bf16 mode and no linear hook (a
// hook must see every projection in fp32). Under it, a projection that only feeds another
// matmul keeps its bf16 output (linearBF16), the self-attention's q, k and v are one stacked
// matmul (projectQKV, unless the weights train) and a short decoder's cross-attention never
// projects the encoder states (crossAttentionAbsorbed). Each is exact in algebra; only the
// rounding differs from the plain bf16 form.

// fastBF16 is the one decision behind every bf16 fast form.
func (m *Model) fastBF16() bool { return m.bf16 && !m.hooks.HasLinear() }

// linearBF16 is linear for a projection whose output only feeds another bf16 matmul (q, k, v
// into attention; the FFN's input projections into its output projection): in bf16 mode
// without a linear hook its output stays bf16, as under PyTorch's autocast, sparing a cast to
// fp32 and back (and the activation between runs in bf16). fp32 mode is unchanged.
func (m *Model) linearBF16(site string, x, w *ts.Tensor) *ts.Tensor {
	return m.linearTo(site, x, w, m.fastBF16())
}

// ToBF16 stores the matmul weights (attention, FFN, an untied LM head) in bf16 and computes
// the matmuls in bf16 from then on; the embedding table stays fp32, so the input embeddings
// are exact (a tied LM head casts it to bf16 for its matmul, as autocast does; rounding the
// table itself cost PT +3.4% smoke loss, +1.5% without); layer norms, the position biases, softmax, the residual
// stream, hooks and the loss stay fp32 (--dtype bfloat16), while an activation that only
// feeds the next matmul (q, k, v, the attention context, the FFN hidden) stays bf16 as under
// PyTorch's autocast. Methods' parameters stay fp32.
//
// Two changes of form, exact in algebra, make bf16 mode do less than autocast would on the same
// network: each self-attention's q, k and v weights are stacked into one matrix (stackQKV: one
// matmul, one cast of its input), and a short decoder's cross-attention never projects the
// encoder states (crossAttentionAbsorbed). Both stand aside when a method hooks the linear
// maps (a hook sees each projection), and the stacked projection while the weights train.
func (m *Model) ToBF16() {
	conv := func(t **ts.Tensor) {
		if *t == nil || (*t).DType() == gotch.BFloat16 {
			return
		}
		m.replaceWeight(t, (*t).MustTotype(gotch.BFloat16, false))
	}
	conv(&m.lmHead) // the embedding table stays fp32 (lookups exact; a tied head casts it per matmul)
	for _, stack := range [][]block{m.encoder, m.decoder} {
		for i := range stack {
			b := &stack[i]
			for _, a := range []*attention{&b.self, &b.cross} {
				conv(&a.q)
				conv(&a.k)
				conv(&a.v)
				conv(&a.o)
			}
			conv(&b.ff.wi)
			conv(&b.ff.wi0)
			conv(&b.ff.wi1)
			conv(&b.ff.wo)
			m.stackQKV(&b.self)
		}
	}
	m.bf16 = true
}

// stackQKV stores a self-attention's q, k and v weights as one [3·inner, d] tensor and makes
// q, k and v views of it (same names, same values; copies into them, as a weight restore
// does, write through). The self-attention then projects q, k and v with one matmul from one
// bf16 cast of its input, and the backward pass computes the input's gradient with one
// matmul (its sum over q, k and v accumulated in fp32 inside it) instead of three and two adds.
func (m *Model) stackQKV(a *attention) {
	if a.qkv != nil || a.q == nil { // stacked already, or 4-bit (each dequantised per call)
		return
	}
	inner := m.Cfg.Heads * m.Cfg.DKV
	qkv := ts.MustCat([]*ts.Tensor{a.q, a.k, a.v}, 0)
	for i, t := range []**ts.Tensor{&a.q, &a.k, &a.v} {
		m.replaceWeight(t, qkv.MustNarrow(0, int64(i)*inner, inner, false))
	}
	a.qkv = qkv
	m.stacked = append(m.stacked, qkv)
}

// replaceWeight puts w where *t was — in the model's field t and under its name in
// m.weights — and drops the old tensor.
func (m *Model) replaceWeight(t **ts.Tensor, w *ts.Tensor) {
	for n, old := range m.weights {
		if old == *t {
			m.weights[n] = w
		}
	}
	(*t).MustDrop()
	*t = w
}

// projectQKV is the self-attention's q, k, v projections as one bf16 matmul when they can
// be (stacked weights, bf16 mode, no linear hook — a hook sees each projection — and no
// weight training: full fine-tuning's gradients must reach q, k and v themselves); each
// [B, T, inner] in bf16. ok is false otherwise.
func (m *Model) projectQKV(a attention, n *ts.Tensor) (q, k, v *ts.Tensor, ok bool) {
	if a.qkv == nil || !m.fastBF16() ||
		a.q.MustRequiresGrad() || a.k.MustRequiresGrad() || a.v.MustRequiresGrad() {
		return nil, nil, nil, false
	}
	y := m.linearBF16(a.prefix+".qkv", n, a.qkv)
	parts, err := y.Split(m.Cfg.Heads*m.Cfg.DKV, -1)
	y.MustDrop()
	if err != nil {
		panic(err)
	}
	return parts[0], parts[1], parts[2], true
}

// absorbCross reports whether cross-attention should run absorbed (crossAttentionAbsorbed):
// in bf16 mode (fp32 stays exactly HF's computation), with no linear hook (a hook must see
// the keys and values), when it is cheaper — the decoder is short, as for classification
// targets of a few tokens.
func (m *Model) absorbCross(n, enc *ts.Tensor) bool {
	if !m.fastBF16() {
		return false
	}
	tq, tk := n.MustSize()[1], enc.MustSize()[1]
	d, dkv := m.Cfg.DModel, m.Cfg.DKV
	// per head and row: projecting keys and values costs Tk·d·dkv (×2) and attending Tq·Tk·dkv
	// (×2); absorbed, scores and values against the encoder states cost Tq·Tk·d and the
	// query/value projections Tq·d·dkv (each ×2).
	return tq*d*(tk+dkv) < dkv*tk*(d+tq)
}

// crossAttentionAbsorbed is cross-attention with the key and value projections absorbed
// into the queries and the context, so the encoder states are never projected:
//
//	scores_h = (q_h W^k_h) encᵀ        instead of  q_h (enc W^k_hᵀ)ᵀ
//	ctx_h    = (softmax_h enc) W^v_hᵀ   instead of  softmax_h (enc W^v_hᵀ)
//
// Exact algebra (associativity); with a decoder of Tq positions against Tk encoder positions
// it costs ~Tq/d_kv of projecting the keys and values of all Tk positions (each decoder layer
// projects B·Tk rows twice in the plain form — for a 2-token target, 14% of a t5-small PT
// step's matmul work). Every product runs in bf16 as in the plain form; the bias and softmax
// in fp32; the encoder states are cast once per layer, so the layers' gradients sum in fp32.
// Returns the output projection's result, as attention does.
func (m *Model) crossAttentionAbsorbed(a attention, n, enc, bias *ts.Tensor) *ts.Tensor {
	sz := n.MustSize()
	B, Tq := sz[0], sz[1]
	H, dkv, d := m.Cfg.Heads, m.Cfg.DKV, m.Cfg.DModel

	// q W^k per head: [B·Tq, H, dkv] → [H, B·Tq, dkv] × [H, dkv, d] → [H, B·Tq, d]
	q := m.linearBF16(a.prefix+".q", n, a.q)
	qh := q.MustView([]int64{B * Tq, H, dkv}, true).MustTranspose(0, 1, true)
	wk := a.k.MustView([]int64{H, dkv, d}, false)
	qk := qh.MustBmm(wk, true)
	wk.MustDrop()
	// → [B, H·Tq, d], against encᵀ [B, d, Tk] → scores [B, H, Tq, Tk] (bias and softmax in fp32)
	qk = qk.MustView([]int64{H, B, Tq, d}, true).MustTranspose(0, 1, true).MustContiguous(true).
		MustView([]int64{B, H * Tq, d}, true)
	encB := enc.MustTotype(gotch.BFloat16, false) // one cast per layer: the layers' gradients meet in fp32
	defer encB.MustDrop()
	encT := encB.MustTranspose(1, 2, false)
	scores := qk.MustBmm(encT, true).MustView([]int64{B, H, Tq, -1}, true)
	encT.MustDrop()
	if bias != nil {
		scores = scores.MustAdd(bias, true)
	}
	weights := m.dropout(scores.MustSoftmax(-1, gotch.Float, true)).MustTotype(gotch.BFloat16, true)

	// softmax · enc: [B, H·Tq, Tk] × [B, Tk, d] → [H, B·Tq, d] × W^vᵀ [H, d, dkv]
	we := weights.MustView([]int64{B, H * Tq, -1}, true).MustBmm(encB, true)
	we = we.MustView([]int64{B, H, Tq, d}, true).MustTranspose(0, 1, true).MustContiguous(true).
		MustView([]int64{H, B * Tq, d}, true)
	wv := a.v.MustView([]int64{H, dkv, d}, false)
	wvT := wv.MustTranspose(1, 2, true)
	ctx := we.MustBmm(wvT, true) // [H, B·Tq, dkv]
	wvT.MustDrop()
	// → [B, Tq, H·dkv] (what mergeHeads gives)
	merged := ctx.MustView([]int64{H, B, Tq, dkv}, true).MustPermute([]int64{1, 2, 0, 3}, true).
		MustContiguous(true).MustView([]int64{B, Tq, H * dkv}, true)
	out := m.linear(a.prefix+".o", merged, a.o)
	merged.MustDrop()
	return out
}

// bf16Head is w (the fp32 embedding table) in bf16: the cached copy while w is frozen, a
// fresh cast (the caller drops it) while it trains (full fine-tuning edits it in place, so
// the cache is dropped then and rebuilt from the restored table afterwards).
func (m *Model) bf16Head(w *ts.Tensor) *ts.Tensor {
	if w.MustRequiresGrad() || w != m.shared {
		m.dropHeadCache()
		return w.MustTotype(gotch.BFloat16, false)
	}
	if m.headBF16 == nil || m.headSrc != w {
		m.dropHeadCache()
		ts.NoGrad(func() { m.headBF16 = w.MustTotype(gotch.BFloat16, false) })
		m.headSrc = w
	}
	return m.headBF16
}

func (m *Model) dropHeadCache() {
	if m.headBF16 != nil {
		m.headBF16.MustDrop()
		m.headBF16, m.headSrc = nil, nil
	}
}
