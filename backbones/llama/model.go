// Package llama is the Llama-2 decoder-only transformer on gotch, following Hugging Face's
// modeling_llama.py (and computing the same numbers as llama2.c's run.c):
//
//	h = embed(ids)                      (or a method's transformed embeddings)
//	for each block: h += o_proj(Attn(RoPE(q_proj(n)), RoPE(k_proj(n)), v_proj(n)))   n = RMSNorm(h)
//	                h += down_proj(silu(gate_proj(n)) · up_proj(n))                    n = RMSNorm(h)
//	logits = lm_head(RMSNorm(h))        (lm_head tied to the embedding or its own matrix)
//
// Rotary embeddings use HF's rotate-half convention (θ 10000) with positions counted over
// real tokens (cumsum(mask) − 1, as HF's position_ids); grouped-query attention repeats each
// key/value head for n_heads/n_kv_heads query heads. One forward function (run) serves
// training, scoring and greedy generation with a per-layer key/value cache, as run.c does.
//
// Weights live in float32 or bfloat16 (compute dtype); linear weights may instead be stored
// as NF4 codes (QLoRA) and dequantised one layer at a time inside the forward pass.
// Every intermediate is dropped as soon as it is consumed.
package llama

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/backbones/internal/seq"
	"github.com/ptbench/ptbench/core"
)

// Config is the architecture (HF LlamaConfig fields that change the computation).
type Config struct {
	Vocab, Dim, Hidden int64
	Layers             int64
	Heads, KVHeads     int64
	MaxSeq             int64
	Eps, Theta         float64
	Tied               bool
	BOS, EOS, Pad      int64
}

// HeadSize is Dim / Heads.
func (c Config) HeadSize() int64 { return c.Dim / c.Heads }

// Validate checks the shapes fit together.
func (c Config) Validate() error {
	switch {
	case c.Vocab <= 0 || c.Dim <= 0 || c.Hidden <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.KVHeads <= 0:
		return fmt.Errorf("llama config: every size must be positive: %+v", c)
	case c.Dim%c.Heads != 0:
		return fmt.Errorf("llama config: dim %d is not a multiple of n_heads %d", c.Dim, c.Heads)
	case c.Heads%c.KVHeads != 0:
		return fmt.Errorf("llama config: n_heads %d is not a multiple of n_kv_heads %d", c.Heads, c.KVHeads)
	case c.HeadSize()%2 != 0:
		return fmt.Errorf("llama config: head size %d is odd (rotary needs pairs)", c.HeadSize())
	}
	return nil
}

// linear is one frozen [out, in] weight: full precision (w) or NF4 (q).
type linear struct {
	name    string // HF module name, e.g. "model.layers.0.self_attn.q_proj"
	out, in int64
	w       *ts.Tensor
	q       *NF4
}

type layer struct {
	attnNorm, ffnNorm          *ts.Tensor
	q, k, v, o, gate, up, down linear
	attnSite, mlpSite          string
	attnNormSite, ffnNormSite  string
}

// Model is a Llama with its frozen weights.
type Model struct {
	Cfg    Config
	DType  gotch.DType // compute dtype: Float or BFloat16
	embed  *ts.Tensor  // [vocab, dim] in DType
	layers []layer
	norm   *ts.Tensor
	head   linear // w == embed when tied
	hooks  *core.Hooks
	batch  *core.Batch
	// plainBackward turns off NF4's layer-by-layer recomputed backward (tests compare).
	plainBackward bool
	// keeping: the forward keeps the weights it dequantises in kept (keep.go).
	keeping bool
	kept    map[*linear]*ts.Tensor
	dev     core.Device // where the weights live and the forward pass makes its tensors (device.go)
}

// Close frees every tensor the model owns.
func (m *Model) Close() {
	drop := func(t *ts.Tensor) {
		if t != nil {
			t.MustDrop()
		}
	}
	dropLin := func(l *linear) {
		drop(l.w)
		l.w = nil
		if l.q != nil {
			l.q.Drop()
			l.q = nil
		}
	}
	for i := range m.layers {
		L := &m.layers[i]
		drop(L.attnNorm)
		drop(L.ffnNorm)
		for _, l := range []*linear{&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down} {
			dropLin(l)
		}
	}
	m.layers = nil
	if !m.Cfg.Tied {
		dropLin(&m.head)
	}
	drop(m.embed)
	drop(m.norm)
	m.embed, m.norm = nil, nil
}

// NumParams counts the frozen parameters (a tied head counted once).
func (m *Model) NumParams() int64 {
	c := m.Cfg
	kv := c.KVHeads * c.HeadSize()
	perLayer := 2*c.Dim + c.Dim*c.Dim*2 + 2*c.Dim*kv + 3*c.Dim*c.Hidden
	n := c.Vocab*c.Dim + c.Layers*perLayer + c.Dim
	if !c.Tied {
		n += c.Vocab * c.Dim
	}
	return n
}

// Quantized reports whether the linear layers are NF4.
func (m *Model) Quantized() bool { return len(m.layers) > 0 && m.layers[0].q.q != nil }

// SetHooks installs backbone-method hooks (nil removes them).
func (m *Model) SetHooks(h *core.Hooks) { m.hooks = h }

// Within runs f with batch as the hooks' context.
func (m *Model) Within(batch *core.Batch, f func()) {
	prev := m.batch
	m.batch = batch
	defer func() { m.batch = prev }()
	f()
}

// ---- small ops -------------------------------------------------------------------------------

func scalar(v float64) *ts.Scalar { return ts.FloatScalar(v) }

// rmsNorm is LlamaRMSNorm: computed in float32, cast back to the compute dtype, times w;
// the output passes through the norm hook of site ("model.layers.0.input_layernorm",
// "model.norm"), if any.
func (m *Model) rmsNorm(site string, x, w *ts.Tensor) *ts.Tensor {
	out := m.rmsNormRaw(x, w)
	if !m.hooks.HasNorm() {
		return out
	}
	c := core.HookCall{Site: site, Batch: m.batch}
	return m.hookInFloat32(out, func(o32 *ts.Tensor) *ts.Tensor { return m.hooks.Norm(c, o32) })
}

// hookInFloat32 passes t (in the compute dtype) to a hook that sees float32 tensors (method
// parameters are float32): in float32 mode t itself; otherwise a float32 copy, whose
// replacement comes back in the compute dtype. It returns t when the hook leaves it alone,
// else the replacement (t freed).
func (m *Model) hookInFloat32(t *ts.Tensor, hook func(t32 *ts.Tensor) *ts.Tensor) *ts.Tensor {
	if m.DType == gotch.Float {
		return core.Replace(t, hook(t))
	}
	t32 := t.MustTotype(gotch.Float, false)
	if r := hook(t32); r != t32 {
		t.MustDrop()
		t = r.MustTotype(m.DType, true)
	}
	t32.MustDrop()
	return t
}

func (m *Model) rmsNormRaw(x, w *ts.Tensor) *ts.Tensor {
	x32 := x
	if x.DType() != gotch.Float {
		x32 = x.MustTotype(gotch.Float, false)
	}
	sq := x32.MustPowTensorScalar(scalar(2), false)
	variance := sq.MustMeanDim([]int64{-1}, true, gotch.Float, true)
	inv := variance.MustAddScalar(scalar(m.Cfg.Eps), true).MustRsqrt(true)
	normed := x32.MustMul(inv, false)
	inv.MustDrop()
	if x32 != x {
		x32.MustDrop()
		normed = normed.MustTotype(m.DType, true)
	}
	return normed.MustMul(w, true)
}

// weight returns the full-precision weight of l in the compute dtype; owned reports whether
// the caller must drop it (a dequantised NF4 layer lives only for this call).
func (m *Model) weight(l *linear) (w *ts.Tensor, owned bool) {
	if l.q == nil {
		return l.w, false
	} else if w := m.kept[l]; w != nil {
		return w, false
	}
	w, err := l.q.DequantizeAs(m.DType)
	if err != nil {
		panic(fmt.Errorf("llama: %s: %w", l.name, err)) // the trainer recovers it as the run's error
	}
	return w, !m.keepWeight(l, w)
}

// linear is y = x Wᵀ for HF's [out, in] weights, passing y through a linear hook if any.
// Hooks always see float32 tensors (method parameters are float32).
func (m *Model) linear(l *linear, x *ts.Tensor) *ts.Tensor {
	w, owned := m.weight(l)
	wt := w.MustTranspose(0, 1, false)
	y := x.MustMatmul(wt, false)
	wt.MustDrop()
	if owned {
		w.MustDrop()
	}
	if m.hooks.HasLinear() {
		c := core.HookCall{Site: l.name, Batch: m.batch}
		x32 := x
		if m.DType != gotch.Float {
			x32 = x.MustTotype(gotch.Float, false)
			defer x32.MustDrop()
		}
		y = m.hookInFloat32(y, func(y32 *ts.Tensor) *ts.Tensor { return m.hooks.Linear(c, x32, y32) })
	}
	return y
}

// sublayerOut passes a sublayer's output through the sublayer hook (adapters), if any.
func (m *Model) sublayerOut(site string, h *ts.Tensor) *ts.Tensor {
	if !m.hooks.HasSublayer() {
		return h
	}
	c := core.HookCall{Site: site, Batch: m.batch}
	return m.hookInFloat32(h, func(h32 *ts.Tensor) *ts.Tensor { return m.hooks.Sublayer(c, h32) })
}

// rotateHalf is HF's rotate_half: [x1, x2] → [−x2, x1] along the last axis.
func rotateHalf(x *ts.Tensor) *ts.Tensor {
	hs := x.MustSize()[3]
	x1 := x.MustNarrow(3, 0, hs/2, false)
	x2 := x.MustNarrow(3, hs/2, hs/2, false).MustNeg(true)
	out := ts.MustCat([]*ts.Tensor{x2, x1}, 3)
	x1.MustDrop()
	x2.MustDrop()
	return out
}

// rope applies x·cos + rotate_half(x)·sin; consumes x.
func rope(x, cos, sin *ts.Tensor) *ts.Tensor {
	r := rotateHalf(x).MustMul(sin, true)
	out := x.MustMul(cos, true).MustAdd(r, true)
	r.MustDrop()
	return out
}

// kvCache holds one layer's rotated keys and values [B, KV, Tk, hs] across calls.
type kvCache struct{ k, v *ts.Tensor }

func (c *kvCache) drop() {
	if c.k != nil {
		c.k.MustDrop()
		c.v.MustDrop()
	}
	*c = kvCache{}
}

// heads: [B, T, n·hs] → [B, n, T, hs]; consumes x.
func heads(x *ts.Tensor, n, hs int64) *ts.Tensor {
	sz := x.MustSize()
	return x.MustView([]int64{sz[0], sz[1], n, hs}, true).MustTranspose(1, 2, true)
}

// repeatKV expands [B, KV, T, hs] to [B, KV·rep, T, hs] (HF repeat_kv); consumes x.
func repeatKV(x *ts.Tensor, rep int64) *ts.Tensor {
	if rep == 1 {
		return x
	}
	sz := x.MustSize()
	e := x.MustUnsqueeze(2, true).MustExpand([]int64{sz[0], sz[1], rep, sz[2], sz[3]}, false, true)
	return e.MustReshape([]int64{sz[0], sz[1] * rep, sz[2], sz[3]}, true)
}

// attention is one self-attention sublayer over n [B, T, D] with rotary tables cos/sin
// [B, 1, T, hs] and additive float32 bias [B, 1, T, Tk]; c (when not nil) holds the
// previous keys/values and receives this call's.
func (m *Model) attention(L *layer, n, cos, sin, bias *ts.Tensor, c *kvCache) *ts.Tensor {
	cfg := m.Cfg
	hs := cfg.HeadSize()
	sz := n.MustSize()
	q := rope(heads(m.linear(&L.q, n), cfg.Heads, hs), cos, sin)
	k := rope(heads(m.linear(&L.k, n), cfg.KVHeads, hs), cos, sin)
	v := heads(m.linear(&L.v, n), cfg.KVHeads, hs)
	if c != nil {
		c.k, c.v = seq.AppendKV(c.k, c.v, k, v)
		k, v = c.k.MustShallowClone(), c.v.MustShallowClone()
	}
	rep := cfg.Heads / cfg.KVHeads
	k = repeatKV(k, rep)
	v = repeatKV(v, rep)
	kt := k.MustTranspose(-1, -2, true)
	scores := q.MustMatmul(kt, false).MustMulScalar(scalar(1/math.Sqrt(float64(hs))), true)
	q.MustDrop()
	kt.MustDrop()
	if scores.DType() != gotch.Float {
		scores = scores.MustTotype(gotch.Float, true)
	}
	scores = scores.MustAdd(bias, true)
	weights := scores.MustSoftmax(-1, gotch.Float, true)
	if m.DType != gotch.Float {
		weights = weights.MustTotype(m.DType, true)
	}
	ctx := weights.MustMatmul(v, true)
	v.MustDrop()
	merged := ctx.MustTranspose(1, 2, true).MustContiguous(true).MustView([]int64{sz[0], sz[1], cfg.Dim}, true)
	out := m.linear(&L.o, merged)
	merged.MustDrop()
	return out
}

// mlp is down_proj(silu(gate_proj(n)) · up_proj(n)).
func (m *Model) mlp(L *layer, n *ts.Tensor) *ts.Tensor {
	gate := m.linear(&L.gate, n).MustSilu(true)
	up := m.linear(&L.up, n)
	hidden := gate.MustMul(up, true)
	up.MustDrop()
	out := m.linear(&L.down, hidden)
	hidden.MustDrop()
	return out
}

// block is one decoder layer; consumes h.
func (m *Model) block(L *layer, h, cos, sin, bias *ts.Tensor, c *kvCache) *ts.Tensor {
	n := m.rmsNorm(L.attnNormSite, h, L.attnNorm)
	a := m.sublayerOut(L.attnSite, m.attention(L, n, cos, sin, bias, c))
	n.MustDrop()
	h2 := h.MustAdd(a, true)
	a.MustDrop()
	n = m.rmsNorm(L.ffnNormSite, h2, L.ffnNorm)
	f := m.sublayerOut(L.mlpSite, m.mlp(L, n))
	n.MustDrop()
	out := h2.MustAdd(f, true)
	f.MustDrop()
	return out
}

// Positions are HF's position_ids for a 1/0 mask row: cumsum(mask) − 1 over real tokens,
// 1 on padding (never read: padding is masked out of every real query).
func Positions(mask []float32) []int64 {
	out := make([]int64, len(mask))
	n := int64(0)
	for j, v := range mask {
		if v > 0 {
			out[j] = n
			n++
		} else {
			out[j] = 1
		}
	}
	return out
}

// rotary returns cos and sin [B, 1, T, hs] in the compute dtype for positions [B][T], with
// frequencies θ^(−2i/hs) as float32 and the angle pos·freq rounded to float32 (as both HF
// and run.c compute them).
func (m *Model) rotary(pos [][]int64) (cos, sin *ts.Tensor) {
	hs := m.Cfg.HeadSize()
	half := hs / 2
	freq := make([]float32, half)
	for i := range freq {
		freq[i] = float32(1 / math.Pow(m.Cfg.Theta, float64(2*i)/float64(hs)))
	}
	B, T := int64(len(pos)), int64(len(pos[0]))
	cv := make([]float32, 0, B*T*hs)
	sv := make([]float32, 0, B*T*hs)
	for _, row := range pos {
		for _, p := range row {
			for r := 0; r < 2; r++ {
				for i := int64(0); i < half; i++ {
					a := float64(float32(p) * freq[i])
					cv = append(cv, float32(math.Cos(a)))
					sv = append(sv, float32(math.Sin(a)))
				}
			}
		}
	}
	shape := []int64{B, 1, T, hs}
	cos = m.onDevice(ts.MustOfSlice(cv).MustView(shape, true))
	sin = m.onDevice(ts.MustOfSlice(sv).MustView(shape, true))
	if m.DType != gotch.Float {
		cos = cos.MustTotype(m.DType, true)
		sin = sin.MustTotype(m.DType, true)
	}
	return cos, sin
}

// attnBias is the float32 [B, 1, T, Tk] additive bias for queries at columns Tk−T..Tk−1 of
// a mask [B][Tk]: 0 where the key is real and not in the future, float32's lowest otherwise.
func attnBias(mask [][]float32, T int64) *ts.Tensor {
	B, Tk := int64(len(mask)), int64(len(mask[0]))
	q0 := Tk - T
	vals := make([]float32, 0, B*T*Tk)
	for _, row := range mask {
		for i := int64(0); i < T; i++ {
			for j := int64(0); j < Tk; j++ {
				if row[j] > 0 && j <= q0+i {
					vals = append(vals, 0)
				} else {
					vals = append(vals, -math.MaxFloat32)
				}
			}
		}
	}
	return ts.MustOfSlice(vals).MustView([]int64{B, 1, T, Tk}, true)
}

// maskRows reads a [B, Tk] mask into Go rows.
func maskRows(mask *ts.Tensor) [][]float32 {
	sz := mask.MustSize()
	flat := mask.MustTotype(gotch.Float, false)
	vals := make([]float32, sz[0]*sz[1])
	flat.MustCopyData(vals, uint(len(vals)))
	flat.MustDrop()
	rows := make([][]float32, sz[0])
	for i := range rows {
		rows[i] = vals[int64(i)*sz[1] : int64(i+1)*sz[1]]
	}
	return rows
}

// run is the one forward function: embeds [B, T, D] (any float dtype; not consumed) are the
// newest T columns of a sequence whose full mask is mask [B, Tk] (Tk = T without a cache;
// the cache holds the first Tk − T columns). It returns the final RMSNorm'd hidden states
// [B, T, D] in the compute dtype.
func (m *Model) run(embeds, mask *ts.Tensor, caches []kvCache) *ts.Tensor {
	T := embeds.MustSize()[1]
	rows := maskRows(mask)
	pos := make([][]int64, len(rows))
	for i, r := range rows {
		p := Positions(r)
		pos[i] = p[int64(len(p))-T:]
	}
	cos, sin := m.rotary(pos)
	bias := m.onDevice(attnBias(rows, T))
	var h *ts.Tensor
	if embeds.DType() != m.DType {
		h = embeds.MustTotype(m.DType, false)
	} else {
		h = embeds.MustShallowClone()
	}
	for i := range m.layers {
		var c *kvCache
		if caches != nil {
			c = &caches[i]
		}
		h = m.block(&m.layers[i], h, cos, sin, bias, c)
	}
	cos.MustDrop()
	sin.MustDrop()
	bias.MustDrop()
	out := m.rmsNorm("model.norm", h, m.norm)
	h.MustDrop()
	return out
}

// logits maps hidden states to float32 vocabulary logits.
func (m *Model) logits(h *ts.Tensor) *ts.Tensor {
	l := m.linear(&m.head, h)
	if l.DType() != gotch.Float {
		l = l.MustTotype(gotch.Float, true)
	}
	return l
}

// EmbedIDs looks up token embeddings of ids [B, L] as float32 (methods work in float32).
func (m *Model) EmbedIDs(ids *ts.Tensor) *ts.Tensor {
	e := ts.MustEmbedding(m.embed, ids, -1, false, false)
	if e.DType() != gotch.Float {
		e = e.MustTotype(gotch.Float, true)
	}
	return e
}

// Forward runs ids-free embeddings with a mask and returns the float32 logits [B, T, V] and
// the final hidden states [B, T, D] (verification and scoring).
func (m *Model) Forward(embeds, mask *ts.Tensor) (logits, hidden *ts.Tensor) {
	hidden = m.run(embeds, mask, nil)
	return m.logits(hidden), hidden
}

// Loss appends the target tokens (labels [B][T], −100 = none) after the source embeddings
// [B, L, D] (mask [B, L]), runs the causal model and returns the mean cross-entropy of the
// target tokens, each predicted from the position before it (the last source column
// predicts the first target token). The loss is float32.
func (m *Model) Loss(embeds, mask *ts.Tensor, labels [][]int64) (*ts.Tensor, error) {
	o, err := m.forwardTargets(embeds, mask, labels, false, nil)
	return o.Loss, err
}

// ForwardOutputs is Loss that also returns the target logits [B, T, V] (float32) and, as the
// decoder-only counterpart of encoder states, the final hidden states of the source
// columns [B, L, D] (distillation).
func (m *Model) ForwardOutputs(embeds, mask *ts.Tensor, labels [][]int64) (core.Outputs, error) {
	return m.forwardTargets(embeds, mask, labels, true, nil)
}

// lossHead maps the final hidden states [B, L+T, D] (consumed) to the scalar to
// differentiate; a headMaker builds one for L source columns, T target columns and the
// flat targets [B·T]. nil: the mean cross-entropy (headLoss).
type (
	lossHead  func(h *ts.Tensor) *ts.Tensor
	headMaker func(L, T int64, target *ts.Tensor) lossHead
)

func (m *Model) forwardTargets(embeds, mask *ts.Tensor, labels [][]int64, keep bool, makeHead headMaker) (core.Outputs, error) {
	if len(labels) == 0 || len(labels[0]) == 0 {
		return core.Outputs{}, fmt.Errorf("llama: loss without labels")
	}
	es := embeds.MustSize()
	B, L, T := es[0], es[1], int64(len(labels[0]))
	if int64(len(labels)) != B {
		return core.Outputs{}, fmt.Errorf("llama: %d label rows for %d inputs", len(labels), B)
	}
	ids := make([]int64, 0, B*T)
	tm := make([]float32, 0, B*T)
	flat := make([]int64, 0, B*T)
	for _, r := range labels {
		for _, v := range r {
			flat = append(flat, v)
			if v < 0 {
				ids, tm = append(ids, m.Cfg.Pad), append(tm, 0)
			} else {
				ids, tm = append(ids, v), append(tm, 1)
			}
		}
	}
	idT := m.idsOnDevice(ids, B, T)
	tgt := ts.MustEmbedding(m.embed, idT, -1, false, false)
	idT.MustDrop()
	src := embeds
	if src.DType() != m.DType {
		src = embeds.MustTotype(m.DType, false)
	}
	full := ts.MustCat([]*ts.Tensor{src, tgt}, 1)
	if src != embeds {
		src.MustDrop()
	}
	tgt.MustDrop()
	tmT := m.onDevice(ts.MustOfSlice(tm).MustView([]int64{B, T}, true))
	srcMask := mask.MustTotype(gotch.Float, false)
	fullMask := ts.MustCat([]*ts.Tensor{srcMask, tmT}, 1)
	srcMask.MustDrop()
	tmT.MustDrop()
	target := m.idsOnDevice(flat, -1)
	defer target.MustDrop()
	head := lossHead(func(h *ts.Tensor) *ts.Tensor { return m.headLoss(h, L, T, target) })
	if makeHead != nil {
		head = makeHead(L, T, target)
	}
	if !keep && m.recomputable(full) {
		loss, err := m.recomputeLoss(full, fullMask, head)
		full.MustDrop()
		fullMask.MustDrop()
		return core.Outputs{Loss: loss}, err
	}
	h := m.run(full, fullMask, nil)
	full.MustDrop()
	fullMask.MustDrop()
	if !keep {
		return core.Outputs{Loss: head(h)}, nil
	}
	srcH := h.MustNarrow(1, 0, L, false)
	if srcH.DType() != gotch.Float {
		srcH = srcH.MustTotype(gotch.Float, true)
	}
	sel := h.MustNarrow(1, L-1, T, true)
	logits := m.logits(sel)
	sel.MustDrop()
	lf := logits.MustView([]int64{-1, m.Cfg.Vocab}, false)
	loss := lf.MustCrossEntropyLoss(target, ts.None, 1, -100, 0, true)
	return core.Outputs{Loss: loss, Logits: logits, Encoder: srcH}, nil
}

// headLoss is the cross-entropy of the logits of columns L−1..L+T−2 of the final hidden
// states h (consumed) against target [B·T].
func (m *Model) headLoss(h *ts.Tensor, L, T int64, target *ts.Tensor) *ts.Tensor {
	sel := h.MustNarrow(1, L-1, T, true)
	logits := m.logits(sel)
	sel.MustDrop()
	lf := logits.MustView([]int64{-1, m.Cfg.Vocab}, true)
	return lf.MustCrossEntropyLoss(target, ts.None, 1, -100, 0, true)
}
