package host

import (
	"math"
	"runtime"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// TestBestCheckpointRestoreReachesPlugin: the trainer keeps the best dev state by snapshotting
// ParamGroups and restores it before the test evaluation. For a plugin those are a mirror of
// its state: an evaluation after training refreshes the mirror, and a restored mirror is sent
// to the plugin before the next evaluation, so the test score is the best checkpoint's.
func TestBestCheckpointRestoreReachesPlugin(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	bb := openTiny(t)
	m, err := Open("testpt", testPlugin, map[string]any{"length": 4}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, MaxSourceLen: 64}); err != nil {
		t.Fatal(err)
	}
	groups := m.ParamGroups()
	if len(groups) != 1 || len(groups[0].Params) != 1 || groups[0].Params[0].Tensor.MustRequiresGrad() {
		t.Fatalf("ParamGroups should be one mirror tensor without grad: %+v", groups)
	}
	mirror := groups[0].Params[0].Tensor
	opt := core.NewAdamW(groups)
	defer opt.Close()
	srcs, tgts := fixedBatches(4, 2, bb.Info().Vocab)
	in := func() core.Input {
		ids, mask := core.PadBatch(srcs[0], 0)
		defer ids.MustDrop()
		return core.Input{Embeds: bb.Embed(ids), Mask: mask}
	}()
	defer in.Drop()
	evaluate := func() {
		var err error
		ts.NoGrad(func() {
			var x core.Input
			x, err = m.Transform(in, false)
			if err == nil {
				x.Drop()
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	train := func(s int) {
		if _, err := core.TrainStep(bb, m, opt, srcs[s], tgts[s], 0, 1, 1); err != nil {
			t.Fatal(err)
		}
	}
	pluginState := func() []float32 {
		st, err := m.fetchState()
		if err != nil {
			t.Fatal(err)
		}
		defer core.DropNamed(st)
		return core.Float32s(st[0].Tensor)
	}
	same := func(a, b []float32) bool {
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				return false
			}
		}
		return len(a) == len(b)
	}

	train(0)
	train(1)
	evaluate()
	best := mirror.MustDetachCopy(false)
	defer best.MustDrop()
	if !same(core.Float32s(best), pluginState()) {
		t.Fatal("after an evaluation the mirror does not hold the plugin's state")
	}
	train(2)
	train(3)
	evaluate()
	if same(core.Float32s(mirror), core.Float32s(best)) {
		t.Fatal("training did not change the state; the test proves nothing")
	}
	ts.NoGrad(func() { mirror.Copy_(best) }) // what core's restore does
	evaluate()
	if !same(pluginState(), core.Float32s(best)) {
		t.Error("the restored state did not reach the plugin before the evaluation")
	}
	st, err := m.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	defer core.DropNamed(st)
	if !same(core.Float32s(st[0].Tensor), core.Float32s(best)) {
		t.Error("SaveState after the restore is not the restored state")
	}
}
