package t5

import (
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// bf16 mode (--dtype bfloat16), apart from the fp32 computation in model.go. The fast forms
// (forms.go) apply in both modes; bf16 adds one: a projection that only feeds another matmul
// keeps its bf16 output (linearBF16).

// linearBF16 is linear for a projection whose output only feeds another bf16 matmul (q, k, v
// into attention; the FFN's input projections into its output projection): in bf16 mode its
// output stays bf16, as under PyTorch's autocast, sparing a cast to fp32 and back (and the
// activation between runs in bf16). A linear hook still sees the output in fp32, and one that
// changes it hands back fp32 (hookLinear); the plain forms cast every output to fp32. fp32
// mode is unchanged.
func (m *Model) linearBF16(site string, x, w *ts.Tensor) *ts.Tensor {
	return m.linearTo(site, x, w, m.bf16 && !m.plain)
}

// hookLinear passes the output y of a projection of x through the linear hook of site, if
// any. The hook sees both in fp32 (an input or output kept in bf16 is cast for it, once the
// hook is known to change this site: linearHooked); an output it leaves alone comes back as
// it was, bf16 or not, and one it changes comes back in fp32.
func (m *Model) hookLinear(site string, x, y *ts.Tensor) *ts.Tensor {
	if !m.hooks.HasLinear() {
		return y
	}
	if x.DType() != gotch.Float || y.DType() != gotch.Float {
		xs, ys := x.MustSize(), y.MustSize()
		if !m.linearHooked(site, xs[len(xs)-1], ys[len(ys)-1], y.MustDevice()) {
			return y
		}
	}
	xh, yh := x, y
	if x.DType() != gotch.Float {
		xh = x.MustTotype(gotch.Float, false)
		defer xh.MustDrop()
	}
	if y.DType() != gotch.Float {
		yh = y.MustTotype(gotch.Float, false)
	}
	out := m.hooks.Linear(core.HookCall{Site: site, Batch: m.batch}, xh, yh)
	if yh != y {
		if out == yh { // unchanged: keep y's dtype
			yh.MustDrop()
			return y
		}
		yh.MustDrop()
	}
	return core.Replace(y, out)
}

// ToBF16 stores the matmul weights (attention, FFN, an untied LM head) in bf16 and computes
// the matmuls in bf16 from then on; the embedding table stays fp32, so the input embeddings
// are exact (a tied LM head casts it to bf16 for its matmul, as autocast does; rounding the
// table itself cost PT +3.4% smoke loss, +1.5% without); layer norms, the position biases, softmax, the residual
// stream, hooks and the loss stay fp32 (--dtype bfloat16), while an activation that only
// feeds the next matmul (q, k, v, the attention context, the FFN hidden) stays bf16 as under
// PyTorch's autocast. Methods' parameters stay fp32.
//
// The fast forms (forms.go) carry over: q, k and v weights stacked before are converted as
// one tensor and stay stacked; unstacked ones are stacked now unless the plain forms are in use.
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
				if a.qkv != nil {
					m.viewStacked(a, a.qkv.MustTotype(gotch.BFloat16, false))
				} else {
					conv(&a.q)
					conv(&a.k)
					conv(&a.v)
				}
				conv(&a.o)
			}
			conv(&b.ff.wi)
			conv(&b.ff.wi0)
			conv(&b.ff.wi1)
			conv(&b.ff.wo)
			if !m.plain {
				m.stackQKV(&b.self)
			}
		}
	}
	m.bf16 = true
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
