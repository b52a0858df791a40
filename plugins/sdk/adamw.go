package sdk

import (
	"fmt"
	"math"
)

// Param is one trainable tensor with its optimiser settings (a parameter group of one).
type Param struct {
	Name        string
	Shape       []int
	Data        []float32 // values, row-major
	Grad        []float32 // d loss / d Data, accumulated by Backward
	LR          float64   // base learning rate (the schedule multiplies it)
	WeightDecay float64   // decoupled weight decay (AdamW)
}

// NewParam returns a zero parameter of the given shape.
func NewParam(name string, lr float64, shape ...int) *Param {
	n := numel(shape)
	return &Param{Name: name, Shape: append([]int(nil), shape...), Data: make([]float32, n),
		Grad: make([]float32, n), LR: lr}
}

// check verifies that Data and Grad match Shape (allocating a nil Grad).
func (p *Param) check() error {
	n := numel(p.Shape)
	if len(p.Data) != n {
		return fmt.Errorf("param %q: shape %v needs %d values, Data has %d", p.Name, p.Shape, n, len(p.Data))
	}
	if p.Grad == nil {
		p.Grad = make([]float32, n)
	}
	if len(p.Grad) != n {
		return fmt.Errorf("param %q: shape %v needs %d gradients, Grad has %d", p.Name, p.Shape, n, len(p.Grad))
	}
	return nil
}

// ZeroGrad sets every gradient to zero.
func ZeroGrad(params []*Param) {
	for _, p := range params {
		clear(p.Grad)
	}
}

// ClipGradNorm scales all gradients so that their global L2 norm is at most maxNorm (as
// torch.nn.utils.clip_grad_norm_ and core.AdamW.ClipGradNorm: the norm in float64, the scale
// maxNorm/(norm+1e-6) applied in float32) and returns the norm before clipping. maxNorm ≤ 0
// only measures. The float64 sum runs in another order than libtorch's reduction, so the
// norm may differ from core's in its last bits; the scale, rounded to float32, has matched in
// every test (plugins/host: TestSDKAdamWMatchesCore, TestPluginPTBitIdenticalToInProcess).
func ClipGradNorm(params []*Param, maxNorm float64) float64 {
	var total float64
	for _, p := range params {
		for _, g := range p.Grad {
			total += float64(float64(g) * float64(g)) // the conversion forbids an FMA
		}
	}
	total = math.Sqrt(total)
	if coef := maxNorm / (total + 1e-6); maxNorm > 0 && coef < 1 {
		c := float32(coef)
		for _, p := range params {
			for i, g := range p.Grad {
				p.Grad[i] = g * c
			}
		}
	}
	return total
}

// AdamW is transformers.AdamW (correct_bias) computed exactly as ptbench's core.AdamW does on
// libtorch's CPU kernels: every operation rounded to float32 in the same order, with the
// float64 scalars (β's, bias corrections, learning rate) converted to float32 as libtorch
// converts a Scalar operand of a float32 tensor. Explicit float32 conversions keep the Go
// compiler from fusing a multiply and an add (which would round once instead of twice).
type AdamW struct {
	Beta1, Beta2, Eps float64
	step              int
	state             map[*Param]*moments
}

type moments struct{ m, v []float32 }

// NewAdamW uses ptbench's protocol settings: betas (0.9, 0.999), eps 1e-6 (the server sets
// Info.AdamEps instead where the plugin gives one).
func NewAdamW() *AdamW {
	return &AdamW{Beta1: 0.9, Beta2: 0.999, Eps: 1e-6, state: map[*Param]*moments{}}
}

// Steps is the number of updates applied so far.
func (o *AdamW) Steps() int { return o.step }

// Step applies one update to params with every learning rate multiplied by lrFactor.
func (o *AdamW) Step(params []*Param, lrFactor float64) {
	o.step++
	bc1 := 1 - math.Pow(o.Beta1, float64(o.step))
	bc2Sqrt := math.Sqrt(1 - math.Pow(o.Beta2, float64(o.step)))
	b1, c1 := float32(o.Beta1), float32(1-o.Beta1)
	b2, c2 := float32(o.Beta2), float32(1-o.Beta2)
	eps := float32(o.Eps)
	for _, p := range params {
		st := o.state[p]
		if st == nil {
			st = &moments{m: make([]float32, len(p.Data)), v: make([]float32, len(p.Data))}
			o.state[p] = st
		}
		lr := p.LR * lrFactor
		scale := float32(-lr * bc2Sqrt / bc1)
		m, v, data := st.m, st.v, p.Data
		for i, g := range p.Grad {
			// m ← β1 m + (1−β1) g ;  v ← β2 v + ((1−β2) g) g
			mi := float32(m[i]*b1) + float32(g*c1)
			vi := float32(v[i]*b2) + float32(float32(g*c2)*g)
			m[i], v[i] = mi, vi
			// θ ← θ + (−lr·√bc2/bc1) · m / (√v + eps)   (transformers.AdamW)
			denom := float32(float32(math.Sqrt(float64(vi)))) + eps
			data[i] += float32(float32(mi/denom) * scale)
		}
		if p.WeightDecay != 0 { // decoupled decay after the update, as transformers.AdamW
			decay := float32(1 - lr*p.WeightDecay)
			for i, x := range data {
				data[i] = x * decay
			}
		}
	}
}
