package t5

import (
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// The fast forms: two changes of form, exact in algebra, that the model computes by default
// in fp32 and bf16 alike, with or without a method's linear hooks (LoRA, BitFit):
//
//   - stacked q/k/v: each self-attention's q, k and v weights are one [3·inner, d] tensor (q,
//     k and v are views of it), so one matmul projects all three, and the backward pass
//     computes the input's gradient with one matmul instead of three and two adds. Each third
//     of the output then goes to its own site's linear hook, as it would after its own matmul
//     (LoRA adds its (α/r)·B A x to that third, BitFit its bias).
//   - absorbed cross-attention: a short decoder (a training step's target of a few tokens;
//     greedy decoding within a few dozen steps) never projects the encoder states into keys
//     and values; their projections are absorbed into the queries and the context
//     (crossAttentionAbsorbed).
//
// Both only reorder sums, so they change results by float rounding alone: in fp32 ~1e-6
// relative on losses and logits (forms_test.go bounds it at 1e-5). The plain forms — every
// projection on its own, as Hugging Face's modeling_t5.py writes it — are what the model
// computed in fp32 before; core.FormsEnv (PTBENCH_FORMS=plain) selects them (UseForms), and
// rows computed before reproduce bit for bit under it.
//
// Where the algebra stops: a linear hook on a cross-attention's k or v must see the projected
// keys or values, which the absorbed form never makes (a hook is an arbitrary function of the
// projection, not necessarily a change of weight), so that half — keys or values — stays plain
// in that layer, and only the other half is absorbed (LoRA's default q and v targets: keys
// absorbed, values projected). A weight that trains (full fine-tuning) must get its own
// gradient, so q, k and v are then projected one by one; a 4-bit weight is dequantised per
// call, so 4-bit models keep the plain forms.

// UseForms selects the plain forms (plain) or the fast ones, for which it stacks every
// self-attention's q, k and v weights now. Call it once, after ToDevice (a stacked weight's
// views would not follow a move) and before a method sees the weights (a merged LoRA keeps
// pointers to them). A model from NewModel starts in the fast forms without stacked weights
// (q, k and v projected one by one) until UseForms or ToBF16 stacks them.
func (m *Model) UseForms(plain bool) {
	m.plain = plain
	if plain {
		return
	}
	for _, stack := range [][]block{m.encoder, m.decoder} {
		for i := range stack {
			m.stackQKV(&stack[i].self)
		}
	}
}

// fastFormCounts counts the fast forms taken: stacked projections, absorbed key and value
// halves. Tests read fastForms (as recompute.go's recomputedForwards); nothing else does.
type fastFormCounts struct{ stacked, absorbedK, absorbedV int }

var fastForms fastFormCounts

// formsFromEnv is core.FormsEnv's choice: true for the plain forms.
func formsFromEnv() (plain bool, err error) { return core.PlainForms() }

// stackQKV stores a self-attention's q, k and v weights as one [3·inner, d] tensor and makes
// q, k and v views of it (same names, same values; copies into them, as a weight restore or a
// merged LoRA does, write through).
func (m *Model) stackQKV(a *attention) {
	if a.qkv != nil || a.q == nil { // stacked already, or 4-bit (each dequantised per call)
		return
	}
	qkv := ts.MustCat([]*ts.Tensor{a.q, a.k, a.v}, 0)
	m.stacked = append(m.stacked, qkv)
	m.viewStacked(a, qkv)
}

// viewStacked makes a's q, k and v views of qkv (replacing and dropping what they were) and
// qkv its stacked weight (replacing and dropping a previous one).
func (m *Model) viewStacked(a *attention, qkv *ts.Tensor) {
	inner := m.Cfg.Heads * m.Cfg.DKV
	for i, t := range []**ts.Tensor{&a.q, &a.k, &a.v} {
		m.replaceWeight(t, qkv.MustNarrow(0, int64(i)*inner, inner, false))
	}
	if old := a.qkv; old != nil && old != qkv {
		for i, s := range m.stacked {
			if s == old {
				m.stacked[i] = qkv
			}
		}
		old.MustDrop()
	}
	a.qkv = qkv
}

// projectQKV is the self-attention's q, k and v projections as one matmul of n against the
// stacked weight, each third through its site's linear hook; each [B, T, inner] (bf16 in bf16
// mode unless a hook changed it). ok is false where the plain form must run: plain forms, no
// stacked weight, or q, k or v training (full fine-tuning: the gradient must reach each).
func (m *Model) projectQKV(a attention, n *ts.Tensor) (q, k, v *ts.Tensor, ok bool) {
	if m.plain || a.qkv == nil ||
		a.q.MustRequiresGrad() || a.k.MustRequiresGrad() || a.v.MustRequiresGrad() {
		return nil, nil, nil, false
	}
	fastForms.stacked++
	y := m.matmul(n, a.qkv, m.bf16)
	parts, err := y.Split(m.Cfg.Heads*m.Cfg.DKV, -1)
	y.MustDrop()
	if err != nil {
		panic(err)
	}
	for i, p := range []string{".q", ".k", ".v"} {
		parts[i] = m.hookLinear(a.prefix+p, n, parts[i])
	}
	return parts[0], parts[1], parts[2], true
}

// absorbCheaper reports whether a cross-attention half (keys or values) costs less absorbed,
// for tq query positions in all against tk encoder positions. Per head and row, projecting
// the encoder states costs tk·d·dkv and attending to them tq·tk·dkv; absorbed, the queries'
// projection through the key weight (or the context's through the value weight) costs
// tq·d·dkv and attending to the encoder states themselves tq·tk·d. A training step's tq is
// the decoder's length; greedy decoding's is its step budget (the plain form projects the
// encoder states once per generation, the absorbed one attends to them at every step).
func (m *Model) absorbCheaper(tq, tk int64) bool {
	d, dkv := m.Cfg.DModel, m.Cfg.DKV
	return tq*d*(tk+dkv) < dkv*tk*(d+tq)
}

// crossForms says which halves of a cross-attention run absorbed for tq query positions in
// all against enc: none in the plain forms, for 4-bit weights or when it would cost more
// (absorbCheaper); otherwise each half unless a linear hook changes its projection (the hook
// must see it: the file's comment).
func (m *Model) crossForms(a attention, tq int64, enc *ts.Tensor) (absK, absV bool) {
	if m.plain || enc == nil || a.k == nil || !m.absorbCheaper(tq, enc.MustSize()[1]) {
		return false, false
	}
	if !m.hooks.HasLinear() {
		return true, true
	}
	dev := enc.MustDevice()
	inner := m.Cfg.Heads * m.Cfg.DKV
	return !m.linearHooked(a.prefix+".k", m.Cfg.DModel, inner, dev),
		!m.linearHooked(a.prefix+".v", m.Cfg.DModel, inner, dev)
}

// linearHooked reports whether the linear hook changes the projection at site: it asks it
// about zero rows of that site's shapes. A hook answers with its argument to leave a site
// alone (core.Hooks), and one that changes a site changes every row of it, so the empty call
// tells which without computing anything (and costs nothing).
func (m *Model) linearHooked(site string, in, out int64, dev gotch.Device) bool {
	x := ts.MustZeros([]int64{0, in}, gotch.Float, dev)
	y := ts.MustZeros([]int64{0, out}, gotch.Float, dev)
	defer x.MustDrop()
	defer y.MustDrop()
	r := m.hooks.Linear(core.HookCall{Site: site, Batch: m.batch}, x, y)
	if r != y {
		r.MustDrop()
		return true
	}
	return false
}

// inCompute returns t (consumed) in the matmuls' dtype: bf16 in bf16 mode (an output a hook
// made fp32), as it is otherwise.
func (m *Model) inCompute(t *ts.Tensor) *ts.Tensor {
	if m.bf16 && t.DType() != gotch.BFloat16 {
		return t.MustTotype(gotch.BFloat16, true)
	}
	return t
}

// crossAttentionAbsorbed is cross-attention with the key projection (absK) and/or the value
// projection (absV) absorbed into the queries and the context, so the encoder states are not
// projected for that half:
//
//	scores_h = (q_h W^k_h) encᵀ        instead of  q_h (enc W^k_hᵀ)ᵀ
//	ctx_h    = (softmax_h enc) W^v_hᵀ   instead of  softmax_h (enc W^v_hᵀ)
//
// Exact algebra (associativity); with a decoder of Tq positions against Tk encoder positions
// a half costs ~Tq/d_kv of projecting all Tk positions (each decoder layer projects B·Tk rows
// twice in the plain form — for a 2-token target, 14% of a t5-small PT step's matmul work). A
// half that stays plain projects the encoder states through its site's hook as attention
// does (into c, the generation cache, once). Every product runs in the matmuls' dtype; the
// bias and softmax in fp32. In bf16 mode the encoder states are cast once per layer, so the
// layers' gradients sum in fp32 (generation: once per layer and generation, kept in c).
// Returns the merged context that closeSublayer projects, as attention does.
func (m *Model) crossAttentionAbsorbed(a attention, n, enc, bias *ts.Tensor, c *kvCache, absK, absV bool) *ts.Tensor {
	sz := n.MustSize()
	B, Tq := sz[0], sz[1]
	H, dkv, d := m.Cfg.Heads, m.Cfg.DKV, m.Cfg.DModel
	if absK {
		fastForms.absorbedK++
	}
	if absV {
		fastForms.absorbedV++
	}
	encC := m.crossStates(enc, c)
	if c == nil && encC != enc {
		defer encC.MustDrop()
	}
	// plain projects the encoder states for a half that stays plain: [B, H, Tk, dkv], kept in
	// the cache during generation (the caller drops it otherwise).
	plain := func(site string, w *ts.Tensor, slot **ts.Tensor) *ts.Tensor {
		if c != nil && *slot != nil {
			return *slot
		}
		t := m.inCompute(m.splitHeads(m.linearBF16(a.prefix+site, enc, w)))
		if c != nil {
			*slot = t
		}
		return t
	}
	var kSlot, vSlot **ts.Tensor
	if c != nil {
		kSlot, vSlot = &c.crossK, &c.crossV
	}

	q := m.inCompute(m.linearBF16(a.prefix+".q", n, a.q)) // [B, Tq, H·dkv]
	var scores *ts.Tensor
	if absK { // q W^k per head: [H, B·Tq, dkv] × [H, dkv, d] → [B, H·Tq, d], against encᵀ
		qh := q.MustView([]int64{B * Tq, H, dkv}, true).MustTranspose(0, 1, true)
		wk := a.k.MustView([]int64{H, dkv, d}, false)
		qk := qh.MustBmm(wk, true)
		wk.MustDrop()
		qk = qk.MustView([]int64{H, B, Tq, d}, true).MustTranspose(0, 1, true).MustContiguous(true).
			MustView([]int64{B, H * Tq, d}, true)
		encT := encC.MustTranspose(1, 2, false)
		scores = qk.MustBmm(encT, true).MustView([]int64{B, H, Tq, -1}, true)
		encT.MustDrop()
	} else {
		k := plain(".k", a.k, kSlot)
		kt := k.MustTranspose(-1, -2, false)
		scores = m.splitHeads(q).MustMatmul(kt, true)
		kt.MustDrop()
		if c == nil {
			k.MustDrop()
		}
	}
	if bias != nil { // in bf16 mode bf16 + fp32 → fp32 in one pass
		scores = scores.MustAdd(bias, true)
	}
	weights := m.inCompute(m.dropout(scores.MustSoftmax(-1, gotch.Float, true))) // [B, H, Tq, Tk]

	var merged *ts.Tensor // [B, Tq, H·dkv], what mergeHeads gives
	if absV {             // softmax · enc: [B, H·Tq, Tk] × [B, Tk, d] → [H, B·Tq, d] × W^vᵀ [H, d, dkv]
		we := weights.MustView([]int64{B, H * Tq, -1}, true).MustBmm(encC, true)
		we = we.MustView([]int64{B, H, Tq, d}, true).MustTranspose(0, 1, true).MustContiguous(true).
			MustView([]int64{H, B * Tq, d}, true)
		wvT := a.v.MustView([]int64{H, dkv, d}, false).MustTranspose(1, 2, true)
		ctx := we.MustBmm(wvT, true) // [H, B·Tq, dkv]
		wvT.MustDrop()
		merged = ctx.MustView([]int64{H, B, Tq, dkv}, true).MustPermute([]int64{1, 2, 0, 3}, true).
			MustContiguous(true).MustView([]int64{B, Tq, H * dkv}, true)
	} else {
		v := plain(".v", a.v, vSlot)
		merged = m.mergeHeads(weights.MustMatmul(v, true))
		if c == nil {
			v.MustDrop()
		}
	}
	return merged
}

// crossStates is enc in the matmuls' dtype for the absorbed products: enc itself in fp32; in
// bf16 mode a cast, made once per generation into c (which owns it) or per call otherwise
// (the caller drops it).
func (m *Model) crossStates(enc *ts.Tensor, c *kvCache) *ts.Tensor {
	if !m.bf16 || enc.DType() == gotch.BFloat16 {
		return enc
	}
	if c == nil {
		return enc.MustTotype(gotch.BFloat16, false)
	}
	if c.encB == nil {
		c.encB = enc.MustTotype(gotch.BFloat16, false)
	}
	return c.encB
}
