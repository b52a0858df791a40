// Package t5 is the T5 encoder–decoder (v1.0 and v1.1 / LM-adapted) on gotch, following
// Hugging Face's modeling_t5.py so that real checkpoints load and compute the same numbers.
//
// The forward pass reads top to bottom like the paper:
//
//	encoder:  h = inputs_embeds
//	          for each block: h += SelfAttention(RMSNorm(h), bias_enc + mask)
//	                          h += FFN(RMSNorm(h))
//	          enc = RMSNorm(h)
//	decoder:  g = Embed(shift_right(labels))
//	          for each block: g += SelfAttention(RMSNorm(g), bias_dec + causal)
//	                          g += CrossAttention(RMSNorm(g), enc, mask)
//	                          g += FFN(RMSNorm(g))
//	          logits = LMHead(RMSNorm(g))      (v1.0: shared embedding, scaled by d^-½)
//
// Both stacks and every mode (encoding, teacher-forced decoding, cached greedy generation) run
// the same block function; generation passes a per-layer key/value cache. In training steps
// (Batch.Train) dropout at HF's places — input embeddings, attention weights, each sublayer's
// output, the FFN's hidden layer, each stack's output — at Config.Dropout; never in evaluation.
// A method's encoder-output hook sees the encoder states before the decoder does.
//
// T5 attention has no 1/√d_kv scaling (it is folded into the initialisation) and no absolute
// positions: a learned bias per (relative-position bucket, head), owned by the first block of
// each stack and shared by all blocks. FFN is ReLU (v1.0) or gated-GELU-tanh (v1.1).
//
// Memory: every intermediate is dropped as soon as it is consumed (gotch tensors are C
// memory; finalisers run far too late). Autograd keeps its own references.
package t5

import (
	"fmt"
	"math"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// Config is the architecture (Hugging Face T5Config fields that change the computation).
type Config struct {
	Vocab, DModel, DKV, DFF int64
	EncoderLayers           int64
	DecoderLayers           int64
	Heads                   int64
	Buckets, MaxDistance    int64
	Eps                     float64
	GatedGELU               bool // v1.1: wo(gelu_tanh(wi_0 x) * wi_1 x); v1.0: wo(relu(wi x))
	TiedHead                bool // v1.0: logits = (d^-½ · g) sharedᵀ; v1.1: lm_head
	Pad, EOS, DecoderStart  int64
	// Dropout is the rate applied in training steps (HF's dropout_rate, 0.1 in released
	// checkpoints; random-init presets default to 0); evaluation never drops.
	Dropout float64
}

// attention holds one attention sublayer's projections in HF's [out, in] layout.
type attention struct {
	prefix     string // HF name prefix, e.g. "encoder.block.0.layer.0.SelfAttention"
	q, k, v, o *ts.Tensor
	// qkv is [q; k; v] stacked (self-attention in bf16 mode, see ToBF16); q, k and v are then
	// views of it, so one matmul projects all three.
	qkv *ts.Tensor
}

// feedForward holds one FFN sublayer (wi for ReLU, wi0/wi1 for gated-GELU).
type feedForward struct {
	prefix           string
	wi, wi0, wi1, wo *ts.Tensor
}

type block struct {
	selfNorm, crossNorm, ffNorm *ts.Tensor
	self, cross                 attention
	ff                          feedForward
}

// Model is a T5 with its frozen weights.
type Model struct {
	Cfg Config

	shared             *ts.Tensor // [vocab, d]
	encoder, decoder   []block
	encBias, decBias   *ts.Tensor // relative_attention_bias [buckets, heads] of block 0
	encFinal, decFinal *ts.Tensor
	lmHead             *ts.Tensor // nil when tied
	hooks              *core.Hooks
	batch              *core.Batch // the batch being computed: hooks' context, train flag
	bf16               bool        // matmuls in bf16 (ToBF16)
	bucketCache        map[[3]int64]*ts.Tensor
	weights            map[string]*ts.Tensor // every parameter by HF name
	stacked            []*ts.Tensor          // stacked q/k/v weights (ToBF16) whose views are in weights
	// headBF16 is a bf16 copy of the frozen fp32 embedding table headSrc, the tied LM head's
	// weight in bf16 mode: cast once, not at every forward and every generated token.
	headBF16, headSrc *ts.Tensor
	nf4               packedLinears // --quant nf4: 4-bit linears by site; their fields are nil (quant.go)
}

// ---- small ops ---------------------------------------------------------------------------

func scalar(v float64) *ts.Scalar { return ts.FloatScalar(v) }

// rmsNorm is T5LayerNorm: x · rsqrt(mean(x²) + eps) · w, with no mean subtraction and no bias.
// Its output passes through the norm hook of site (e.g. "encoder.block.0.layer.0.layer_norm",
// "encoder.final_layer_norm"), if any.
func (m *Model) rmsNorm(site string, x, w *ts.Tensor) *ts.Tensor {
	sq := x.MustPowTensorScalar(scalar(2), false)
	variance := sq.MustMeanDim([]int64{-1}, true, gotch.Float, true)
	inv := variance.MustAddScalar(scalar(m.Cfg.Eps), true).MustRsqrt(true)
	normed := x.MustMul(inv, false)
	inv.MustDrop()
	out := normed.MustMul(w, true)
	if m.hooks != nil && m.hooks.Norm != nil {
		if o2 := m.hooks.Norm(core.HookCall{Site: site, Batch: m.batch}, out); o2 != out {
			out.MustDrop()
			out = o2
		}
	}
	return out
}

// normSite names the layer norm in front of a sublayer: "encoder.block.0.layer.0.SelfAttention"
// → "encoder.block.0.layer.0.layer_norm" (HF's layout).
func normSite(sublayer string) string {
	return sublayer[:strings.LastIndexByte(sublayer, '.')] + ".layer_norm"
}

// linear is y = x Wᵀ for HF's [out, in] weights, passing y through a linear hook if any.
// In bf16 mode the matmul runs in bf16 and y comes back in fp32 (see linearBF16).
func (m *Model) linear(site string, x, w *ts.Tensor) *ts.Tensor {
	return m.linearTo(site, x, w, false)
}

// linearBF16 is linear for a projection whose output only feeds another bf16 matmul (q, k, v
// into attention; the FFN's input projections into its output projection): in bf16 mode
// without a linear hook its output stays bf16, as under PyTorch's autocast, sparing a cast to
// fp32 and back (and the activation between runs in bf16). fp32 mode is unchanged.
func (m *Model) linearBF16(site string, x, w *ts.Tensor) *ts.Tensor {
	return m.linearTo(site, x, w, m.hooks == nil || m.hooks.Linear == nil)
}

func (m *Model) linearTo(site string, x, w *ts.Tensor, keepBF16 bool) *ts.Tensor {
	if w == nil { // a 4-bit weight, dequantised (to bf16 in bf16 mode) for this call only
		w = m.dequantized(site)
		defer w.MustDrop()
	}
	if m.bf16 && w.DType() != gotch.BFloat16 { // the fp32 embedding table as a tied LM head
		w = m.bf16Head(w)
		if w != m.headBF16 {
			defer w.MustDrop()
		}
	}
	wt := w.MustTranspose(0, 1, false)
	var y *ts.Tensor
	if m.bf16 { // the matmul in bf16 against bf16 weights
		xb := x.MustTotype(gotch.BFloat16, false)
		y = xb.MustMatmul(wt, true)
		if !keepBF16 {
			y = y.MustTotype(gotch.Float, true)
		}
	} else {
		y = x.MustMatmul(wt, false)
	}
	wt.MustDrop()
	if m.hooks != nil && m.hooks.Linear != nil {
		xh := x
		if x.DType() != gotch.Float { // hooks see fp32 (an input kept in bf16 by linearBF16's caller)
			xh = x.MustTotype(gotch.Float, false)
			defer xh.MustDrop()
		}
		if y2 := m.hooks.Linear(core.HookCall{Site: site, Batch: m.batch}, xh, y); y2 != y {
			y.MustDrop()
			y = y2
		}
	}
	return y
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

// sublayerOut passes a sublayer's output through the sublayer hook (adapters), if any.
func (m *Model) sublayerOut(site string, h *ts.Tensor) *ts.Tensor {
	if m.hooks != nil && m.hooks.Sublayer != nil {
		if h2 := m.hooks.Sublayer(core.HookCall{Site: site, Batch: m.batch}, h); h2 != h {
			h.MustDrop()
			return h2
		}
	}
	return h
}

// splitHeads: [B, T, H·dkv] → [B, H, T, dkv]; consumes x.
func (m *Model) splitHeads(x *ts.Tensor) *ts.Tensor {
	sz := x.MustSize()
	return x.MustView([]int64{sz[0], sz[1], m.Cfg.Heads, m.Cfg.DKV}, true).MustTranspose(1, 2, true)
}

// mergeHeads: [B, H, T, dkv] → [B, T, H·dkv]; consumes x.
func (m *Model) mergeHeads(x *ts.Tensor) *ts.Tensor {
	sz := x.MustSize()
	return x.MustTranspose(1, 2, true).MustContiguous(true).MustView([]int64{sz[0], sz[2], m.Cfg.Heads * m.Cfg.DKV}, true)
}

// attend computes dropout(softmax(q kᵀ + bias)) v for [B, H, *, dkv] q, k, v (no 1/√d
// scaling in T5). bias broadcasts to [B, H, Tq, Tk]; nil is no bias (cross-attention over a
// batch without padding). Consumes nothing.
func (m *Model) attend(q, k, v, bias *ts.Tensor) *ts.Tensor {
	if m.bf16 { // both matmuls in bf16; the bias, mask and softmax in fp32; ctx stays bf16
		// (it only feeds the output projection's bf16 matmul)
		qb, kb, vb := q.MustTotype(gotch.BFloat16, false), k.MustTotype(gotch.BFloat16, false), v.MustTotype(gotch.BFloat16, false)
		kt := kb.MustTranspose(-1, -2, true)
		scores := qb.MustMatmul(kt, true) // bf16
		kt.MustDrop()
		if bias != nil { // bf16 + fp32 → fp32 in one pass (no separate cast of the scores)
			scores = scores.MustAdd(bias, true)
		}
		weights := m.dropout(scores.MustSoftmax(-1, gotch.Float, true)).MustTotype(gotch.BFloat16, true)
		ctx := weights.MustMatmul(vb, true)
		vb.MustDrop()
		return ctx
	}
	kt := k.MustTranspose(-1, -2, false)
	scores := q.MustMatmul(kt, false)
	kt.MustDrop()
	if bias != nil {
		scores = scores.MustAdd(bias, true)
	}
	weights := m.dropout(scores.MustSoftmax(-1, gotch.Float, true))
	ctx := weights.MustMatmul(v, true)
	return ctx
}

// embed looks up token embeddings, in fp32 whatever the table's dtype.
func (m *Model) embed(ids *ts.Tensor) *ts.Tensor {
	e := ts.MustEmbedding(m.shared, ids, -1, false, false)
	if m.bf16 {
		return e.MustTotype(gotch.Float, true)
	}
	return e
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
	if a.qkv == nil || !m.bf16 || (m.hooks != nil && m.hooks.Linear != nil) ||
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

// training reports whether the current call is a training step (dropout on).
func (m *Model) training() bool { return m.batch != nil && m.batch.Train && m.Cfg.Dropout > 0 }

// dropout is HF's nn.Dropout(dropout_rate): active only in training steps. Consumes x.
func (m *Model) dropout(x *ts.Tensor) *ts.Tensor {
	if !m.training() {
		return x
	}
	out := ts.MustDropout(x, m.Cfg.Dropout, true)
	x.MustDrop()
	return out
}

// attention is one T5 attention sublayer: queries from n, keys and values from kv (n itself
// for self-attention, the encoder states for cross-attention), through the cache when one
// is given. Self-attention appends this call's keys/values to the cache (generation, one
// position per step); cross-attention projects the encoder states once and reuses them.
func (m *Model) attention(a attention, n, kv, bias *ts.Tensor, c *kvCache, cross bool) *ts.Tensor {
	var q, k, v *ts.Tensor
	switch {
	case cross && c != nil && c.crossK != nil:
		k, v = c.crossK, c.crossV
	default:
		var fused bool
		if !cross {
			if qf, kf, vf, ok := m.projectQKV(a, n); ok {
				q, k, v, fused = m.splitHeads(qf), m.splitHeads(kf), m.splitHeads(vf), true
			}
		}
		if !fused {
			k = m.splitHeads(m.linearBF16(a.prefix+".k", kv, a.k))
			v = m.splitHeads(m.linearBF16(a.prefix+".v", kv, a.v))
		}
		if c != nil && cross {
			c.crossK, c.crossV = k, v
		}
		if c != nil && !cross {
			if c.selfK != nil {
				nk := ts.MustCat([]*ts.Tensor{c.selfK, k}, 2)
				nv := ts.MustCat([]*ts.Tensor{c.selfV, v}, 2)
				for _, t := range []*ts.Tensor{c.selfK, c.selfV, k, v} {
					t.MustDrop()
				}
				k, v = nk, nv
			}
			c.selfK, c.selfV = k, v
		}
	}
	if q == nil {
		q = m.splitHeads(m.linearBF16(a.prefix+".q", n, a.q))
	}
	ctx := m.attend(q, k, v, bias)
	q.MustDrop()
	if c == nil { // nothing keeps them
		k.MustDrop()
		v.MustDrop()
	}
	merged := m.mergeHeads(ctx)
	out := m.linear(a.prefix+".o", merged, a.o)
	merged.MustDrop()
	return out
}

// absorbCross reports whether cross-attention should run absorbed (crossAttentionAbsorbed):
// in bf16 mode (fp32 stays exactly HF's computation), with no linear hook (a hook must see
// the keys and values), when it is cheaper — the decoder is short, as for classification
// targets of a few tokens.
func (m *Model) absorbCross(n, enc *ts.Tensor) bool {
	if !m.bf16 || (m.hooks != nil && m.hooks.Linear != nil) {
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

// kvCache holds one decoder layer's keys and values across generation steps.
type kvCache struct{ selfK, selfV, crossK, crossV *ts.Tensor }

func (c *kvCache) drop() {
	for _, t := range []*ts.Tensor{c.selfK, c.selfV, c.crossK, c.crossV} {
		dropIfAny(t)
	}
	*c = kvCache{}
}

// feedForward is wo(relu(wi x)) (v1.0) or wo(gelu_tanh(wi_0 x) · wi_1 x) (v1.1).
func (m *Model) feedForward(f feedForward, n *ts.Tensor) *ts.Tensor {
	var hidden *ts.Tensor
	if m.Cfg.GatedGELU {
		gate := m.linearBF16(f.prefix+".wi_0", n, f.wi0).MustGelu("tanh", true)
		lin := m.linearBF16(f.prefix+".wi_1", n, f.wi1)
		hidden = gate.MustMul(lin, true)
		lin.MustDrop()
	} else {
		hidden = m.linearBF16(f.prefix+".wi", n, f.wi).MustRelu(true)
	}
	hidden = m.dropout(hidden)
	out := m.linear(f.prefix+".wo", hidden, f.wo)
	hidden.MustDrop()
	return out
}

// residual returns h + dropout(delta) and drops h and delta.
func (m *Model) residual(h, delta *ts.Tensor) *ts.Tensor {
	delta = m.dropout(delta)
	out := h.MustAdd(delta, true)
	delta.MustDrop()
	return out
}

// block is one T5 block, for both stacks and every mode (encoding, teacher-forced decoding,
// cached generation):
//
//	h += SelfAttention(RMSNorm(h), selfBias)
//	h += CrossAttention(RMSNorm(h), enc, crossBias)     (decoder only)
//	h += FFN(RMSNorm(h))
//
// each sublayer's output passing through its hook and dropout. Consumes h.
func (m *Model) block(b block, h, selfBias, enc, crossBias *ts.Tensor, c *kvCache) *ts.Tensor {
	n := m.rmsNorm(normSite(b.self.prefix), h, b.selfNorm)
	a := m.sublayerOut(b.self.prefix, m.attention(b.self, n, n, selfBias, c, false))
	n.MustDrop()
	h = m.residual(h, a)

	if enc != nil || (c != nil && c.crossK != nil) {
		n = m.rmsNorm(normSite(b.cross.prefix), h, b.crossNorm)
		var x *ts.Tensor
		if c == nil && b.cross.k != nil && m.absorbCross(n, enc) { // (4-bit k, v: the plain form)
			x = m.crossAttentionAbsorbed(b.cross, n, enc, crossBias)
		} else {
			x = m.attention(b.cross, n, enc, crossBias, c, true)
		}
		x = m.sublayerOut(b.cross.prefix, x)
		n.MustDrop()
		h = m.residual(h, x)
	}

	n = m.rmsNorm(normSite(b.ff.prefix), h, b.ffNorm)
	f := m.sublayerOut(b.ff.prefix, m.feedForward(b.ff, n))
	n.MustDrop()
	return m.residual(h, f)
}

// ---- masks and position biases -----------------------------------------------------------

// maskBias turns a [B, Tk] 1/0 mask into an additive [B, 1, 1, Tk] bias: 0 for real keys,
// float32's lowest value for padding (as HF does, so a fully masked row stays finite). It is
// nil when nothing is padded (fixed-length or length-grouped batches): adding zeros would
// change no score, but it would cost a pass over every [B, H, Tq, Tk] score tensor.
func maskBias(mask *ts.Tensor) *ts.Tensor {
	if lowest := mask.MustMin(false); lowest.Float64Values(true)[0] == 1 {
		return nil
	}
	sz := mask.MustSize()
	inv := mask.MustRsubScalar(scalar(1), false) // 1 - mask
	b := inv.MustMulScalar(scalar(-math.MaxFloat32), true)
	return b.MustView([]int64{sz[0], 1, 1, sz[1]}, true)
}

// dropIfAny drops t unless it is nil.
func dropIfAny(t *ts.Tensor) {
	if t != nil {
		t.MustDrop()
	}
}

// ---- encoder -------------------------------------------------------------------------------

// Encode runs the encoder on embeddings [B, L, d] with mask [B, L]; returns [B, L, d].
func (m *Model) Encode(embeds, mask *ts.Tensor) *ts.Tensor {
	bias := m.encoderBias(mask)
	h := m.dropout(embeds.MustShallowClone())
	for _, b := range m.encoder {
		h = m.block(b, h, bias, nil, nil, nil)
	}
	bias.MustDrop()
	out := m.rmsNorm("encoder.final_layer_norm", h, m.encFinal)
	h.MustDrop()
	return m.dropout(out)
}

// encoderOutput runs the encoder and the method's encoder-output hook, if any.
func (m *Model) encoderOutput(embeds, mask *ts.Tensor) *ts.Tensor {
	enc := m.Encode(embeds, mask)
	if m.hooks != nil && m.hooks.EncoderOutput != nil {
		if e2 := m.hooks.EncoderOutput(core.HookCall{Site: "encoder", Batch: m.batch}, enc, mask); e2 != enc {
			enc.MustDrop()
			enc = e2
		}
	}
	return enc
}

// ---- decoder (teacher forcing) ---------------------------------------------------------------

// ShiftRight builds decoder inputs from labels: start token first, −100 replaced by pad.
func (m *Model) ShiftRight(labels [][]int64) [][]int64 {
	out := make([][]int64, len(labels))
	for i, row := range labels {
		r := make([]int64, len(row))
		r[0] = m.Cfg.DecoderStart
		for j := 1; j < len(row); j++ {
			v := row[j-1]
			if v == -100 {
				v = m.Cfg.Pad
			}
			r[j] = v
		}
		out[i] = r
	}
	return out
}

// causalBias is [1, 1, T, T]: 0 on and below the diagonal, lowest float above it.
func causalBias(t int64) *ts.Tensor {
	ones := ts.MustOnes([]int64{t, t}, gotch.Float, gotch.CPU)
	upper := ones.MustTriu(1, true)
	return upper.MustMulScalar(scalar(-math.MaxFloat32), true).MustView([]int64{1, 1, t, t}, true)
}

// Decode runs the decoder over decoder input ids [B, T] (teacher forcing, causal mask only,
// as HF does when called with labels) and returns the final hidden states [B, T, d].
func (m *Model) Decode(decIDs, enc, encMask *ts.Tensor) *ts.Tensor {
	selfBias, crossBias := m.decoderBiases(decIDs.MustSize()[1], encMask)
	g := m.dropout(m.embed(decIDs))
	for _, b := range m.decoder {
		g = m.block(b, g, selfBias, enc, crossBias, nil)
	}
	selfBias.MustDrop()
	dropIfAny(crossBias)
	out := m.rmsNorm("decoder.final_layer_norm", g, m.decFinal)
	g.MustDrop()
	return m.dropout(out)
}

// LMHead maps decoder states to vocabulary logits; v1.0 rescales by d^-½ and reuses the
// shared embedding.
func (m *Model) LMHead(g *ts.Tensor) *ts.Tensor {
	if m.lmHead != nil {
		return m.linear("lm_head", g, m.lmHead)
	}
	scaled := g.MustMulScalar(scalar(math.Pow(float64(m.Cfg.DModel), -0.5)), false)
	logits := m.linear("lm_head", scaled, m.shared)
	scaled.MustDrop()
	return logits
}

// Outputs of a teacher-forced forward pass.
type Outputs struct {
	Loss, Logits, EncoderHidden *ts.Tensor
}

// Drop frees every non-nil output.
func (o Outputs) Drop() {
	for _, t := range []*ts.Tensor{o.Loss, o.Logits, o.EncoderHidden} {
		dropIfAny(t)
	}
}

// Forward is the full teacher-forced pass. keep selects which outputs besides the loss are
// returned (the trainer needs only the loss; verification needs everything).
func (m *Model) Forward(embeds, mask *ts.Tensor, labels [][]int64, keepLogits, keepEncoder bool) (Outputs, error) {
	if len(labels) == 0 {
		return Outputs{}, fmt.Errorf("t5: forward without labels")
	}
	if m.recomputable(embeds, keepLogits, keepEncoder) { // 4-bit weights: recompute.go
		return m.forwardRecomputed(embeds, mask, labels)
	}
	enc := m.encoderOutput(embeds, mask)
	decIDs := ts.MustOfSlice(flatten(m.ShiftRight(labels))).MustView([]int64{int64(len(labels)), int64(len(labels[0]))}, true)
	g := m.Decode(decIDs, enc, mask)
	decIDs.MustDrop()
	logits := m.LMHead(g)
	g.MustDrop()

	target := ts.MustOfSlice(flatten(labels))
	flat := logits.MustView([]int64{-1, m.Cfg.Vocab}, false)
	loss := flat.MustCrossEntropyLoss(target, ts.None, 1, -100, 0, true)
	target.MustDrop()

	out := Outputs{Loss: loss}
	if keepLogits {
		out.Logits = logits
	} else {
		logits.MustDrop()
	}
	if keepEncoder {
		out.EncoderHidden = enc
	} else {
		enc.MustDrop()
	}
	return out, nil
}

// ---- greedy generation with a key/value cache ----------------------------------------------------

// Greedy decodes up to steps tokens per row. The encoder runs once; cross-attention keys and
// values are projected once; self-attention keys and values grow by one position per step.
// With stopAtEOS, tokens after a row's EOS become pad and decoding ends once every row has
// emitted EOS. If stepLogits is non-nil, it receives each step's logits [B, V] (owned by
// the caller).
func (m *Model) Greedy(embeds, mask *ts.Tensor, steps int, stopAtEOS bool, stepLogits *[]*ts.Tensor) [][]int64 {
	B := embeds.MustSize()[0]
	enc := m.encoderOutput(embeds, mask)
	crossBias := maskBias(mask)
	caches := make([]kvCache, len(m.decoder))
	defer func() {
		for i := range caches {
			caches[i].drop()
		}
		dropIfAny(crossBias)
	}()

	out := make([][]int64, B)
	done := make([]bool, B)
	next := make([]int64, B)
	for i := range next {
		next[i] = m.Cfg.DecoderStart
	}
	for step := int64(0); step < int64(steps); step++ {
		ids := ts.MustOfSlice(next).MustView([]int64{B, 1}, true)
		g := m.dropout(m.embed(ids))
		ids.MustDrop()
		pos := m.positionBias(m.decBias, step, 1, step+1, false) // [1, H, 1, step+1]
		for i, b := range m.decoder {
			// The first step projects the encoder states into each layer's cross cache.
			g = m.block(b, g, pos, enc, crossBias, &caches[i])
		}
		if step == 0 {
			enc.MustDrop()
			enc = nil
		}
		pos.MustDrop()
		final := m.dropout(m.rmsNorm("decoder.final_layer_norm", g, m.decFinal))
		g.MustDrop()
		logits := m.LMHead(final).MustView([]int64{B, m.Cfg.Vocab}, true)
		final.MustDrop()
		best := logits.MustArgmax([]int64{-1}, false, false).Int64Values(true)
		if stepLogits != nil {
			*stepLogits = append(*stepLogits, logits)
		} else {
			logits.MustDrop()
		}
		allDone := true
		for i := range best {
			tok := best[i]
			if stopAtEOS && done[i] {
				tok = m.Cfg.Pad
			}
			out[i] = append(out[i], tok)
			if tok == m.Cfg.EOS {
				done[i] = true
			}
			next[i] = tok
			allDone = allDone && done[i]
		}
		if stopAtEOS && allDone {
			break
		}
	}
	if enc != nil {
		enc.MustDrop()
	}
	return out
}

// Within runs f with batch as the context of every hook call and the train flag of the
// model's dropout; the T5 backbone wraps Loss and Generate in it.
func (m *Model) Within(batch *core.Batch, f func()) {
	prev := m.batch
	m.batch = batch
	defer func() { m.batch = prev }()
	f()
}

// SetHooks installs backbone-method hooks (nil removes them).
func (m *Model) SetHooks(h *core.Hooks) { m.hooks = h }

func flatten(rows [][]int64) []int64 {
	var out []int64
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}
