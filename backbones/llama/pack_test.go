package llama

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// packRun is one run of a test pack: its batch and its own prompt.
type packRun struct {
	batch  *core.Batch
	prompt *ts.Tensor
}

func packRuns(t *testing.T, bb *Backbone) []packRun {
	t.Helper()
	texts := [][]string{
		{"a source", "yes", "another, longer source", "no"},
		{"short", "maybe so"},
		{"the third run's only row is the longest source of all", "x", "mid-length text", "yes"},
	}
	var runs []packRun
	for i, tx := range texts {
		var rows []core.Encoded
		for j := 0; j < len(tx); j += 2 {
			rows = append(rows, core.Encoded{Source: bb.EncodeSource(tx[j], 64), Target: bb.EncodeTarget(tx[j+1], 8)})
		}
		batch, err := bb.Collate(rows, core.CollateOptions{Train: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(batch.Close)
		ts.ManualSeed(int64(10 + i))
		prompt := ts.MustRandn([]int64{int64(2 + 3*i), bb.Info().DModel}, gotch.Float, gotch.CPU).MustSetRequiresGrad(true, true)
		t.Cleanup(func() { prompt.MustDrop() })
		runs = append(runs, packRun{batch, prompt})
	}
	return runs
}

func promptedInput(t *testing.T, bb *Backbone, r packRun) core.Input {
	t.Helper()
	in := core.EmbedBatch(bb, r.batch)
	defer in.Drop()
	x, err := core.PrependPrompt(in, r.prompt)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// gradOf reads and clears p's gradient.
func gradOf(p *ts.Tensor) []float32 {
	g := p.MustGrad(false)
	defer g.MustDrop()
	out := float32s(g)
	g.MustZero_()
	return out
}

// A pack's loss on Llama: three runs with prompts of different lengths and sources of
// different lengths, padded on the left and stacked (labels on the right with −100), give
// through BlockLosses each run's own Loss value and, from one backward of the total, each
// run's own prompt gradient — in float32 and through the NF4 recomputed backward.
func TestBlockLossesEqualEachRunAlone(t *testing.T) {
	for _, q := range []core.Quant{core.QuantNone, core.QuantNF4} {
		t.Run(q.String(), func(t *testing.T) {
			bb := tinyBackbone(t, core.BackboneOptions{Seed: 5, Quant: q})
			runs := packRuns(t, bb)
			var aloneLoss []float64
			var aloneGrad [][]float32
			for _, r := range runs {
				x := promptedInput(t, bb, r)
				loss, err := bb.Loss(x, r.batch.Labels)
				x.Drop()
				if err != nil {
					t.Fatal(err)
				}
				aloneLoss = append(aloneLoss, loss.Float64Values()[0])
				loss.MustBackward()
				loss.MustDrop()
				aloneGrad = append(aloneGrad, gradOf(r.prompt))
			}
			before := recomputed
			in, labels, rows := stackForTest(t, bb, runs)
			defer in.Drop()
			defer labels.MustDrop()
			total, each, err := bb.BlockLosses(in, labels, rows)
			if err != nil {
				t.Fatal(err)
			}
			if took := recomputed != before; took != (q == core.QuantNF4) {
				t.Fatalf("%v: recomputed backward taken %v", q, took)
			}
			sum := 0.0
			for b := range runs {
				sum += each[b]
				if rel := math.Abs(each[b]-aloneLoss[b]) / aloneLoss[b]; !(rel <= 1e-5) {
					t.Errorf("run %d: packed loss %v, alone %v (relative %.2g)", b, each[b], aloneLoss[b], rel)
				}
			}
			if v := total.Float64Values()[0]; math.Abs(v-sum) > 1e-5*sum {
				t.Errorf("total %v, blocks sum to %v", v, sum)
			}
			total.MustBackward()
			total.MustDrop()
			for b, r := range runs {
				got, want := gradOf(r.prompt), aloneGrad[b]
				var big, diff float64
				for i := range want {
					big = math.Max(big, math.Abs(float64(want[i])))
					diff = math.Max(diff, math.Abs(float64(want[i]-got[i])))
				}
				if big == 0 || diff > 1e-5*big {
					t.Errorf("run %d: prompt gradient differs by %.3g of its largest %.3g", b, diff/big, big)
				}
			}
		})
	}
}

// stackForTest pads the runs' prompted inputs on the left and their labels on the right
// (−100), as a pack does, and stacks them.
func stackForTest(t *testing.T, bb *Backbone, runs []packRun) (core.Input, *ts.Tensor, []int64) {
	t.Helper()
	var xs []core.Input
	L, T := int64(0), int64(0)
	for _, r := range runs {
		x := promptedInput(t, bb, r)
		xs = append(xs, x)
		L = max(L, x.Embeds.MustSize()[1])
		T = max(T, r.batch.Labels.MustSize()[1])
	}
	var es, ms, ls []*ts.Tensor
	var rows []int64
	for i, x := range xs {
		n := x.Embeds.MustSize()[1]
		es = append(es, x.Embeds.MustConstantPadNd([]int64{0, 0, L - n, 0}, false))
		ms = append(ms, x.Mask.MustConstantPadNd([]int64{L - n, 0}, false))
		lab := runs[i].batch.Labels.MustAddScalar(ts.IntScalar(100), false)
		lab = lab.MustConstantPadNd([]int64{0, T - lab.MustSize()[1]}, true)
		ls = append(ls, lab.MustSubScalar(ts.IntScalar(100), true))
		rows = append(rows, int64(runs[i].batch.Size()))
		x.Drop()
	}
	in := core.Input{Embeds: ts.MustCat(es, 0), Mask: ts.MustCat(ms, 0), Batch: &core.Batch{Train: true}}
	labels := ts.MustCat(ls, 0)
	for _, t := range append(append(es, ms...), ls...) {
		t.MustDrop()
	}
	return in, labels, rows
}

// The blocks must cover the label rows, each with at least one row.
func TestBlockLossesRefusesBadBlocks(t *testing.T) {
	bb := tinyBackbone(t, core.BackboneOptions{Seed: 5})
	runs := packRuns(t, bb)
	in, labels, _ := stackForTest(t, bb, runs)
	defer in.Drop()
	defer labels.MustDrop()
	for _, rows := range [][]int64{{2, 1}, {2, 1, 3}, {0, 3, 2}} {
		if _, _, err := bb.BlockLosses(in, labels, rows); err == nil {
			t.Errorf("blocks %v of 5 rows: no error", rows)
		}
	}
}
