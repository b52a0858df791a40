package engine

import (
	"fmt"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// addHooks adds v to every row at linear and norm sites (a BitFit-like hook), recording the
// row counts and train flags it saw.
func addHooks(v float64, seen *[]string) *core.Hooks {
	add := func(c core.HookCall, y *ts.Tensor) *ts.Tensor {
		*seen = append(*seen, fmt.Sprintf("%s:%d:%v", c.Site, y.MustSize()[0], c.Train()))
		return y.MustAddScalar(ts.FloatScalar(v), false)
	}
	return &core.Hooks{
		Linear: func(c core.HookCall, _, y *ts.Tensor) *ts.Tensor { return add(c, y) },
		Norm:   add,
	}
}

// A stacked pass's hooks give each run's hook its own rows with its own batch, leave the
// rows of a run without hooks alone, answer a zero-row probe as the runs would, and refuse
// a call whose rows do not add up to the pack's.
func TestStackedHooksGiveEachRunItsRows(t *testing.T) {
	var seenA, seenB []string
	blocks := []hookBlock{
		{hooks: addHooks(1, &seenA), batch: &core.Batch{Train: true}, rows: 2},
		{rows: 1}, // an input method's rows
		{hooks: addHooks(10, &seenB), batch: &core.Batch{Train: false}, rows: 3},
	}
	h := stackedHooks(blocks)
	if h.HasSublayer() || h.HasPostDropout() || h.HasEncoderOutput() || !h.HasLinear() || !h.HasNorm() {
		t.Fatalf("stacked hooks set kinds no run has, or miss one")
	}
	x := ts.MustZeros([]int64{6, 4, 3}, gotch.Float, gotch.CPU)
	y := ts.MustZeros([]int64{6, 4, 5}, gotch.Float, gotch.CPU)
	defer x.MustDrop()
	defer y.MustDrop()
	out := h.Linear(core.HookCall{Site: "q"}, x, y)
	if out == y {
		t.Fatal("hooked rows came back unchanged")
	}
	sum := out.MustSumDimIntlist([]int64{1, 2}, false, gotch.Float, false) // per row
	defer sum.MustDrop()
	if got := fmt.Sprint(sum.Float64Values()); got != "[20 20 0 200 200 200]" {
		t.Errorf("per-row sums %s, want each run's own addition on its rows", got)
	}
	out.MustDrop()
	if fmt.Sprint(seenA, seenB) != "[q:2:true] [q:3:false]" {
		t.Errorf("hooks saw %v and %v", seenA, seenB)
	}
	// A zero-row probe: changed, and every hook was asked with zero rows at most.
	x0 := ts.MustZeros([]int64{0, 3}, gotch.Float, gotch.CPU)
	y0 := ts.MustZeros([]int64{0, 5}, gotch.Float, gotch.CPU)
	defer x0.MustDrop()
	defer y0.MustDrop()
	if r := h.Linear(core.HookCall{Site: "k"}, x0, y0); r == y0 {
		t.Error("zero-row probe: the pack's hooks said the site is not hooked")
	} else {
		r.MustDrop()
	}
	// Unhooked everywhere: nil hooks, so the backbone keeps its hook-free paths.
	if stackedHooks([]hookBlock{{rows: 2}, {rows: 3}}) != nil {
		t.Error("a pack without hook methods got hooks")
	}
	bad := ts.MustZeros([]int64{5, 5}, gotch.Float, gotch.CPU)
	defer bad.MustDrop()
	err := guard(func() error { h.Norm(core.HookCall{Site: "n"}, bad); return nil })
	if err == nil {
		t.Error("5 rows in a pack of 6: no error")
	}
}
