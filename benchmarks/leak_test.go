package benchmarks

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
)

// TestGridLeavesNoTensorsBehind: every tensor a grid makes — backbone, methods, batches,
// optimiser state, evaluation, best-checkpoint snapshots — is freed by the time it returns.
// gotch's finalizers are only a safety net: a tensor is C memory the Go collector does not
// see, and it now seldom runs (scripts/setup-gotch.sh, patch 7), so a handle left to it is
// memory the process keeps for minutes — one a step grows with the run. Counted on gotch's
// registry of live tensors with the collector off, so nothing is finalized in between.
func TestGridLeavesNoTensorsBehind(t *testing.T) {
	coretest.LockThread(t)
	runtime.GC()
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for _, c := range []struct {
		name     string
		backbone string
		quant    core.Quant
		methods  []string
		pack     int
	}{
		// ft restores the backbone's weights (and their gradients) when its run ends.
		{"t5-tiny, alone", "t5-tiny", core.QuantNone, []string{"pt", "dept", "lora", "bitfit", "ft"}, 1},
		{"t5-tiny, packed", "t5-tiny", core.QuantNone, []string{"pt", "ept", "lora"}, 3},
		// NF4 takes the recomputed backward, which probes libtorch's grad mode every step.
		{"llama-tiny NF4, packed", "llama-tiny", core.QuantNF4, []string{"pt", "lora"}, 2},
	} {
		before := len(ts.ExistingTensors)
		g := packGrid(t.TempDir(), c.methods, []int64{1}, c.pack)
		g.Backbone, g.BackboneOpts.Quant = c.backbone, c.quant
		var log strings.Builder
		g.Log = &log
		sum, err := g.Run()
		if err != nil || sum.Failed != 0 {
			t.Fatalf("%s: %+v, %v\n%s", c.name, sum, err, log.String())
		}
		if left := len(ts.ExistingTensors) - before; left > 0 {
			t.Errorf("%s: %d tensors still live after the grid (%d runs) returned", c.name, left, sum.Ran)
		}
	}
}
