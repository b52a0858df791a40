package llama

import (
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// A hook method (LoRA, adapters, BitFit) on a 4-bit model trains through the recomputed
// backward (recompute.go) by way of a recorder wrapped around its hooks. While a layer is
// recomputed with gradients, the recorder keeps every hook call that changed its tensor: the
// call, detached copies of what the hook was given and the hook's result, which is in the
// layer's graph. Once the layer's gradient has been taken with respect to those results
// (∂loss/∂r), the hook is called again on the detached inputs: the new result r′ depends on
// the method's parameters only, so ⟨r′, ∂loss/∂r⟩ is a small graph (no dequantised weight
// in it) whose gradient is exactly the layer's contribution to the parameters' gradients.
// The step's loss carries those terms, so the trainer's own backward (after it zeroes the
// gradients) delivers them; the method's parameters need not be known here.
//
// Hooks may draw random numbers (LoRA's dropout): in a training step every hook call reseeds
// libtorch's generator from a seed of its layer (drawn once per step) plus the call's index,
// so the forward without gradients, the recomputation and the call again draw the same masks.

// hookKind is which hook a record is for.
type hookKind int

const (
	hookLinear hookKind = iota
	hookSublayer
	hookNorm
)

// hookRecord is one hook call that replaced its tensor.
type hookRecord struct {
	kind hookKind
	call core.HookCall
	x    *ts.Tensor // a linear hook's layer input (detached)
	in   *ts.Tensor // the tensor the hook was given (detached)
	out  *ts.Tensor // the hook's result, in the recomputed layer's graph
	seed int64
}

func (r *hookRecord) drop() {
	for _, t := range []*ts.Tensor{r.x, r.in, r.out} {
		if t != nil {
			t.MustDrop()
		}
	}
}

// recorder wraps a model's hooks (see the file's comment).
type recorder struct {
	orig    *core.Hooks
	seeded  bool  // reseed before each call (a training step)
	seed    int64 // the current layer's seed
	calls   int64 // hook calls so far in the current layer
	record  bool  // keep the calls (the recomputation with gradients)
	records []hookRecord
}

// start begins a layer: its seed, whether to record, no calls yet.
func (r *recorder) start(seed int64, record bool) {
	r.seed, r.calls, r.record = seed, 0, record
}

// next reseeds the generator for the next call (in a training step) and returns the seed.
func (r *recorder) next() int64 {
	s := r.seed + r.calls
	r.calls++
	if r.seeded {
		ts.ManualSeed(s)
	}
	return s
}

// keep records a call whose result out replaced in (and depends on something trainable).
func (r *recorder) keep(kind hookKind, c core.HookCall, seed int64, x, in, out *ts.Tensor) {
	if !r.record || out == in || !out.MustRequiresGrad() {
		return
	}
	rec := hookRecord{kind: kind, call: c, in: in.MustDetach(false), out: out.MustShallowClone(), seed: seed}
	if x != nil {
		rec.x = x.MustDetach(false)
	}
	r.records = append(r.records, rec)
}

// hooks are the model's hooks with every call reseeded and, while recording, kept.
func (r *recorder) hooks() *core.Hooks {
	o := r.orig
	h := &core.Hooks{EncoderOutput: o.EncoderOutput}
	if o.Linear != nil {
		h.Linear = func(c core.HookCall, x, y *ts.Tensor) *ts.Tensor {
			s := r.next()
			out := o.Linear(c, x, y)
			r.keep(hookLinear, c, s, x, y, out)
			return out
		}
	}
	h.Sublayer = r.wrap(hookSublayer, o.Sublayer)
	h.Norm = r.wrap(hookNorm, o.Norm)
	return h
}

// wrap is a one-tensor hook (sublayer, norm) reseeded and, while recording, kept; nil stays nil.
func (r *recorder) wrap(kind hookKind, f func(core.HookCall, *ts.Tensor) *ts.Tensor) func(core.HookCall, *ts.Tensor) *ts.Tensor {
	if f == nil {
		return nil
	}
	return func(c core.HookCall, x *ts.Tensor) *ts.Tensor {
		s := r.next()
		out := f(c, x)
		r.keep(kind, c, s, nil, x, out)
		return out
	}
}

// term calls rec's hook again on its detached inputs (same seed) and returns ⟨r′, g⟩ as a
// float32 scalar whose graph reaches only what the hook made trainable.
func (r *recorder) term(rec *hookRecord, g *ts.Tensor) *ts.Tensor {
	if r.seeded {
		ts.ManualSeed(rec.seed)
	}
	var out *ts.Tensor
	switch rec.kind {
	case hookLinear:
		out = r.orig.Linear(rec.call, rec.x, rec.in)
	case hookSublayer:
		out = r.orig.Sublayer(rec.call, rec.in)
	default:
		out = r.orig.Norm(rec.call, rec.in)
	}
	t := out.MustMul(g, false).MustSum(gotch.Float, true)
	if out != rec.in {
		out.MustDrop()
	}
	return t
}
