package t5

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// A sublayer's end — output projection, sublayer hook, dropout, (FFN) post-dropout hook,
// residual add — in one place, so that where nothing stands between the projection and the
// add (fast forms, no hook, no active dropout: a PT training step, evaluation) the two merge:
//
//   - fp32: h + x Wᵀ is one addmm. The GEMM accumulates into a copy of h, where matmul then
//     add zeroes the GEMM's output (OpenBLAS's beta pass) and adds h in a pass of its own:
//     per t5-small encoder layer two passes of 7.5 MB fewer at batch 16, seq 228. Only the
//     order of the sum changes (h joins the first block of the dot products instead of the
//     total), so results change by float rounding alone.
//   - bf16: x Wᵀ stays bf16 and the add promotes it (fp32 + bf16 → fp32 in one pass), as
//     autocast's h + attn(...) does, instead of a cast pass to fp32 first. bf16 → fp32 is
//     exact, so this is bit-identical.
//
// The plain forms, and any site with a hook or dropout, keep the op sequence of
// linear → sublayerOut → residual (residualFF) exactly.

// direct reports whether a sublayer's output projection may feed the residual add directly:
// the fast forms, no linear, sublayer or post-dropout hook, no active dropout.
func (m *Model) direct() bool {
	return !m.plain && !m.training() &&
		!m.hooks.HasLinear() && !m.hooks.HasSublayer() && !m.hooks.HasPostDropout()
}

// closeSublayer ends a sublayer: x (the merged attention context or the FFN hidden) through
// the output weight w at prefix+proj, the sublayer hook and dropout, added to the residual
// stream h (ff: the FFN's end, through the post-dropout hook too). Returns the new residual
// stream; drops h and x.
func (m *Model) closeSublayer(prefix, proj string, x, w, h *ts.Tensor, ff bool) *ts.Tensor {
	direct := m.direct()
	if direct && !m.bf16 && w != nil && w.DType() == gotch.Float && x.DType() == gotch.Float &&
		h.DType() == gotch.Float {
		out, err := addmmResidual(h, x, w)
		if err != nil { // the forward pass reports libtorch failures by panicking (Must*)
			panic(fmt.Errorf("t5: %s%s: %w", prefix, proj, err))
		}
		x.MustDrop()
		h.MustDrop()
		return out
	}
	y := m.linearTo(prefix+proj, x, w, direct && m.bf16)
	x.MustDrop()
	y = m.sublayerOut(prefix, y)
	if ff {
		return m.residualFF(prefix, h, y)
	}
	return m.residual(h, y)
}

// addmmResidual is h + x Wᵀ for [..., in] x, [out, in] w and [..., out] h, as one addmm over
// the flattened rows. Consumes nothing.
func addmmResidual(h, x, w *ts.Tensor) (*ts.Tensor, error) {
	hs, err := h.Size()
	if err != nil {
		return nil, err
	}
	xs, err := x.Size()
	if err != nil {
		return nil, err
	}
	h2, err := h.Reshape([]int64{-1, hs[len(hs)-1]}, false)
	if err != nil {
		return nil, err
	}
	defer h2.MustDrop()
	x2, err := x.Reshape([]int64{-1, xs[len(xs)-1]}, false)
	if err != nil {
		return nil, err
	}
	defer x2.MustDrop()
	wt, err := w.Transpose(0, 1, false)
	if err != nil {
		return nil, err
	}
	defer wt.MustDrop()
	y, err := h2.Addmm(x2, wt, false)
	if err != nil {
		return nil, err
	}
	return y.View(hs, true)
}

// relu is the FFN's ReLU: in place where nothing but the FFN sees the projection it rectifies
// (direct: no hook holds it), sparing a [B·T, d_ff] allocation; a new tensor otherwise. The
// same values either way.
func (m *Model) relu(x *ts.Tensor) *ts.Tensor {
	if !m.direct() {
		return x.MustRelu(true)
	}
	if err := x.Relu_(); err != nil {
		panic(fmt.Errorf("t5: relu: %w", err))
	}
	return x
}
