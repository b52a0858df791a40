package hyperformer

import (
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// Hypernet maps a source embedding I ∈ R^p (one per row) to the weights of one adapter:
//
//	W_down = reshape(H_down I + c_down) ∈ R^{b×d}     b_down = H_bd I + c_bd ∈ R^b
//	W_up   = reshape(H_up   I + c_up)   ∈ R^{d×b}     b_up   = H_bu I + c_bu ∈ R^d
//	γ      = 1 + H_γ I + c_γ ∈ R^d                    β      = H_β I + c_β   ∈ R^d
//
// and applies the generated adapter h' = h + LayerNorm_{γ,β}(W_up · GELU(W_down · h + b_down) + b_up)
// row by row. H_up, H_bu, H_β (and their offsets) start at zero, so every generated adapter
// starts as the identity (h' = h: LayerNorm of the zero vector is β = 0); H_down starts small
// and random so the gradient reaches H_up from the first step; γ starts at one. HyperFormer
// and HyperDecoder share it.
type Hypernet struct {
	D, B, P int64
	// heads: weight [out, P] and offset [out] each
	down, downC, downB, downBC, up, upC, upB, upBC, gamma, gammaC, beta, betaC *ts.Tensor
}

// NewHypernet makes the heads for adapters of width d and bottleneck b from p-dimensional
// source embeddings.
func NewHypernet(d, b, p int64) *Hypernet {
	h := &Hypernet{D: d, B: b, P: p}
	bound := 1 / math.Sqrt(float64(p))
	rnd := func(out int64) *ts.Tensor {
		t := ts.MustRand([]int64{out, p}, gotch.Float, gotch.CPU)
		return t.MustMulScalar(ts.FloatScalar(2*bound*1e-1), true).MustSubScalar(ts.FloatScalar(bound*1e-1), true)
	}
	zeros := func(shape ...int64) *ts.Tensor { return ts.MustZeros(shape, gotch.Float, gotch.CPU) }
	h.down, h.downC = rnd(b*d), zeros(b*d)
	h.downB, h.downBC = zeros(b, p), zeros(b)
	h.up, h.upC = zeros(d*b, p), zeros(d*b)
	h.upB, h.upBC = zeros(d, p), zeros(d)
	h.gamma, h.gammaC = zeros(d, p), zeros(d)
	h.beta, h.betaC = zeros(d, p), zeros(d)
	for _, t := range h.tensors() {
		t.Tensor.MustRequiresGrad_(true)
	}
	return h
}

func (h *Hypernet) tensors() []core.NamedTensor {
	return []core.NamedTensor{
		{Name: "head.down.weight", Tensor: h.down}, {Name: "head.down.bias", Tensor: h.downC},
		{Name: "head.down_bias.weight", Tensor: h.downB}, {Name: "head.down_bias.bias", Tensor: h.downBC},
		{Name: "head.up.weight", Tensor: h.up}, {Name: "head.up.bias", Tensor: h.upC},
		{Name: "head.up_bias.weight", Tensor: h.upB}, {Name: "head.up_bias.bias", Tensor: h.upBC},
		{Name: "head.ln_gamma.weight", Tensor: h.gamma}, {Name: "head.ln_gamma.bias", Tensor: h.gammaC},
		{Name: "head.ln_beta.weight", Tensor: h.beta}, {Name: "head.ln_beta.bias", Tensor: h.betaC},
	}
}

// Params lists the heads' tensors with their names.
func (h *Hypernet) Params() []core.NamedTensor { return h.tensors() }

// Close frees the heads.
func (h *Hypernet) Close() {
	for _, t := range h.tensors() {
		t.Tensor.MustDrop()
	}
}

// Generated are one batch's adapter weights, one set per row.
type Generated struct {
	Down, DownB, Up, UpB, Gamma, Beta *ts.Tensor // [R, b, d], [R, b], [R, d, b], [R, d], [R, d], [R, d]
}

// Drop frees the generated tensors.
func (g Generated) Drop() {
	for _, t := range []*ts.Tensor{g.Down, g.DownB, g.Up, g.UpB, g.Gamma, g.Beta} {
		t.MustDrop()
	}
}

// Generate computes the adapter weights for source embeddings I [R, P].
func (h *Hypernet) Generate(src *ts.Tensor) Generated {
	R := src.MustSize()[0]
	head := func(w, c *ts.Tensor, shape ...int64) *ts.Tensor {
		return ts.MustLinear(src, w, c).MustView(append([]int64{R}, shape...), true)
	}
	g := Generated{
		Down: head(h.down, h.downC, h.B, h.D), DownB: head(h.downB, h.downBC, h.B),
		Up: head(h.up, h.upC, h.D, h.B), UpB: head(h.upB, h.upBC, h.D),
		Gamma: head(h.gamma, h.gammaC, h.D).MustAddScalar(ts.FloatScalar(1), true), Beta: head(h.beta, h.betaC, h.D),
	}
	return g
}

// Apply runs row r's generated adapter on row r of x [R, T, d]: x + LN(W_up GELU(W_down x + b_down) + b_up).
func (g Generated) Apply(x *ts.Tensor) *ts.Tensor {
	downT := g.Down.MustTranspose(1, 2, false) // [R, d, b]
	db := g.DownB.MustUnsqueeze(1, false)
	z := x.MustBmm(downT, false).MustAdd(db, true) // [R, T, b]
	downT.MustDrop()
	db.MustDrop()
	z = z.MustGelu("none", true)
	upT := g.Up.MustTranspose(1, 2, false) // [R, b, d]
	u := z.MustBmm(upT, true)
	upT.MustDrop()
	ub := g.UpB.MustUnsqueeze(1, false)
	u = u.MustAdd(ub, true)
	ub.MustDrop()
	d := g.Gamma.MustSize()[1]
	normed := ts.MustLayerNorm(u, []int64{d}, ts.None, ts.None, 1e-5, false)
	u.MustDrop()
	gm, bt := g.Gamma.MustUnsqueeze(1, false), g.Beta.MustUnsqueeze(1, false)
	scaled := normed.MustMul(gm, true).MustAdd(bt, true)
	gm.MustDrop()
	bt.MustDrop()
	out := x.MustAdd(scaled, false)
	scaled.MustDrop()
	return out
}

// Projector is the task projector both hypernetwork methods use: the source embedding
// I = W_2 ReLU(W_1 [e ; l_block ; p_position] + c_1) + c_2 of each row's embedding e (a task's,
// or an input's encoding), the adapter's block embedding and its position embedding.
type Projector struct {
	W1, C1, W2, C2 *ts.Tensor
}

// NewProjector makes a projector from 3·t inputs through h hidden units to t outputs.
func NewProjector(t, h int64) *Projector {
	uniform := func(out, in int64) *ts.Tensor {
		b := 1 / math.Sqrt(float64(in))
		r := ts.MustRand([]int64{out, in}, gotch.Float, gotch.CPU)
		return r.MustMulScalar(ts.FloatScalar(2*b), true).MustSubScalar(ts.FloatScalar(b), true)
	}
	p := &Projector{W1: uniform(h, 3*t), C1: ts.MustZeros([]int64{h}, gotch.Float, gotch.CPU),
		W2: uniform(t, h), C2: ts.MustZeros([]int64{t}, gotch.Float, gotch.CPU)}
	for _, x := range p.Params() {
		x.Tensor.MustRequiresGrad_(true)
	}
	return p
}

// Params names the projector's tensors as a two-layer MLP's.
func (p *Projector) Params() []core.NamedTensor {
	return []core.NamedTensor{{Name: "projector.0.weight", Tensor: p.W1}, {Name: "projector.0.bias", Tensor: p.C1},
		{Name: "projector.2.weight", Tensor: p.W2}, {Name: "projector.2.bias", Tensor: p.C2}}
}

// Project maps row embeddings e [R, t] at one adapter (block row of layers, position row of
// positions) to source embeddings [R, t] (caller drops).
func (p *Projector) Project(e, layers, positions *ts.Tensor, block, position int) *ts.Tensor {
	sz := e.MustSize()
	l := layers.MustNarrow(0, int64(block), 1, false).MustExpand(sz, false, true)
	q := positions.MustNarrow(0, int64(position), 1, false).MustExpand(sz, false, true)
	cat := ts.MustCat([]*ts.Tensor{e, l, q}, 1)
	l.MustDrop()
	q.MustDrop()
	hid := ts.MustLinear(cat, p.W1, p.C1).MustRelu(true)
	cat.MustDrop()
	out := ts.MustLinear(hid, p.W2, p.C2)
	hid.MustDrop()
	return out
}

// Close frees the projector.
func (p *Projector) Close() {
	for _, x := range p.Params() {
		x.Tensor.MustDrop()
	}
}
