package core

import (
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
