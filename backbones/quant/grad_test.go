package quant

import (
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
)

// Grads of root = Σ (a·b)·3 + Σ c² with respect to a leaf (a), an intermediate (p = a·b),
// another leaf (c) and a leaf root does not use (u): 3b, 3, 2c and undefined; no leaf's
// .grad is touched.
func TestGradsIsAutogradGrad(t *testing.T) {
	coretest.LockThread(t)
	leaf := func(v ...float32) *ts.Tensor {
		return ts.MustOfSlice(v).MustSetRequiresGrad(true, true)
	}
	a, b, c, u := leaf(1, 2, 3), leaf(4, 5, 6), leaf(-1, 0.5, 2), leaf(7)
	p := a.MustMul(b, false)
	root := p.MustMulScalar(ts.FloatScalar(3), false).MustSum(gotch.Float, true)
	sq := c.MustMul(c, false).MustSum(gotch.Float, true)
	root = root.MustAdd(sq, true)
	sq.MustDrop()
	grads, err := Grads(root, []*ts.Tensor{a, p, c, u})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float32{{12, 15, 18}, {3, 3, 3}, {-2, 1, 4}}
	for i, w := range want {
		got := core.Float32s(grads[i])
		for k := range w {
			if got[k] != w[k] {
				t.Fatalf("input %d: gradient %v, want %v", i, got, w)
			}
		}
	}
	if grads[3].MustDefined() {
		t.Fatal("an unused input got a defined gradient")
	}
	for _, x := range []*ts.Tensor{a, b, c} {
		if x.MustGrad(false).MustDefined() {
			t.Fatal("Grads accumulated into a leaf's .grad")
		}
	}
	for _, x := range append(grads, a, b, c, u, p, root) {
		x.MustDrop()
	}
}
