package t5

import (
	"runtime"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// In bf16 mode the tied LM head uses a cached bf16 copy of the fp32 embedding table while
// the table is frozen; while it trains (full fine-tuning edits it in place) every call casts
// afresh, and once it is frozen again the cache is rebuilt from its current values.
func TestBF16TiedHeadFollowsTheTable(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cfg := Presets["t5-tiny"]
	m, _, err := NewModel(cfg, RandomWeights(cfg, 1), "t5-tiny")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.ToBF16()
	if m.shared.DType() != gotch.Float {
		t.Fatalf("embedding table is %v, want float32", m.shared.DType())
	}
	g := ts.MustOnes([]int64{1, 2, cfg.DModel}, gotch.Float, gotch.CPU)
	defer g.MustDrop()
	head := func() []float64 {
		var out []float64
		ts.NoGrad(func() {
			l := m.LMHead(g)
			out = l.Float64Values()
			l.MustDrop()
		})
		return out
	}
	same := func(a, b []float64) bool {
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return len(a) == len(b)
	}
	before := head()
	if m.headBF16 == nil || !same(before, head()) {
		t.Fatal("frozen table: no cached bf16 head, or it changes the logits")
	}
	orig := m.shared.MustDetachCopy(false)
	defer orig.MustDrop()
	m.shared.MustRequiresGrad_(true) // as full fine-tuning does
	ts.NoGrad(func() { m.shared.MustAddScalar_(ts.FloatScalar(0.5)) })
	edited := head()
	if same(before, edited) || m.headBF16 != nil {
		t.Fatal("a trainable, edited table did not reach the LM head (stale cache)")
	}
	ts.NoGrad(func() { m.shared.Copy_(orig) })
	m.shared.MustRequiresGrad_(false)
	if !same(before, head()) {
		t.Fatal("after restoring and freezing the table, the LM head differs")
	}
}
