package t5

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// maxRelTo is max |a-b| over max |b|.
func maxRelTo(a, b []float32) float64 {
	worst, scale := 0.0, 0.0
	for i := range b {
		worst = math.Max(worst, math.Abs(float64(a[i]-b[i])))
		scale = math.Max(scale, math.Abs(float64(b[i])))
	}
	return worst / scale
}

func TestAddmmResidualIsHPlusXWt(t *testing.T) {
	lockThread(t)
	ts.ManualSeed(3)
	for _, c := range []struct {
		name      string
		rows      []int64 // leading dimensions of x and h
		in, out   int64
		wantError bool
	}{
		{"3-d", []int64{2, 5}, 8, 6, false},
		{"2-d", []int64{7}, 16, 4, false},
		{"one row", []int64{1, 1}, 3, 3, false},
		{"wrong width", []int64{2, 3}, 8, 6, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			lockThread(t)
			x := ts.MustRandn(append(append([]int64{}, c.rows...), c.in), gotch.Float, gotch.CPU)
			hw := c.out
			if c.wantError {
				hw++ // h one column wider than x Wᵀ: addmm must refuse it
			}
			h := ts.MustRandn(append(append([]int64{}, c.rows...), hw), gotch.Float, gotch.CPU)
			w := ts.MustRandn([]int64{c.out, c.in}, gotch.Float, gotch.CPU)
			defer func() { x.MustDrop(); h.MustDrop(); w.MustDrop() }()
			got, err := addmmResidual(h, x, w)
			if c.wantError {
				if err == nil {
					got.MustDrop()
					t.Fatal("no error for mismatched shapes")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer got.MustDrop()
			wt := w.MustTranspose(0, 1, false)
			want := h.MustAdd(x.MustMatmul(wt, false), false)
			wt.MustDrop()
			defer want.MustDrop()
			if gs, ws := got.MustSize(), want.MustSize(); len(gs) != len(ws) {
				t.Fatalf("shape %v, want %v", gs, ws)
			}
			if d := maxRelTo(got.Vals().([]float32), want.Vals().([]float32)); d > 1e-6 {
				t.Errorf("max |Δ| %.3g of scale", d)
			}
		})
	}
}

func TestDirectOnlyWithoutHooksOrDropout(t *testing.T) {
	same := func(_ core.HookCall, _, y *ts.Tensor) *ts.Tensor { return y }
	one := func(_ core.HookCall, h *ts.Tensor) *ts.Tensor { return h }
	train := &core.Batch{Train: true}
	for _, c := range []struct {
		name    string
		plain   bool
		hooks   *core.Hooks
		batch   *core.Batch
		dropout float64
		want    bool
	}{
		{"fast, no hooks", false, nil, train, 0, true},
		{"evaluation with dropout set", false, nil, &core.Batch{}, 0.1, true},
		{"plain forms", true, nil, nil, 0, false},
		{"linear hook", false, &core.Hooks{Linear: same}, nil, 0, false},
		{"sublayer hook", false, &core.Hooks{Sublayer: one}, nil, 0, false},
		{"post-dropout hook", false, &core.Hooks{PostDropout: one}, nil, 0, false},
		{"norm hook only", false, &core.Hooks{Norm: one}, nil, 0, true},
		{"training with dropout", false, nil, train, 0.1, false},
	} {
		m := &Model{Cfg: Config{Dropout: c.dropout}, plain: c.plain, hooks: c.hooks, batch: c.batch}
		if got := m.direct(); got != c.want {
			t.Errorf("%s: direct %v, want %v", c.name, got, c.want)
		}
	}
}
