package core

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// The first update of each formula, by hand: m = (1−β1)g, v = (1−β2)g², so transformers.AdamW
// moves θ by lr·g/(|g| + ε/√(1−β2)) and then decays it, torch.optim.AdamW decays first and moves
// by lr·g/(|g| + ε). With a gradient near ε the two differ in the leading digit.
func TestAdamWFirstStepFollowsItsFormula(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const lr, wd, eps = 0.1, 0.5, 1e-6
	grads := []float64{2, -0.5, 1e-6}
	for _, torchForm := range []bool{false, true} {
		p, err := CPU.Param(ts.MustOfSlice([]float32{1, 1, 1}))
		if err != nil {
			t.Fatal(err)
		}
		opt := NewAdamW([]ParamGroup{{Name: "p", LR: lr, WeightDecay: wd, Params: []NamedTensor{{Name: "p", Tensor: p}}}})
		opt.Eps, opt.TorchForm = eps, torchForm
		g := ts.MustOfSlice([]float32{2, -0.5, 1e-6})
		loss := p.MustMul(g, false).MustSum(gotch.Float, true)
		loss.MustBackward()
		loss.MustDrop()
		g.MustDrop()
		opt.Step(1)
		got := Float32s(p)
		for i, gi := range grads {
			var want float64
			if torchForm {
				want = (1 - lr*wd) - lr*gi/(math.Abs(gi)+eps)
			} else {
				want = (1 - lr*gi/(math.Abs(gi)+eps/math.Sqrt(1-0.999))) * (1 - lr*wd)
			}
			if math.Abs(float64(got[i])-want) > 1e-6 {
				t.Errorf("torch form %v, g = %g: θ %v, want %v", torchForm, gi, got[i], want)
			}
		}
		opt.Close()
		p.MustDrop()
	}
}

// A libtorch failure inside the optimiser is the step's error, naming the parameter, not a
// panic out of the run: here a moment no longer the shape of its parameter.
func TestAdamWStepReturnsLibtorchFailures(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p, err := CPU.Param(ts.MustOfSlice([]float32{1, 1, 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.MustDrop()
	opt := NewAdamW([]ParamGroup{{Name: "g", LR: 0.1, Params: []NamedTensor{{Name: "prompt", Tensor: p}}}})
	defer opt.Close()
	loss := p.MustSum(gotch.Float, false)
	loss.MustBackward()
	loss.MustDrop()
	opt.state[p] = &adamState{expAvg: ts.MustZeros([]int64{2}, gotch.Float, gotch.CPU), expAvgSq: ts.MustZeros([]int64{2}, gotch.Float, gotch.CPU)}
	err = opt.Step(1)
	if err == nil || !strings.Contains(err.Error(), "AdamW step 1, parameter prompt: panic:") {
		t.Fatalf("error %v, want the step's error naming the parameter", err)
	}
	if got := Float32s(p); got[0] != 1 {
		t.Errorf("the parameter moved to %v", got)
	}
}

// Each parameter counts its own updates, as transformers.AdamW's state["step"]: a parameter
// that first gets a gradient at the optimiser's second step makes the first update's move
// (lr·g/(|g| + ε/√(1−β2)) ≈ lr), not the move of a second bias correction.
func TestAdamWCountsUpdatesPerParameter(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const lr = 0.1
	early, err := CPU.Param(ts.MustOfSlice([]float32{1}))
	if err != nil {
		t.Fatal(err)
	}
	defer early.MustDrop()
	late, err := CPU.Param(ts.MustOfSlice([]float32{1}))
	if err != nil {
		t.Fatal(err)
	}
	defer late.MustDrop()
	opt := NewAdamW([]ParamGroup{{Name: "p", LR: lr, Params: []NamedTensor{{Name: "early", Tensor: early}, {Name: "late", Tensor: late}}}})
	defer opt.Close()
	backward := func(params ...*ts.Tensor) {
		for _, p := range params {
			loss := p.MustMulScalar(ts.FloatScalar(2), false).MustSum(gotch.Float, true)
			loss.MustBackward()
			loss.MustDrop()
		}
	}
	backward(early) // step 1: late has no gradient yet
	if err := opt.Step(1); err != nil {
		t.Fatal(err)
	}
	opt.ZeroGrad()
	backward(early, late)
	if err := opt.Step(1); err != nil {
		t.Fatal(err)
	}
	want := 1 - lr*2/(2+DefaultAdamEps/math.Sqrt(1-0.999))
	if got := Float32s(late)[0]; math.Abs(float64(got)-want) > 1e-6 {
		t.Errorf("late parameter after its first update: %v, want %v (the optimiser's second bias correction moves it to %v)",
			got, want, 1-lr*math.Sqrt(1-0.999*0.999)/(1-0.9*0.9)*0.1*2/(math.Sqrt(0.001*4)+DefaultAdamEps))
	}
}

// Weight decay is grouped as Hugging Face's Trainer groups it: nothing named "bias" decays.
func TestWithoutBiasDecay(t *testing.T) {
	named := func(names ...string) []NamedTensor {
		out := make([]NamedTensor, len(names))
		for i, n := range names {
			out[i] = NamedTensor{Name: n}
		}
		return out
	}
	describe := func(groups []ParamGroup) string {
		var parts []string
		for _, g := range groups {
			var names []string
			for _, p := range g.Params {
				names = append(names, p.Name)
			}
			parts = append(parts, fmt.Sprintf("%s wd=%g lr=%g: %s", g.Name, g.WeightDecay, g.LR, strings.Join(names, ",")))
		}
		return strings.Join(parts, "; ")
	}
	for _, c := range []struct {
		group ParamGroup
		want  string
	}{
		{ParamGroup{Name: "a", LR: 1, WeightDecay: 0.1, Params: named("x.down.weight", "x.down.bias", "layer_norm.weight", "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight")},
			"a wd=0.1 lr=1: x.down.weight,layer_norm.weight; a.no_decay wd=0 lr=1: x.down.bias,encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"},
		{ParamGroup{Name: "a", LR: 1, WeightDecay: 0.1, Params: named("q.bias")}, "a.no_decay wd=0 lr=1: q.bias"},
		{ParamGroup{Name: "a", LR: 1, Params: named("q.bias", "q.weight")}, "a wd=0 lr=1: q.bias,q.weight"},
	} {
		if got := describe(WithoutBiasDecay(c.group)); got != c.want {
			t.Errorf("got %q\nwant %q", got, c.want)
		}
	}
}
