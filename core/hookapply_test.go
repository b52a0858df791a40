package core

import (
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// The hook idiom: nil hooks have nothing; Replace keeps a tensor a hook passed through and
// takes the one it made instead.
func TestHookApply(t *testing.T) {
	var none *Hooks
	if none.Any() || none.HasLinear() || none.HasEncoderOutput() || none.HasPostDropout() {
		t.Fatal("nil hooks report a hook")
	}
	only := &Hooks{Norm: func(c HookCall, h *ts.Tensor) *ts.Tensor { return h }}
	if !only.HasNorm() || only.HasSublayer() || only.HasLinear() || !only.Any() {
		t.Fatalf("norm-only hooks: norm %v sublayer %v linear %v any %v", only.HasNorm(), only.HasSublayer(), only.HasLinear(), only.Any())
	}
	// A post-dropout hook alone is a hook (T5 then keeps the plain graph it needs), not a
	// sublayer hook.
	post := &Hooks{PostDropout: func(c HookCall, d *ts.Tensor) *ts.Tensor { return d }}
	if !post.HasPostDropout() || post.HasSublayer() || !post.Any() || only.HasPostDropout() {
		t.Fatalf("post-dropout hooks: post %v sublayer %v any %v; norm-only post %v", post.HasPostDropout(), post.HasSublayer(), post.Any(), only.HasPostDropout())
	}
	x := ts.MustOnes([]int64{2}, gotch.Float, gotch.CPU)
	if got := Replace(x, x); got != x {
		t.Fatal("Replace swapped a tensor the hook passed through")
	}
	y := x.MustMulScalar(ts.FloatScalar(2), false)
	got := Replace(x, y) // frees x
	if got != y || got.Float64Values()[0] != 2 {
		t.Fatalf("Replace kept %v, want the hook's tensor", got)
	}
	y.MustDrop()
}
