package host

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/plugins/sdk"
)

// TestSDKAdamWMatchesCore checks that the SDK's pure-Go AdamW and gradient clipping give
// bit-identical parameters to core.AdamW on libtorch, over several steps, two groups (one with
// weight decay), gradients spanning several magnitudes, and clipping on and off.
func TestSDKAdamWMatchesCore(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rng := rand.New(rand.NewPCG(1, 2))
	shapes := [][]int{{100, 64}, {37}}
	lrs := []float64{0.3, 5e-3}
	wds := []float64{0, 0.01}

	var sdkParams []*sdk.Param
	var groups []core.ParamGroup
	for i, sh := range shapes {
		p := sdk.NewParam("p", lrs[i], sh...)
		for j := range p.Data {
			p.Data[j] = float32(rng.NormFloat64())
		}
		p.WeightDecay = wds[i]
		sdkParams = append(sdkParams, p)
		tt := ts.MustOfSlice(append([]float32(nil), p.Data...)).MustView(toInt64(sh), true)
		tt.MustRequiresGrad_(true)
		groups = append(groups, core.ParamGroup{Name: "g", LR: lrs[i], WeightDecay: wds[i],
			Params: []core.NamedTensor{{Name: "p", Tensor: tt}}})
	}
	defer func() {
		for _, g := range groups {
			g.Params[0].Tensor.MustDrop()
		}
	}()
	opt := core.NewAdamW(groups)
	defer opt.Close()
	sopt := sdk.NewAdamW()
	for step := 1; step <= 30; step++ {
		maxNorm := 0.0
		if step%3 != 0 {
			maxNorm = []float64{1, 0.05, 100}[step%3]
		}
		lrFactor := core.LinearSchedule(step, 5, 30)
		opt.ZeroGrad()
		sdk.ZeroGrad(sdkParams)
		for i, p := range sdkParams {
			scale := math.Pow(10, float64(rng.IntN(7)-4))
			for j := range p.Grad {
				p.Grad[j] = float32(rng.NormFloat64() * scale)
			}
			// d/dp sum(p * g) = g exactly.
			g := ts.MustOfSlice(append([]float32(nil), p.Grad...)).MustView(toInt64(shapes[i]), true)
			loss := groups[i].Params[0].Tensor.MustMul(g, false).MustSum(gotch.Float, true)
			loss.MustBackward()
			loss.MustDrop()
			g.MustDrop()
		}
		var n1, n2 float64
		if maxNorm > 0 {
			n1 = opt.ClipGradNorm(maxNorm)
			n2 = sdk.ClipGradNorm(sdkParams, maxNorm)
		}
		opt.Step(lrFactor)
		sopt.Step(sdkParams, lrFactor)
		if math.Abs(n1-n2) > 1e-12*math.Max(1, n1) {
			t.Fatalf("step %d: grad norm core %v, sdk %v", step, n1, n2)
		}
		for i, p := range sdkParams {
			want := core.Float32s(groups[i].Params[0].Tensor)
			for j := range want {
				if math.Float32bits(want[j]) != math.Float32bits(p.Data[j]) {
					t.Fatalf("step %d (clip %g), group %d, element %d: core %v (%08x), sdk %v (%08x)", step, maxNorm, i, j,
						want[j], math.Float32bits(want[j]), p.Data[j], math.Float32bits(p.Data[j]))
				}
			}
		}
	}
}

func toInt64(s []int) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[i] = int64(v)
	}
	return out
}
