package hyperdecoder_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	_ "github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/methods/hyperdecoder"
)

func tiny(t *testing.T, preset string) core.Backbone {
	t.Helper()
	bb, err := core.OpenBackbone(preset, core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bb.Close)
	return bb
}

func setup(t *testing.T, bb core.Backbone) (*hyperdecoder.Method, *core.Session) {
	t.Helper()
	m, err := core.NewMethod("hyperdecoder", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	sess, err := core.StartSession(bb, m, core.SetupEnv{Backbone: bb, Seed: 1, Tasks: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sess.Close)
	return m.(*hyperdecoder.Method), sess
}

// Generated decoder adapters differ between two inputs and are identical for the same input.
func TestGeneratedWeightsPerInput(t *testing.T) {
	coretest.LockThread(t)
	bb := tiny(t, "t5-tiny")
	m, _ := setup(t, bb)
	ts.ManualSeed(5)
	x := ts.MustRandn([]int64{1, 4, 64}, gotch.Float, gotch.CPU)
	y := ts.MustRandn([]int64{1, 4, 64}, gotch.Float, gotch.CPU)
	enc := ts.MustCat([]*ts.Tensor{x, y, x}, 0)
	mask := ts.MustOnes([]int64{3, 4}, gotch.Float, gotch.CPU)
	defer func() {
		for _, t := range []*ts.Tensor{x, y, enc, mask} {
			t.MustDrop()
		}
	}()
	g, err := m.GenerateFor(m.DecoderSites()[0], enc, mask)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Drop()
	down := core.Float32s(g.Down)
	n := len(down) / 3
	if !slices.Equal(down[:n], down[2*n:]) {
		t.Error("the same input got different decoder adapters")
	}
	if slices.Equal(down[:n], down[n:2*n]) {
		t.Error("two inputs got the same decoder adapter")
	}
}

func lossOf(t *testing.T, bb core.Backbone, m core.Method, b *core.Batch) float64 {
	t.Helper()
	x, err := core.MethodInput(bb, m, b)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Drop()
	l, err := bb.Loss(x, b.Labels)
	if err != nil {
		t.Fatal(err)
	}
	defer l.MustDrop()
	return l.Float64Values()[0]
}

// Step 0 equals the frozen backbone exactly; a step trains the method and nothing else;
// generation runs through the generated decoder.
func TestStartsAsTheBackboneAndTrainsOnlyItself(t *testing.T) {
	coretest.LockThread(t)
	bb := tiny(t, "t5-tiny")
	rows := []core.Encoded{{Source: bb.EncodeSource("first input", 32), Target: bb.EncodeTarget("yes", 4)},
		{Source: bb.EncodeSource("second, longer input", 32), Target: bb.EncodeTarget("no", 4)}}
	b, err := bb.Collate(rows, core.CollateOptions{Train: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	plain := lossOf(t, bb, noop{}, b)
	m, sess := setup(t, bb)
	if got := lossOf(t, bb, m, b); got != plain {
		t.Fatalf("step-0 loss %v, frozen backbone %v", got, plain)
	}
	before := map[string][]float32{}
	for _, w := range bb.Weights() {
		before[w.Name] = core.Float32s(w.Tensor)
	}
	if _, err := sess.Step(b, 1, 1); err != nil {
		t.Fatal(err)
	}
	var withGrad int
	for _, g := range m.ParamGroups() {
		for _, p := range g.Params {
			if gr := p.Tensor.MustGrad(false); gr.MustDefined() {
				withGrad++
			}
		}
	}
	if withGrad == 0 {
		t.Fatal("no gradient reached the method")
	}
	for _, w := range bb.Weights() {
		if !slices.Equal(before[w.Name], core.Float32s(w.Tensor)) {
			t.Errorf("backbone weight %s changed", w.Name)
		}
	}
	in := core.EmbedBatch(bb, b)
	defer in.Drop()
	if ids, err := bb.Generate(in, core.GenerateOptions{MaxNewTokens: 3}); err != nil || len(ids) != 2 {
		t.Fatalf("generate: %v %v", ids, err)
	}
}

// TestParameterCountOnT5Base: the package doc's count.
func TestParameterCountOnT5Base(t *testing.T) {
	coretest.LockThread(t)
	bb := tiny(t, "t5-base")
	m, _ := core.NewMethod("hyperdecoder", nil)
	defer m.Close()
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, Tasks: []string{"rte"}}); err != nil {
		t.Fatal(err)
	}
	if n := core.TrainableParams(m); n != 3591768 {
		t.Errorf("HyperDecoder on t5-base: %d trainable, want 3,591,768", n)
	}
}

// A decoder-only backbone is refused with a clear error.
func TestRefusesDecoderOnly(t *testing.T) {
	coretest.LockThread(t)
	bb := coretest.NewEmbeddingOnly(300, 64) // Info().EncoderDecoder is false
	defer bb.Close()
	m, _ := core.NewMethod("hyperdecoder", nil)
	defer m.Close()
	if err := m.Setup(core.SetupEnv{Backbone: bb}); !errors.Is(err, core.ErrEncoderDecoderOnly) {
		t.Fatalf("Setup on a decoder-only backbone: %v", err)
	}
}

type noop struct{}

func (noop) Setup(core.SetupEnv) error      { return nil }
func (noop) ParamGroups() []core.ParamGroup { return nil }
func (noop) Config() any                    { return nil }
func (noop) Close()                         {}
func (noop) Hooks() *core.Hooks             { return nil }
