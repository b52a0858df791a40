package core_test

import (
	"slices"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	_ "github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	_ "github.com/ptbench/ptbench/tasks"
)

// Collation pads on the backbone's side and numbers positions; labels pad with -100.
func TestCollateSidesAndPositions(t *testing.T) {
	coretest.LockThread(t)
	rows := []core.Encoded{{Source: []int64{5, 6, 7}, Target: []int64{1}, Task: 1}, {Source: []int64{8}, Target: []int64{2, 3}}}
	for _, c := range []struct {
		side          core.PadSide
		ids, pos      []int64
		mask          []float32
		wantLabels    []int64
		wantTaskNames string
	}{
		{core.PadRight, []int64{5, 6, 7, 8, 9, 9}, []int64{0, 1, 2, 0, 1, 2}, []float32{1, 1, 1, 1, 0, 0}, []int64{1, -100, 2, 3}, "b"},
		{core.PadLeft, []int64{5, 6, 7, 9, 9, 8}, []int64{0, 1, 2, 0, 0, 0}, []float32{1, 1, 1, 0, 0, 1}, []int64{1, -100, 2, 3}, "b"},
	} {
		b, err := core.CollateWith(rows, core.CollateOptions{Train: true, Step: 3, TaskNames: []string{"a", "b"}}, c.side, 9)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.IDs.Int64Values(); !slices.Equal(got, c.ids) {
			t.Errorf("side %v ids %v, want %v", c.side, got, c.ids)
		}
		if got := b.Positions.Int64Values(); !slices.Equal(got, c.pos) {
			t.Errorf("side %v positions %v, want %v", c.side, got, c.pos)
		}
		if got := b.Mask.Float64Values(); len(got) != 6 || float32(got[4]) != c.mask[4] || float32(got[5]) != c.mask[5] {
			t.Errorf("side %v mask %v", c.side, got)
		}
		if got := b.Labels.Int64Values(); !slices.Equal(got, c.wantLabels) {
			t.Errorf("labels %v", got)
		}
		if b.TaskOf(0) != c.wantTaskNames || b.TaskOf(1) != "a" || !b.Train || b.Step != 3 {
			t.Errorf("context %+v", b)
		}
		b.Close()
	}
}

func openTiny(t *testing.T, opts core.BackboneOptions) core.Backbone {
	t.Helper()
	opts.Seed = 1
	bb, err := core.OpenBackbone("t5-tiny", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bb.Close)
	return bb
}

// encoderScale is an encoder-output hook multiplying the encoder states by s.
func encoderScale(s float64) *core.Hooks {
	return &core.Hooks{EncoderOutput: func(c core.HookCall, enc, mask *ts.Tensor) *ts.Tensor {
		if s == 1 {
			return enc
		}
		return enc.MustMulScalar(ts.FloatScalar(s), false)
	}}
}

func lossAndIDs(t *testing.T, bb core.Backbone, h *core.Hooks, train bool) (float64, [][]int64) {
	t.Helper()
	bb.SetHooks(h)
	defer bb.SetHooks(nil)
	rows := []core.Encoded{
		{Source: bb.EncodeSource("find the keyword", 32), Target: bb.EncodeTarget("yes", 4)},
		{Source: bb.EncodeSource("none here", 32), Target: bb.EncodeTarget("no", 4)},
	}
	b, err := bb.Collate(rows, core.CollateOptions{Train: train})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	in := core.EmbedBatch(bb, b)
	defer in.Drop()
	loss, err := bb.Loss(in, b.Labels)
	if err != nil {
		t.Fatal(err)
	}
	v := loss.Float64Values()[0]
	loss.MustDrop()
	ids, err := bb.Generate(in, core.GenerateOptions{MaxNewTokens: 4})
	if err != nil {
		t.Fatal(err)
	}
	return v, ids
}

// The encoder-output hook can change what the decoder computes; as the identity it leaves
// loss and generation bit-identical.
func TestEncoderOutputHook(t *testing.T) {
	coretest.LockThread(t)
	bb := openTiny(t, core.BackboneOptions{})
	base, baseIDs := lossAndIDs(t, bb, nil, false)
	same, sameIDs := lossAndIDs(t, bb, encoderScale(1), false)
	changed, _ := lossAndIDs(t, bb, encoderScale(0.25), false)
	if base != same || !slices.EqualFunc(baseIDs, sameIDs, slices.Equal) {
		t.Errorf("identity encoder hook: loss %v vs %v, ids %v vs %v", base, same, baseIDs, sameIDs)
	}
	if changed == base {
		t.Errorf("scaling the encoder output left the decoder's loss at %v", base)
	}
}

// Dropout acts in training only, is seeded and repeatable, and --dropout 0 is the plain model.
func TestDropoutTrainingOnlyAndSeeded(t *testing.T) {
	coretest.LockThread(t)
	zero, point1 := 0.0, 0.1
	plain := openTiny(t, core.BackboneOptions{Dropout: &zero})
	dropped := openTiny(t, core.BackboneOptions{Dropout: &point1})

	evalPlain, _ := lossAndIDs(t, plain, nil, false)
	evalDropped, _ := lossAndIDs(t, dropped, nil, false)
	trainPlain, _ := lossAndIDs(t, plain, nil, true)
	if evalPlain != evalDropped || trainPlain != evalPlain {
		t.Errorf("evaluation must not drop: %v vs %v (plain training %v)", evalPlain, evalDropped, trainPlain)
	}
	core.SeedAll(7)
	a, _ := lossAndIDs(t, dropped, nil, true)
	core.SeedAll(7)
	b, _ := lossAndIDs(t, dropped, nil, true)
	c, _ := lossAndIDs(t, dropped, nil, true)
	if a != b || a == evalDropped || c == a {
		t.Errorf("training losses with dropout: seeded %v and %v, next draw %v, eval %v", a, b, c, evalDropped)
	}
}

// A position-indexed offset gives every real token the same row whatever the padding side.
func TestAddOffsetFollowsPositions(t *testing.T) {
	coretest.LockThread(t)
	ts.ManualSeed(3)
	const d = 4
	offset := ts.MustRandn([]int64{6, d}, gotch.Float, gotch.CPU)
	defer offset.MustDrop()
	rows := []core.Encoded{{Source: []int64{1, 2, 3, 4}}, {Source: []int64{5, 6}}}
	tokenRows := func(side core.PadSide) [][]float32 {
		b, err := core.CollateWith(rows, core.CollateOptions{NoLabels: true}, side, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		zeros := ts.MustZeros([]int64{2, 4, d}, gotch.Float, gotch.CPU)
		out, err := core.AddOffset(core.Input{Embeds: zeros, Mask: b.Mask, Positions: b.Positions}, offset)
		zeros.MustDrop()
		if err != nil {
			t.Fatal(err)
		}
		vals := core.Float32s(out.Embeds)
		out.Drop()
		mask := b.Mask.Float64Values()
		var real [][]float32
		for i := 0; i < 8; i++ {
			if mask[i] == 1 {
				real = append(real, vals[i*d:(i+1)*d])
			}
		}
		return real
	}
	right, left := tokenRows(core.PadRight), tokenRows(core.PadLeft)
	if len(right) != 6 || !slices.EqualFunc(right, left, slices.Equal) {
		t.Fatalf("right-padded rows %v, left-padded %v", right, left)
	}
	first := core.Float32s(offset)[:d]
	if !slices.Equal(right[4], first) { // the second example's first token gets row 0
		t.Fatalf("second example's first token got %v, want offset row 0 %v", right[4], first)
	}
}
