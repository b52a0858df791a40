package seq

import (
	"reflect"
	"testing"

	"github.com/sugarme/gotch/ts"
)

// Greedy takes each row's argmax; with stopAtEOS a row pads after its EOS and decoding ends
// when every row has emitted EOS; without it, rows keep their argmax; stepLogits keeps each
// step's logits for the caller.
func TestGreedyStep(t *testing.T) {
	const eos, pad = 1, 0
	// Two rows, vocabulary 4: row 0 says EOS at step 1, row 1 at step 2.
	steps := [][]float32{
		{0, 9, 0, 0 /* row 0 → 1 (EOS) */, 0, 0, 9, 0 /* row 1 → 2 */},
		{0, 0, 0, 9 /* row 0 → 3 */, 0, 9, 0, 0 /* row 1 → 1 (EOS) */},
	}
	cases := []struct {
		stop     bool
		want     [][]int64
		finished []bool
	}{
		{true, [][]int64{{1, 0}, {2, 1}}, []bool{false, true}},
		{false, [][]int64{{1, 3}, {2, 1}}, []bool{false, false}},
	}
	for _, c := range cases {
		var kept []*ts.Tensor
		g := NewGreedy(2, eos, pad, c.stop, &kept)
		for i, s := range steps {
			logits := ts.MustOfSlice(s).MustView([]int64{2, 4}, true)
			next, finished := g.Step(logits)
			if finished != c.finished[i] {
				t.Errorf("stop %v, step %d: finished %v, want %v", c.stop, i, finished, c.finished[i])
			}
			if want := []int64{c.want[0][i], c.want[1][i]}; !reflect.DeepEqual(next, want) {
				t.Errorf("stop %v, step %d: next %v, want %v", c.stop, i, next, want)
			}
		}
		if !reflect.DeepEqual(g.Out, c.want) {
			t.Errorf("stop %v: tokens %v, want %v", c.stop, g.Out, c.want)
		}
		if len(kept) != len(steps) {
			t.Errorf("stop %v: %d step logits kept, want %d", c.stop, len(kept), len(steps))
		}
		for _, l := range kept {
			l.MustDrop()
		}
	}
}
