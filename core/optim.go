package core

import (
	"fmt"
	"math"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// AdamW is transformers.AdamW (correct_bias, the optimiser every reference here trains with,
// directly or through Hugging Face's Trainer) over parameter groups, each with its own base
// learning rate and weight decay; a schedule multiplies every group's rate by one factor.
// Unlike torch.optim.AdamW it adds ε to √v before the bias correction (the step is
// lr·√bc2/bc1 · m/(√v + ε), an effective ε/√bc2 early on) and decays the weights after the
// update, θ(1 − lr·wd) (docs/fidelity.md).
// It is written out here rather than taken from gotch's optimizer because gotch's is tied to
// a VarStore (whose Variables() copies dangle) and has no per-group learning rates.
type AdamW struct {
	Beta1, Beta2, Eps float64
	// TorchForm computes torch.optim.AdamW's formula instead, θ −= lr/bc1 · m/(√v/√bc2 + ε)
	// with the decoupled decay before the update: for checks against trajectories PyTorch made
	// (the T5 fixtures' prompt Adam run, without decay), not for training.
	TorchForm bool
	groups    []ParamGroup
	state     map[*ts.Tensor]*adamState
	step      int // Step calls, for errors; each parameter counts its own updates
}

// adamState holds a parameter's moments, made by ZerosLike: on the parameter's device, so the
// optimiser state follows the parameters wherever the run computes, and its own update count:
// as transformers.AdamW's state["step"], a parameter that had no gradient in the first steps
// starts its bias correction at its first update, not at the optimiser's.
type adamState struct {
	expAvg, expAvgSq *ts.Tensor
	step             int
}

// NewAdamW uses the protocol's betas (0.9, 0.999) and ε DefaultAdamEps; a run sets Eps to
// its options' AdamEpsilon (the method's reference value) before the first step.
func NewAdamW(groups []ParamGroup) *AdamW {
	return &AdamW{Beta1: 0.9, Beta2: 0.999, Eps: DefaultAdamEps, groups: groups, state: map[*ts.Tensor]*adamState{}}
}

// Step applies one update with every group's LR multiplied by lrFactor. Parameters without
// a gradient are skipped. A libtorch failure (out of memory, a moment that no longer fits its
// parameter) is returned as an error naming the parameter, never a panic out of the step.
func (o *AdamW) Step(lrFactor float64) (err error) {
	current := ""
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("AdamW step %d, parameter %s: %w", o.step, current, PanicError(p))
		}
	}()
	o.step++
	ts.NoGrad(func() {
		for _, g := range o.groups {
			lr := g.LR * lrFactor
			for _, p := range g.Params {
				current = p.Name
				grad := p.Tensor.MustGrad(false)
				if !grad.MustDefined() {
					grad.MustDrop()
					continue
				}
				st := o.state[p.Tensor]
				if st == nil {
					st = &adamState{expAvg: p.Tensor.MustZerosLike(false), expAvgSq: p.Tensor.MustZerosLike(false)}
					o.state[p.Tensor] = st
				}
				st.step++
				bc1 := 1 - math.Pow(o.Beta1, float64(st.step))
				bc2Sqrt := math.Sqrt(1 - math.Pow(o.Beta2, float64(st.step)))
				// m ← β1 m + (1−β1) g ;  v ← β2 v + (1−β2) g²
				st.expAvg.MustMulScalar_(ts.FloatScalar(o.Beta1))
				scaled := grad.MustMulScalar(ts.FloatScalar(1-o.Beta1), false)
				st.expAvg.MustAdd_(scaled)
				scaled.MustDrop()
				st.expAvgSq.MustMulScalar_(ts.FloatScalar(o.Beta2))
				sq := grad.MustMulScalar(ts.FloatScalar(1-o.Beta2), false)
				sq.MustMul_(grad)
				st.expAvgSq.MustAdd_(sq)
				sq.MustDrop()
				// θ ← θ − lr·√bc2/bc1 · m / (√v + eps), then θ ← θ (1 − lr·wd)
				// (TorchForm: θ ← θ (1 − lr·wd), then θ ← θ − lr/bc1 · m / (√v/√bc2 + eps))
				if o.TorchForm && g.WeightDecay != 0 {
					p.Tensor.MustMulScalar_(ts.FloatScalar(1 - lr*g.WeightDecay))
				}
				denom := st.expAvgSq.MustSqrt(false)
				scale := -lr * bc2Sqrt / bc1
				if o.TorchForm {
					denom.MustDivScalar_(ts.FloatScalar(bc2Sqrt))
					scale = -lr / bc1
				}
				denom.MustAddScalar_(ts.FloatScalar(o.Eps))
				upd := st.expAvg.MustDiv(denom, false)
				denom.MustDrop()
				upd.MustMulScalar_(ts.FloatScalar(scale))
				p.Tensor.MustAdd_(upd)
				upd.MustDrop()
				if !o.TorchForm && g.WeightDecay != 0 {
					p.Tensor.MustMulScalar_(ts.FloatScalar(1 - lr*g.WeightDecay))
				}
				grad.MustDrop()
			}
		}
	})
	return nil
}

// WithoutBiasDecay splits g as Hugging Face's Trainer builds AdamW's groups (every reference
// that trains with weight decay trains under it): a parameter whose name contains "bias" —
// T5's relative_attention_bias included — gets no weight decay; everything else, layer norms
// included (T5's are not torch's nn.LayerNorm), keeps g's. The bias-free part keeps g's name.
func WithoutBiasDecay(g ParamGroup) []ParamGroup {
	if g.WeightDecay == 0 {
		return []ParamGroup{g}
	}
	decayed, free := g, ParamGroup{Name: g.Name + ".no_decay", LR: g.LR}
	decayed.Params = nil
	for _, p := range g.Params {
		if strings.Contains(p.Name, "bias") {
			free.Params = append(free.Params, p)
		} else {
			decayed.Params = append(decayed.Params, p)
		}
	}
	var out []ParamGroup
	for _, part := range []ParamGroup{decayed, free} {
		if len(part.Params) > 0 {
			out = append(out, part)
		}
	}
	return out
}

// ZeroGrad clears every parameter's gradient.
func (o *AdamW) ZeroGrad() {
	for _, g := range o.groups {
		for _, p := range g.Params {
			grad := p.Tensor.MustGrad(false)
			if grad.MustDefined() {
				grad.MustZero_()
			}
			grad.MustDrop()
		}
	}
}

// ClipGradNorm scales all gradients so their global L2 norm is at most maxNorm (as
// torch.nn.utils.clip_grad_norm_) and returns the norm before clipping.
func (o *AdamW) ClipGradNorm(maxNorm float64) float64 {
	var total float64
	var grads []*ts.Tensor
	for _, g := range o.groups {
		for _, p := range g.Params {
			grad := p.Tensor.MustGrad(false)
			if !grad.MustDefined() {
				grad.MustDrop()
				continue
			}
			grads = append(grads, grad)
			sq := grad.MustTotype(gotch.Double, false).MustPowTensorScalar(ts.FloatScalar(2), true)
			total += sq.MustSum(gotch.Double, true).Float64Values(true)[0]
		}
	}
	total = math.Sqrt(total)
	if coef := maxNorm / (total + 1e-6); maxNorm > 0 && coef < 1 {
		ts.NoGrad(func() {
			for _, g := range grads {
				g.MustMulScalar_(ts.FloatScalar(coef))
			}
		})
	}
	for _, g := range grads {
		g.MustDrop()
	}
	return total
}

// Close frees the optimiser state.
func (o *AdamW) Close() {
	for _, st := range o.state {
		st.expAvg.MustDrop()
		st.expAvgSq.MustDrop()
	}
	o.state = map[*ts.Tensor]*adamState{}
}

// LinearSchedule is linear warmup to 1 over warmup updates, then linear decay to 0 at total
// (Hugging Face's get_linear_schedule_with_warmup), one update ahead of it: step counts
// updates from 1 and update s gets s/warmup, where Hugging Face's scheduler, stepped after
// the optimiser, gives (s−1)/warmup (its first update moves nothing, though it still feeds
// the gradient into the moments). From update warmup+1 on the two agree (docs/fidelity.md).
func LinearSchedule(step, warmup, total int) float64 {
	if step < 1 {
		step = 1
	}
	if warmup > 0 && step <= warmup {
		return float64(step) / float64(warmup)
	}
	if total <= warmup {
		return 1
	}
	return math.Max(0, float64(total-step+1)/float64(total-warmup))
}

// checkFinite returns an error if v is NaN or ±Inf.
func checkFinite(what string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%s is %v", what, v)
	}
	return nil
}
