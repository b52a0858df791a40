package adapters

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
)

// Apply is h + W_up f(W_down h + b_down) + b_up for every activation: checked against the
// formula written out elementwise on a 1-wide bottleneck.
func TestApplyMatchesTheFormula(t *testing.T) {
	coretest.LockThread(t)
	gelu := func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
	geluNew := func(x float64) float64 {
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}
	cases := []struct {
		act Activation
		f   func(float64) float64
	}{
		{ReLU, func(x float64) float64 { return math.Max(x, 0) }},
		{GeLUNew, geluNew},
		{GeLU, gelu},
		{SiLU, func(x float64) float64 { return x / (1 + math.Exp(-x)) }},
	}
	for _, c := range cases {
		t.Run(string(c.act), func(t *testing.T) {
			core.SeedAll(5)
			a, err := New(core.CPU, core.HookSite{Name: "s", Out: 3}, Spec{Bottleneck: 1, Activation: c.act, DownStd: 0.5, UpStd: 0.5})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			h := ts.MustOfSlice([]float32{0.3, -1.2, 2}).MustView([]int64{1, 3}, true)
			defer h.MustDrop()
			out, err := a.Apply(h)
			if err != nil {
				t.Fatal(err)
			}
			defer out.MustDrop()
			down, up := core.Float32s(a.Down), core.Float32s(a.Up)
			z := 0.0
			for i, x := range []float64{0.3, -1.2, 2} {
				z += float64(down[i]) * x
			}
			got := core.Float32s(out)
			for i, x := range []float64{0.3, -1.2, 2} {
				if want := x + float64(up[i])*c.f(z); math.Abs(float64(got[i])-want) > 1e-5 {
					t.Errorf("out[%d] = %v, want %v", i, got[i], want)
				}
			}
		})
	}
}

// up_std 0 gives the identity at initialisation; the parameter count is 2·d·b + b + d; the
// names follow prefix + down/up . weight/bias; Close is idempotent.
func TestIdentityCountAndNames(t *testing.T) {
	coretest.LockThread(t)
	a, err := New(core.CPU, core.HookSite{Name: "enc.0.ffn", Out: 16}, Spec{Bottleneck: 4, Activation: GeLUNew, DownStd: 1e-2})
	if err != nil {
		t.Fatal(err)
	}
	h := ts.MustRandn([]int64{2, 5, 16}, gotch.Float, gotch.CPU)
	defer h.MustDrop()
	out, err := a.Apply(h)
	if err != nil {
		t.Fatal(err)
	}
	if !out.MustEqual(h, false) {
		t.Error("a zero W_up is not the identity")
	}
	out.MustDrop()
	if n := a.NumParams(); n != 2*16*4+4+16 {
		t.Errorf("%d parameters", n)
	}
	want := []string{"p.down.weight", "p.down.bias", "p.up.weight", "p.up.bias"}
	for i, p := range a.Params("p.") {
		if p.Name != want[i] || !p.Tensor.MustRequiresGrad() {
			t.Errorf("param %d: %s (requires grad %v)", i, p.Name, p.Tensor.MustRequiresGrad())
		}
	}
	a.Close()
	a.Close()
	if _, err := New(core.CPU, core.HookSite{Name: "x", Out: 4}, Spec{Bottleneck: 2, Activation: "tanh"}); err == nil {
		t.Error("an unknown activation was accepted")
	}
}
