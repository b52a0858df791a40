// Package adapters holds the bottleneck adapter shared by every method that inserts one into
// a backbone sublayer (the Houlsby adapter, AdapterDrop, HyperDecoder's encoder adapters):
//
//	h' = h + W_up · f(W_down · h + b_down) + b_up     W_down ∈ R^{b×d}, W_up ∈ R^{d×b}
//
// applied to a sublayer's output h before dropout and the residual (Houlsby placement). The
// activation f and the initialisation are settings, because the reference code bases differ:
// the Compacter/ATTEMPT adapters use gelu_new and draw both weight matrices from N(0, 10⁻²)
// with zero biases (compacter seq2seq/third_party/models/t5/modeling_t5.py, _init_weights'
// nn.Linear branch), while a zero W_up makes the adapter start as the identity.
//
// Only the serial (Houlsby) form exists: a parallel adapter needs the sublayer's input, and
// core's Sublayer hook sees only the output.
package adapters

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/methods/internal/params"
)

// Activation names the nonlinearity f, as Hugging Face's get_activation names it.
type Activation string

const (
	ReLU    Activation = "relu"
	GeLUNew Activation = "gelu_new" // tanh approximation (HF gelu_new), the Compacter/ATTEMPT configs' choice
	GeLU    Activation = "gelu"     // exact erf form
	SiLU    Activation = "silu"     // also called swish
)

// Validate rejects an unknown activation.
func (a Activation) Validate() error {
	switch a {
	case ReLU, GeLUNew, GeLU, SiLU, "swish":
		return nil
	}
	return fmt.Errorf("activation %q: want one of relu, gelu_new, gelu, silu", a)
}

// Apply computes f(x); del frees x.
func (a Activation) Apply(x *ts.Tensor, del bool) (*ts.Tensor, error) {
	switch a {
	case ReLU:
		return x.Relu(del)
	case GeLUNew:
		return x.Gelu("tanh", del)
	case GeLU:
		return x.Gelu("none", del)
	case SiLU, "swish":
		return x.Silu(del)
	}
	return nil, a.Validate()
}

// Spec is one adapter's shape, activation and initialisation.
type Spec struct {
	Bottleneck int        // b
	Activation Activation // f
	DownStd    float64    // W_down ~ N(0, DownStd²); 0 gives zeros
	UpStd      float64    // W_up ~ N(0, UpStd²); 0 gives zeros (the adapter starts as the identity)
}

// Validate rejects settings that cannot work.
func (s Spec) Validate() error {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case s.Bottleneck <= 0:
		return fmt.Errorf("bottleneck must be > 0, got %d", s.Bottleneck)
	case !finite(s.DownStd) || s.DownStd < 0:
		return fmt.Errorf("init_std must be a finite number >= 0, got %g", s.DownStd)
	case !finite(s.UpStd) || s.UpStd < 0:
		return fmt.Errorf("up_std must be a finite number >= 0, got %g", s.UpStd)
	}
	return s.Activation.Validate()
}

// Bottleneck is one adapter at one sublayer site. Its tensors require grad.
type Bottleneck struct {
	Site                 core.HookSite
	Act                  Activation
	Down, DownB, Up, UpB *ts.Tensor // [b, d], [b], [d, b], [d]
}

// normal returns N(0, std²) of shape (zeros for std 0) on dev, drawn from libtorch's seeded
// CPU generator (the same values on every device; core.Device.Param moves it), requiring grad.
func normal(dev core.Device, shape []int64, std float64) (*ts.Tensor, error) {
	t, err := ts.Zeros(shape, gotch.Float, gotch.CPU)
	if err != nil {
		return nil, err
	}
	if std > 0 {
		if err := t.Normal_(0, std); err != nil {
			t.MustDrop()
			return nil, err
		}
	}
	return dev.Param(t)
}

// New makes the adapter of site (width site.Out) on dev as spec says; biases start at zero.
func New(dev core.Device, site core.HookSite, spec Spec) (*Bottleneck, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	d, b := site.Out, int64(spec.Bottleneck)
	if d <= 0 {
		return nil, fmt.Errorf("adapter at %s: the site has no output width", site.Name)
	}
	a := &Bottleneck{Site: site, Act: spec.Activation}
	var err error
	for _, p := range []struct {
		dst   **ts.Tensor
		shape []int64
		std   float64
	}{{&a.Down, []int64{b, d}, spec.DownStd}, {&a.DownB, []int64{b}, 0}, {&a.Up, []int64{d, b}, spec.UpStd}, {&a.UpB, []int64{d}, 0}} {
		if *p.dst, err = normal(dev, p.shape, p.std); err != nil {
			a.Close()
			return nil, fmt.Errorf("adapter at %s: %w", site.Name, err)
		}
	}
	return a, nil
}

// ToDevice moves the adapter's tensors to d as trainable leaves (core.Device.Param): for a
// caller that redraws an adapter's weights on the CPU after New.
func (a *Bottleneck) ToDevice(d core.Device) error {
	for _, t := range []**ts.Tensor{&a.Down, &a.DownB, &a.Up, &a.UpB} {
		moved, err := d.Param(*t)
		if err != nil {
			*t = nil // consumed by Param
			return fmt.Errorf("adapter at %s: %w", a.Site.Name, err)
		}
		*t = moved
	}
	return nil
}

// Delta is W_up · f(W_down · h + b_down) + b_up (caller drops).
func (a *Bottleneck) Delta(h *ts.Tensor) (*ts.Tensor, error) {
	z, err := ts.Linear(h, a.Down, a.DownB)
	if err != nil {
		return nil, err
	}
	if z, err = a.Act.Apply(z, true); err != nil {
		return nil, err
	}
	u, err := ts.Linear(z, a.Up, a.UpB)
	z.MustDrop()
	return u, err
}

// Apply is h + Delta(h) (caller drops; h is kept).
func (a *Bottleneck) Apply(h *ts.Tensor) (*ts.Tensor, error) {
	u, err := a.Delta(h)
	if err != nil {
		return nil, err
	}
	out, err := h.Add(u, false)
	u.MustDrop()
	return out, err
}

// Params names the four tensors prefix+"down.weight", "down.bias", "up.weight", "up.bias"
// (Hugging Face's down_sampler/up_sampler order).
func (a *Bottleneck) Params(prefix string) []core.NamedTensor {
	return []core.NamedTensor{
		{Name: prefix + "down.weight", Tensor: a.Down}, {Name: prefix + "down.bias", Tensor: a.DownB},
		{Name: prefix + "up.weight", Tensor: a.Up}, {Name: prefix + "up.bias", Tensor: a.UpB}}
}

// NumParams is 2·d·b + b + d.
func (a *Bottleneck) NumParams() int64 {
	var n int64
	for _, p := range a.Params("") {
		if p.Tensor != nil {
			n += int64(p.Tensor.Numel())
		}
	}
	return n
}

// Close frees the tensors; nil-safe and idempotent.
func (a *Bottleneck) Close() {
	params.Drop(&a.Down, &a.DownB, &a.Up, &a.UpB)
}
