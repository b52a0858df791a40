package t5

import (
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// The FFN's residual add is h + PostDropout(dropout(f)): what the post-dropout hook adds is
// never dropped. With h = 3 and f = 1 (1,024 elements) the added part h' − h is 1 + c without
// dropout and, with dropout 0.5 in a training step, c or 2 + c per element, both occurring
// (a hook before the dropout would give 0 or 2 + 2c instead).
func TestPostDropoutHookEscapesTheDropout(t *testing.T) {
	lockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	m := bb.(*Backbone).model
	const site = "encoder.block.0.layer.1.DenseReluDense"
	const c = 0.25
	add := &core.Hooks{PostDropout: func(call core.HookCall, d *ts.Tensor) *ts.Tensor {
		if call.Site != site {
			t.Errorf("post-dropout hook called at %q", call.Site)
		}
		return d.MustAddScalar(ts.FloatScalar(c), false)
	}}
	for _, tc := range []struct {
		name    string
		dropout float64
		train   bool
		hooks   *core.Hooks
		want    []float32 // the values h' − h takes; every one of them occurs
	}{
		{"evaluation, dropout 0.5, hook", 0.5, false, add, []float32{1 + c}},
		{"training, dropout 0.5, hook", 0.5, true, add, []float32{c, 2 + c}},
		{"training, dropout 0.5, no hook", 0.5, true, nil, []float32{0, 2}},
		{"training, dropout 0, hook", 0, true, add, []float32{1 + c}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lockThread(t) // a subtest is a goroutine of its own: grad mode is per OS thread
			m.Cfg.Dropout = tc.dropout
			m.SetHooks(tc.hooks)
			defer func() { m.Cfg.Dropout = 0; m.SetHooks(nil) }()
			ts.ManualSeed(7)
			h := ts.MustFull([]int64{4, 16, 16}, ts.FloatScalar(3), gotch.Float, gotch.CPU)
			f := ts.MustOnes([]int64{4, 16, 16}, gotch.Float, gotch.CPU)
			var out *ts.Tensor
			m.Within(&core.Batch{Train: tc.train}, func() { out = m.residualFF(site, h, f) })
			defer out.MustDrop()
			seen := map[float32]int{}
			for _, v := range core.Float32s(out) {
				seen[v-3]++
			}
			for _, w := range tc.want {
				if seen[w] == 0 {
					t.Errorf("h' − h never %g: %v", w, seen)
				}
				delete(seen, w)
			}
			if len(seen) != 0 {
				t.Errorf("h' − h also took %v, want only %v", seen, tc.want)
			}
		})
	}
}
