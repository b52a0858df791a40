// Package hypernet is the adapter generator HyperFormer++ and HyperDecoder share: linear
// heads map a source embedding — one per row of a batch — to the weights of a bottleneck
// adapter, which is then applied to that row:
//
//	W_down = H_down s + c_down    b_down = H_bd s + c_bd        (s: the row's source embedding)
//	W_up   = H_up   s + c_up      b_up   = H_bu s + c_bu
//	[γ = H_γ s + c_γ,  β = H_β s + c_β]                          (optional layer norm after the adapter)
//	Δ(x)   = [LN_{γ,β}] (W_up f(W_down x + b_down) + b_up)
//
// The methods differ in what s is (a projected task/layer/position embedding; a layer-embedded
// encoding of the input), in f, in the initialisation of the heads and in where Δ is added
// (after the sublayer; in parallel to the FFN), so those are the callers'. What lives here is
// the part that is the same: the heads, the per-row application, and linear layers initialised
// as each reference does.
package hypernet

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/methods/internal/adapters"
	"github.com/ptbench/ptbench/methods/internal/params"
)

// Linear is y = x Wᵀ + c, W [out, in], c [out]; both require grad.
type Linear struct{ W, C *ts.Tensor }

// NewParam makes a trainable tensor on d: zeros, filled by fill (nil: stays zero), requiring
// grad.
func NewParam(d core.Device, shape []int64, fill func(*ts.Tensor) error) (*ts.Tensor, error) {
	return param(d, shape, fill)
}

// Ones fills with 1 (a layer norm's weight).
func Ones(t *ts.Tensor) error { return t.Fill_(ts.FloatScalar(1)) }

// param fills on the CPU, whose seeded generator draws the same values on every device, and
// moves the result to d (core.Device.Param).
func param(d core.Device, shape []int64, fill func(*ts.Tensor) error) (*ts.Tensor, error) {
	t, err := ts.Zeros(shape, gotch.Float, gotch.CPU)
	if err != nil {
		return nil, err
	}
	if fill != nil {
		if err := fill(t); err != nil {
			t.MustDrop()
			return nil, err
		}
	}
	return d.Param(t)
}

// Normal fills with N(0, std²) from libtorch's seeded generator.
func Normal(std float64) func(*ts.Tensor) error {
	return func(t *ts.Tensor) error { return t.Normal_(0, std) }
}

// Uniform fills with U(−bound, bound) from libtorch's seeded generator.
func Uniform(bound float64) func(*ts.Tensor) error {
	return func(t *ts.Tensor) error { return t.Uniform_(-bound, bound) }
}

// NewLinear makes a [out, in] layer on d with weight and bias filled as given (nil: zeros).
func NewLinear(d core.Device, in, out int64, weight, bias func(*ts.Tensor) error) (Linear, error) {
	w, err := param(d, []int64{out, in}, weight)
	if err != nil {
		return Linear{}, err
	}
	c, err := param(d, []int64{out}, bias)
	if err != nil {
		w.MustDrop()
		return Linear{}, err
	}
	return Linear{W: w, C: c}, nil
}

// NewTorchLinear is nn.Linear(in, out) as PyTorch initialises it: weight and bias
// U(±1/√in) (kaiming_uniform_ with a = √5 gives that bound for the weight).
func NewTorchLinear(d core.Device, in, out int64) (Linear, error) {
	b := 1 / math.Sqrt(float64(in))
	return NewLinear(d, in, out, Uniform(b), Uniform(b))
}

// Forward is x Wᵀ + c (x kept; caller drops the result).
func (l Linear) Forward(x *ts.Tensor) (*ts.Tensor, error) { return ts.Linear(x, l.W, l.C) }

// Params names the weight and bias prefix+"weight", prefix+"bias" (PyTorch's names).
func (l Linear) Params(prefix string) []core.NamedTensor {
	return []core.NamedTensor{{Name: prefix + "weight", Tensor: l.W}, {Name: prefix + "bias", Tensor: l.C}}
}

// Close frees the layer; nil-safe.
func (l Linear) Close() {
	params.Drop(&l.W, &l.C) // clears this copy's fields only: close a Linear once
}

// NewEmbedding is nn.Embedding(n, dim)'s table on d: N(0, 1), requiring grad.
func NewEmbedding(d core.Device, n, dim int64) (*ts.Tensor, error) {
	return param(d, []int64{n, dim}, Normal(1))
}

// Heads generate one adapter per row from source embeddings [R, P].
//
// Layout: PyTorch's F.linear takes weights [out, in], so HyperFormer++ reads its weight heads
// as W_down [b, d] and W_up [d, b]; HyperDecoder multiplies x @ W and reads them as [d, b] and
// [b, d]. InOut picks the second reading. Either way the head's output is one vector reshaped,
// so the choice only decides which head entry becomes which matrix entry.
type Heads struct {
	D, B                 int64
	InOut                bool
	Down, DownB, Up, UpB Linear
	Gamma, Beta          *Linear // the layer norm after the adapter; nil: none
}

// Close frees the heads.
func (h *Heads) Close() {
	for _, l := range []Linear{h.Down, h.DownB, h.Up, h.UpB} {
		l.Close()
	}
	for _, l := range []*Linear{h.Gamma, h.Beta} {
		if l != nil {
			l.Close()
		}
	}
}

// Generated are one batch's adapters, one per row.
type Generated struct {
	DownT, DownB, UpT, UpB *ts.Tensor // [R, d, b], [R, b], [R, b, d], [R, d]: x @ DownT, z @ UpT
	Gamma, Beta            *ts.Tensor // [R, d] each, or nil
}

// Drop frees the generated tensors.
func (g Generated) Drop() {
	for _, t := range []*ts.Tensor{g.DownT, g.DownB, g.UpT, g.UpB, g.Gamma, g.Beta} {
		if t != nil {
			t.MustDrop()
		}
	}
}

// head is one head's output for src, viewed as [R, shape...].
func head(l Linear, src *ts.Tensor, shape ...int64) (*ts.Tensor, error) {
	y, err := l.Forward(src)
	if err != nil {
		return nil, err
	}
	return y.View(append([]int64{src.MustSize()[0]}, shape...), true)
}

// matrix is a weight head's output as the [R, in, out] matrix x is multiplied by.
func (h *Heads) matrix(l Linear, src *ts.Tensor, in, out int64) (*ts.Tensor, error) {
	if h.InOut {
		return head(l, src, in, out)
	}
	m, err := head(l, src, out, in)
	if err != nil {
		return nil, err
	}
	return m.Transpose(1, 2, true)
}

// Generate computes every row's adapter from src [R, P] (src kept; caller drops the result).
func (h *Heads) Generate(src *ts.Tensor) (Generated, error) {
	var g Generated
	var err error
	steps := []func() error{
		func() error { g.DownT, err = h.matrix(h.Down, src, h.D, h.B); return err },
		func() error { g.DownB, err = head(h.DownB, src, h.B); return err },
		func() error { g.UpT, err = h.matrix(h.Up, src, h.B, h.D); return err },
		func() error { g.UpB, err = head(h.UpB, src, h.D); return err },
	}
	if h.Gamma != nil && h.Beta != nil {
		steps = append(steps,
			func() error { g.Gamma, err = head(*h.Gamma, src, h.D); return err },
			func() error { g.Beta, err = head(*h.Beta, src, h.D); return err })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			g.Drop()
			return Generated{}, fmt.Errorf("hypernet: generating an adapter: %w", err)
		}
	}
	return g, nil
}

// LayerNormEps is F.layer_norm's default, which HyperFormer++'s generated layer norm uses.
const LayerNormEps = 1e-5

// Delta is row r's adapter on row r of x [R, T, d]: W_up f(W_down x + b_down) + b_up, then
// the generated layer norm if there is one (x kept; caller drops the result).
func (g Generated) Delta(x *ts.Tensor, f adapters.Activation) (*ts.Tensor, error) {
	z, err := x.Bmm(g.DownT, false) // [R, T, b]
	if err != nil {
		return nil, err
	}
	if z, err = addRows(z, g.DownB); err != nil {
		return nil, err
	}
	if z, err = f.Apply(z, true); err != nil {
		return nil, err
	}
	u, err := z.Bmm(g.UpT, true) // [R, T, d]
	if err != nil {
		return nil, err
	}
	if u, err = addRows(u, g.UpB); err != nil {
		return nil, err
	}
	if g.Gamma == nil {
		return u, nil
	}
	d := u.MustSize()[2]
	n, err := ts.LayerNorm(u, []int64{d}, ts.None, ts.None, LayerNormEps, false)
	u.MustDrop()
	if err != nil {
		return nil, err
	}
	if n, err = mulRows(n, g.Gamma); err != nil {
		return nil, err
	}
	return addRows(n, g.Beta)
}

// addRows adds v [R, k] to every position of x [R, T, k]; consumes x.
func addRows(x, v *ts.Tensor) (*ts.Tensor, error) {
	u, err := v.Unsqueeze(1, false)
	if err != nil {
		x.MustDrop()
		return nil, err
	}
	out, err := x.Add(u, true)
	u.MustDrop()
	return out, err
}

// mulRows multiplies every position of x [R, T, k] by v [R, k]; consumes x.
func mulRows(x, v *ts.Tensor) (*ts.Tensor, error) {
	u, err := v.Unsqueeze(1, false)
	if err != nil {
		x.MustDrop()
		return nil, err
	}
	out, err := x.Mul(u, true)
	u.MustDrop()
	return out, err
}
