package hyperformer_test

import (
	"slices"
	"testing"

	_ "github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/methods/hyperformer"
)

func tiny(t *testing.T) core.Backbone {
	t.Helper()
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bb.Close)
	return bb
}

func batch(t *testing.T, bb core.Backbone, tasks ...int) *core.Batch {
	t.Helper()
	var rows []core.Encoded
	for i, k := range tasks {
		rows = append(rows, core.Encoded{Source: bb.EncodeSource([]string{"some input", "another one here"}[i%2], 32),
			Target: bb.EncodeTarget("yes", 4), Task: k})
	}
	b, err := bb.Collate(rows, core.CollateOptions{Train: true, TaskNames: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func loss(t *testing.T, bb core.Backbone, m core.Method, b *core.Batch) float64 {
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

func setup(t *testing.T, bb core.Backbone) (*hyperformer.Method, *core.Session) {
	t.Helper()
	m, err := core.NewMethod("hyperformer", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	sess, err := core.StartSession(bb, m, core.SetupEnv{Backbone: bb, Seed: 1, Tasks: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sess.Close)
	return m.(*hyperformer.Method), sess
}

// Generated adapters differ between tasks and are identical for the same task.
func TestGeneratedWeightsPerTask(t *testing.T) {
	coretest.LockThread(t)
	bb := tiny(t)
	m, _ := setup(t, bb)
	site := m.Sites()[0]
	g, err := m.GenerateFor(site, []int64{0, 1, 0})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Drop()
	down := core.Float32s(g.Down) // [3, b, d]
	n := len(down) / 3
	if !slices.Equal(down[:n], down[2*n:]) {
		t.Error("the same task got different adapters")
	}
	if slices.Equal(down[:n], down[n:2*n]) {
		t.Error("two tasks got the same adapter")
	}
}

// At step 0 the model is the frozen backbone exactly; after a step gradients reached the
// hypernetwork and nothing in the backbone, and the generated up-projections are no longer zero.
func TestStartsAsTheBackboneAndTrainsOnlyTheHypernetwork(t *testing.T) {
	coretest.LockThread(t)
	bb := tiny(t)
	b := batch(t, bb, 0, 1)
	plain := loss(t, bb, &noop{}, b)
	m, sess := setup(t, bb)
	if got := loss(t, bb, m, b); got != plain {
		t.Fatalf("step-0 loss %v, frozen backbone %v", got, plain)
	}
	before := map[string][]float32{}
	for _, w := range bb.Weights() {
		before[w.Name] = core.Float32s(w.Tensor)
	}
	if _, err := sess.Step(b, 1, 1); err != nil {
		t.Fatal(err)
	}
	for _, g := range m.ParamGroups() {
		for _, p := range g.Params {
			if gr := p.Tensor.MustGrad(false); !gr.MustDefined() {
				t.Errorf("%s got no gradient", p.Name)
			}
		}
	}
	for _, w := range bb.Weights() {
		if w.Tensor.MustRequiresGrad() || !slices.Equal(before[w.Name], core.Float32s(w.Tensor)) {
			t.Errorf("backbone weight %s changed or became trainable", w.Name)
		}
	}
	if after := loss(t, bb, m, b); after == plain {
		t.Error("one step left the model equal to the backbone")
	}
}

// TestParameterCountOnT5Base: the package doc's count, with 8 tasks.
func TestParameterCountOnT5Base(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-base", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	m, _ := core.NewMethod("hyperformer", nil)
	defer m.Close()
	tasks := []string{"cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte"}
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, Tasks: tasks}); err != nil {
		t.Fatal(err)
	}
	if n := core.TrainableParams(m); n != 2582616 {
		t.Errorf("HyperFormer++ on t5-base with 8 tasks: %d trainable, want 2,582,616", n)
	}
}

type noop struct{}

func (noop) Setup(core.SetupEnv) error      { return nil }
func (noop) ParamGroups() []core.ParamGroup { return nil }
func (noop) Config() any                    { return nil }
func (noop) Close()                         {}
func (noop) Hooks() *core.Hooks             { return nil }
