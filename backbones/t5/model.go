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

	"github.com/ptbench/ptbench/backbones/internal/seq"
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
	// qkv is [q; k; v] stacked (self-attention in the fast forms, see forms.go); q, k and v
	// are then views of it, so one matmul projects all three.
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
	plain              bool        // the plain forms: every projection on its own (forms.go)
	bucketCache        map[[3]int64]*ts.Tensor
	weights            map[string]*ts.Tensor // every parameter by HF name
	stacked            []*ts.Tensor          // stacked q/k/v weights (forms.go) whose views are in weights
	// headBF16 is a bf16 copy of the frozen fp32 embedding table headSrc, the tied LM head's
	// weight in bf16 mode: cast once, not at every forward and every generated token.
	headBF16, headSrc *ts.Tensor
	nf4               packedLinears // --quant nf4: 4-bit linears by site; their fields are nil (quant.go)
	dev               core.Device   // where the weights live and the forward pass makes its tensors (device.go)
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
	if m.hooks.HasNorm() {
		out = core.Replace(out, m.hooks.Norm(core.HookCall{Site: site, Batch: m.batch}, out))
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
	return m.hookLinear(site, x, m.matmul(x, w, keepBF16))
}

// matmul is x Wᵀ for an [out, in] weight: in fp32, or in bf16 mode against bf16 weights with
// the result in bf16 (keepBF16) or cast to fp32.
func (m *Model) matmul(x, w *ts.Tensor, keepBF16 bool) *ts.Tensor {
	wt := w.MustTranspose(0, 1, false)
	defer wt.MustDrop()
	if !m.bf16 {
		return x.MustMatmul(wt, false)
	}
	y := x.MustTotype(gotch.BFloat16, false).MustMatmul(wt, true)
	if !keepBF16 {
		y = y.MustTotype(gotch.Float, true)
	}
	return y
}

// sublayerOut passes a sublayer's output through the sublayer hook (adapters), if any.
func (m *Model) sublayerOut(site string, h *ts.Tensor) *ts.Tensor {
	if m.hooks.HasSublayer() {
		return core.Replace(h, m.hooks.Sublayer(core.HookCall{Site: site, Batch: m.batch}, h))
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

// attention is one T5 attention sublayer up to its output projection: queries from n, keys
// and values from kv (n itself for self-attention, the encoder states for cross-attention),
// through the cache when one is given; returns the merged context [B, T, H·dkv] that
// closeSublayer projects. Self-attention appends this call's keys/values to the cache (generation, one
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
			c.selfK, c.selfV = seq.AppendKV(c.selfK, c.selfV, k, v)
			k, v = c.selfK, c.selfV
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
	return m.mergeHeads(ctx)
}

// kvCache holds one decoder layer's keys and values across generation steps: the
// self-attention's, grown by a position per step; the cross-attention's (those a plain half
// projects, forms.go), made at the first step; and, for absorbed halves in bf16 mode, the
// encoder states in bf16 (encB). steps is the generation's step budget (crossForms' tq).
type kvCache struct {
	selfK, selfV, crossK, crossV, encB *ts.Tensor
	steps                              int64
}

func (c *kvCache) drop() {
	for _, t := range []*ts.Tensor{c.selfK, c.selfV, c.crossK, c.crossV, c.encB} {
		dropIfAny(t)
	}
	*c = kvCache{}
}

// feedForward is the FFN up to its output projection wo (closeSublayer): relu(wi x) (v1.0)
// or gelu_tanh(wi_0 x) · wi_1 x (v1.1), after dropout.
func (m *Model) feedForward(f feedForward, n *ts.Tensor) *ts.Tensor {
	var hidden *ts.Tensor
	if m.Cfg.GatedGELU {
		gate := m.linearBF16(f.prefix+".wi_0", n, f.wi0).MustGelu("tanh", true)
		lin := m.linearBF16(f.prefix+".wi_1", n, f.wi1)
		hidden = gate.MustMul(lin, true)
		lin.MustDrop()
	} else {
		hidden = m.relu(m.linearBF16(f.prefix+".wi", n, f.wi))
	}
	return m.dropout(hidden)
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
// each sublayer's output passing through its hook and dropout (the FFN's then through the
// post-dropout hook). Consumes h.
func (m *Model) block(b block, h, selfBias, enc, crossBias *ts.Tensor, c *kvCache) *ts.Tensor {
	n := m.rmsNorm(normSite(b.self.prefix), h, b.selfNorm)
	a := m.attention(b.self, n, n, selfBias, c, false)
	n.MustDrop()
	h = m.closeSublayer(b.self.prefix, ".o", a, b.self.o, h, false)

	if enc != nil || (c != nil && c.crossK != nil) {
		n = m.rmsNorm(normSite(b.cross.prefix), h, b.crossNorm)
		tq := n.MustSize()[1]
		if c != nil { // generation: every step's query against the states projected once
			tq = c.steps
		}
		var x *ts.Tensor
		if absK, absV := m.crossForms(b.cross, tq, enc); absK || absV {
			x = m.crossAttentionAbsorbed(b.cross, n, enc, crossBias, c, absK, absV)
		} else {
			x = m.attention(b.cross, n, enc, crossBias, c, true)
		}
		n.MustDrop()
		h = m.closeSublayer(b.cross.prefix, ".o", x, b.cross.o, h, false)
	}

	n = m.rmsNorm(normSite(b.ff.prefix), h, b.ffNorm)
	f := m.feedForward(b.ff, n)
	n.MustDrop()
	return m.closeSublayer(b.ff.prefix, ".wo", f, b.ff.wo, h, true)
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
	if m.hooks.HasEncoderOutput() {
		enc = core.Replace(enc, m.hooks.EncoderOutput(core.HookCall{Site: "encoder", Batch: m.batch}, enc, mask))
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
func causalBias(t int64, d core.Device) *ts.Tensor {
	ones := ts.MustOnes([]int64{t, t}, gotch.Float, d.Torch())
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
	return m.forwardWith(embeds, mask, labels, keepLogits, keepEncoder, meanCE)
}

// lossFn is the loss of flat logits [N·T, V] against the flat targets [N·T] (neither
// consumed): the mean cross-entropy, or a pack's block losses (pack.go).
type lossFn func(flat, target *ts.Tensor) *ts.Tensor

func meanCE(flat, target *ts.Tensor) *ts.Tensor {
	return flat.MustCrossEntropyLoss(target, ts.None, 1, -100, 0, false)
}

// forwardWith is Forward with the loss computed by lossOf.
func (m *Model) forwardWith(embeds, mask *ts.Tensor, labels [][]int64, keepLogits, keepEncoder bool, lossOf lossFn) (Outputs, error) {
	if len(labels) == 0 {
		return Outputs{}, fmt.Errorf("t5: forward without labels")
	}
	if m.recomputable(embeds, keepLogits, keepEncoder) { // 4-bit weights: recompute.go
		return m.forwardRecomputed(embeds, mask, labels, lossOf)
	}
	enc := m.encoderOutput(embeds, mask)
	decIDs := m.idsOnDevice(flatten(m.ShiftRight(labels)), int64(len(labels)), int64(len(labels[0])))
	g := m.Decode(decIDs, enc, mask)
	decIDs.MustDrop()
	logits := m.LMHead(g)
	g.MustDrop()

	target := m.idsOnDevice(flatten(labels), -1)
	flat := logits.MustView([]int64{-1, m.Cfg.Vocab}, false)
	loss := lossOf(flat, target)
	flat.MustDrop()
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
// values are projected once, or, within a short step budget, absorbed (forms.go: the encoder
// states are kept for it); self-attention keys and values grow by one position per step.
// With stopAtEOS, tokens after a row's EOS become pad and decoding ends once every row has
// emitted EOS. If stepLogits is non-nil, it receives each step's logits [B, V] (owned by
// the caller).
func (m *Model) Greedy(embeds, mask *ts.Tensor, steps int, stopAtEOS bool, stepLogits *[]*ts.Tensor) [][]int64 {
	B := embeds.MustSize()[0]
	enc := m.encoderOutput(embeds, mask)
	crossBias := maskBias(mask)
	caches := make([]kvCache, len(m.decoder))
	for i := range caches {
		caches[i].steps = int64(steps)
	}
	defer func() {
		for i := range caches {
			caches[i].drop()
		}
		dropIfAny(crossBias)
	}()

	gen := seq.NewGreedy(int(B), m.Cfg.EOS, m.Cfg.Pad, stopAtEOS, stepLogits)
	next := make([]int64, B)
	for i := range next {
		next[i] = m.Cfg.DecoderStart
	}
	for step := int64(0); step < int64(steps); step++ {
		ids := m.idsOnDevice(next, B, 1)
		g := m.dropout(m.embed(ids))
		ids.MustDrop()
		pos := m.positionBias(m.decBias, step, 1, step+1, false) // [1, H, 1, step+1]
		for i, b := range m.decoder {
			// The first step projects the encoder states into each layer's cross cache.
			g = m.block(b, g, pos, enc, crossBias, &caches[i])
		}
		pos.MustDrop()
		final := m.dropout(m.rmsNorm("decoder.final_layer_norm", g, m.decFinal))
		g.MustDrop()
		logits := m.LMHead(final).MustView([]int64{B, m.Cfg.Vocab}, true)
		final.MustDrop()
		var finished bool
		if next, finished = gen.Step(logits); finished {
			break
		}
	}
	if enc != nil {
		enc.MustDrop()
	}
	return gen.Out
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
