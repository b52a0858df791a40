package coretest

import (
	"math"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// Logits runs batch b through the backbone under the set-up method m (no gradients) and
// returns the logits, for tests that compare two methods' outputs (export → import round
// trips).
func Logits(t testing.TB, bb core.Backbone, m core.Method, b *core.Batch) []float32 {
	t.Helper()
	var out []float32
	ts.NoGrad(func() {
		in, err := core.MethodInput(bb, m, b)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Drop()
		o, err := bb.(core.OutputsBackbone).ForwardOutputs(in, b.Labels)
		if err != nil {
			t.Fatal(err)
		}
		defer o.Drop()
		out = core.Float32s(o.Logits)
	})
	return out
}

// MaxDiff is the largest absolute element difference (+Inf for different lengths).
func MaxDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}
