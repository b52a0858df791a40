package params

import (
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// Drop frees what is set, clears the fields, skips nil ones and is safe to repeat.
func TestDropFreesAndClears(t *testing.T) {
	a := ts.MustZeros([]int64{2}, gotch.Float, gotch.CPU)
	b := ts.MustOnes([]int64{3}, gotch.Float, gotch.CPU)
	var unset *ts.Tensor
	view := b.MustShallowClone() // shares b's storage: must stay usable after b is dropped
	defer view.MustDrop()
	Drop(&a, &unset, &b)
	if a != nil || b != nil || unset != nil {
		t.Fatalf("fields not cleared: %v %v %v", a, b, unset)
	}
	Drop(&a, &b) // again: nothing to free
	if got := view.Float64Values(); len(got) != 3 || got[0] != 1 {
		t.Errorf("a tensor sharing the dropped one's storage reads %v", got)
	}
}

func TestRateFallsBackOnlyAtZero(t *testing.T) {
	for _, c := range []struct{ own, base, want float64 }{
		{0, 0.3, 0.3}, {1e-2, 0.3, 1e-2}, {0.3, 0, 0.3},
	} {
		if got := Rate(c.own, c.base); got != c.want {
			t.Errorf("Rate(%g, %g) = %g, want %g", c.own, c.base, got, c.want)
		}
	}
}
