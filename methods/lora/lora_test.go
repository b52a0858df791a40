package lora

import (
	"math"
	"testing"

	"github.com/sugarme/gotch/ts"

	_ "github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
)

// loss and greedy ids of b under m (Begin, embed, loss; generate), without gradients.
func run(t *testing.T, bb core.Backbone, m core.Method, b *core.Batch) (float64, [][]int64) {
	t.Helper()
	var v float64
	var ids [][]int64
	ts.NoGrad(func() {
		in, err := core.MethodInput(bb, m, b)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Drop()
		l, err := bb.Loss(in, b.Labels)
		if err != nil {
			t.Fatal(err)
		}
		v = l.Float64Values()[0]
		l.MustDrop()
		if ids, err = bb.Generate(in, core.GenerateOptions{MaxNewTokens: 8}); err != nil {
			t.Fatal(err)
		}
	})
	return v, ids
}

// LoRA's default sites are q and v of every attention, self and cross, picked by role.
func TestDefaultSitesAreQAndVOfEveryAttention(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	m := &Method{cfg: DefaultConfig()}
	defer m.Close()
	if err := m.Setup(core.SetupEnv{Backbone: bb}); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, s := range bb.HookSites() {
		if s.Role == core.RoleQ || s.Role == core.RoleV {
			want[s.Name] = true
		}
	}
	got := m.Sites()
	if len(got) != 12 || len(want) != 12 { // 2 encoder self + 2 decoder self + 2 cross, × q, v
		t.Fatalf("sites %v", got)
	}
	for _, s := range got {
		if !want[s] {
			t.Errorf("site %s is not q or v", s)
		}
	}
	// A is U(±1/√in), B zeros.
	for _, p := range m.pairs {
		a := core.Float32s(p.a)
		for _, x := range a {
			if math.Abs(float64(x)) > 1/math.Sqrt(64) {
				t.Fatalf("%s: A value %v outside ±1/√64", p.site, x)
			}
		}
		for _, x := range core.Float32s(p.b) {
			if x != 0 {
				t.Fatalf("%s: B not zero", p.site)
			}
		}
	}
}

// With a trained (non-zero) B A, the merged model computes the unmerged model's outputs
// within 1e-5; merging really edits W, and unmerging restores it bit for bit.
func TestMergedEqualsUnmerged(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	cfg := DefaultConfig()
	cfg.Merge = true
	m := &Method{cfg: cfg}
	defer m.Close()
	core.SeedAll(7)
	sess, err := core.StartSession(bb, m, core.SetupEnv{Backbone: bb, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	ts.NoGrad(func() { // as if trained: B random, large enough to change the outputs
		for _, p := range m.pairs {
			r := ts.MustRandn(p.b.MustSize(), p.b.DType(), p.b.MustDevice()).MustMulScalar(ts.FloatScalar(0.3), true)
			p.b.Copy_(r)
			r.MustDrop()
		}
	})
	var rows []core.Encoded
	for _, s := range []string{"merge me", "a longer source sentence to pad the others", "x"} {
		rows = append(rows, core.Encoded{Source: bb.EncodeSource(s, 64), Target: bb.EncodeTarget("yes", 8)})
	}
	eval, err := bb.Collate(rows, core.CollateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eval.Close()

	w := bb.Weights()
	var q *ts.Tensor
	for _, nt := range w {
		if nt.Name == m.pairs[0].site+".weight" {
			q = nt.Tensor
		}
	}
	orig := q.MustDetachCopy(false)
	defer orig.MustDrop()

	merged, mergedIDs := run(t, bb, m, eval) // Begin on an eval batch merges
	if !m.merged || q.MustEqual(orig, false) {
		t.Fatal("evaluation did not merge B A into W")
	}
	m.Unmerge()
	if !q.MustEqual(orig, false) {
		t.Fatal("unmerge did not restore W exactly")
	}
	// Unmerged: the hook adds (α/r) B A x; no Begin, so nothing merges again.
	var unmerged float64
	var unmergedIDs [][]int64
	ts.NoGrad(func() {
		in := core.EmbedBatch(bb, eval)
		defer in.Drop()
		l, err := bb.Loss(in, eval.Labels)
		if err != nil {
			t.Fatal(err)
		}
		unmerged = l.Float64Values()[0]
		l.MustDrop()
		unmergedIDs, _ = bb.Generate(in, core.GenerateOptions{MaxNewTokens: 8})
	})
	bb.SetHooks(nil)
	plain, _ := run(t, bb, nil2(), eval)
	bb.SetHooks(m.Hooks())
	if math.Abs(merged-unmerged) > 1e-5 {
		t.Errorf("merged loss %v, unmerged %v", merged, unmerged)
	}
	if math.Abs(plain-unmerged) < 1e-3 {
		t.Fatalf("B A does not change the loss (%v vs frozen %v): the test proves nothing", unmerged, plain)
	}
	for i := range mergedIDs {
		for j := range mergedIDs[i] {
			if mergedIDs[i][j] != unmergedIDs[i][j] {
				t.Fatalf("row %d: merged generated %v, unmerged %v", i, mergedIDs[i], unmergedIDs[i])
			}
		}
	}
	// A training batch unmerges first, so the step's gradients are those of W + (α/r) B A x.
	train, err := bb.Collate(rows, core.CollateOptions{Train: true})
	if err != nil {
		t.Fatal(err)
	}
	defer train.Close()
	run(t, bb, m, eval)
	if _, err := sess.Step(train, 1, 0); err != nil {
		t.Fatal(err)
	}
	if m.merged || !q.MustEqual(orig, false) {
		t.Fatal("a training step ran on merged weights")
	}
}

// noMethod is a method-free stand-in for run (frozen backbone).
type noMethod struct{}

func (noMethod) Setup(core.SetupEnv) error      { return nil }
func (noMethod) ParamGroups() []core.ParamGroup { return nil }
func (noMethod) Config() any                    { return nil }
func (noMethod) Close()                         {}
func (noMethod) Hooks() *core.Hooks             { return nil }
func nil2() core.Method                         { return noMethod{} }

// Dropout on x applies in training steps only: two training passes differ, evaluation
// passes repeat.
func TestDropoutOnlyInTraining(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	cfg := DefaultConfig()
	cfg.Dropout = 0.5
	m := &Method{cfg: cfg}
	defer m.Close()
	if err := m.Setup(core.SetupEnv{Backbone: bb}); err != nil {
		t.Fatal(err)
	}
	ts.NoGrad(func() {
		for _, p := range m.pairs {
			p.b.MustFill_(ts.FloatScalar(0.5))
		}
	})
	bb.SetHooks(m.Hooks())
	defer bb.SetHooks(nil)
	rows := []core.Encoded{{Source: bb.EncodeSource("dropout", 16), Target: bb.EncodeTarget("no", 4)}}
	loss := func(train bool) float64 {
		b, err := bb.Collate(rows, core.CollateOptions{Train: train})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		v, _ := run(t, bb, m, b)
		return v
	}
	if loss(false) != loss(false) {
		t.Error("evaluation is not deterministic")
	}
	if loss(true) == loss(true) {
		t.Error("two training passes with dropout 0.5 gave the same loss")
	}
}
