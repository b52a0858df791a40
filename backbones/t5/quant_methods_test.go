package t5

import (
	"math"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	_ "github.com/ptbench/ptbench/methods/dept"
	_ "github.com/ptbench/ptbench/methods/ept"
	_ "github.com/ptbench/ptbench/methods/lora"
	_ "github.com/ptbench/ptbench/methods/pt"
)

// The scaling experiment's methods train on a 4-bit T5 through the recomputed backward (their
// parameters act on the input embeddings); LoRA, which hooks the linear maps, through plain
// autograd. Each step's loss is finite and moves the method's parameters.
func TestNF4TrainingStepsTakeTheRightBackward(t *testing.T) {
	lockThread(t)
	bb := openTiny(t, core.BackboneOptions{Seed: 2, Quant: core.QuantNF4})
	b := tinyBatch(t, bb, true)
	for _, c := range []struct {
		method     string
		recomputes bool
	}{{"pt", true}, {"dept", true}, {"ept", true}, {"lora", false}} {
		m, err := core.NewMethod(c.method, nil)
		if err != nil {
			t.Fatal(err)
		}
		sess, err := core.StartSession(bb, m, core.SetupEnv{Backbone: bb, Seed: 1, MaxSourceLen: 32})
		if err != nil {
			t.Fatal(c.method, err)
		}
		before := paramCopies(m)
		n := recomputedForwards
		loss, err := sess.Step(b, 1, 0)
		if err != nil || math.IsNaN(loss) || math.IsInf(loss, 0) {
			t.Fatalf("%s: step loss %v, %v", c.method, loss, err)
		}
		if took := recomputedForwards > n; took != c.recomputes {
			t.Errorf("%s: recomputed backward %v, want %v", c.method, took, c.recomputes)
		}
		after := paramCopies(m)
		changed := false
		for i := range before {
			changed = changed || !before[i].MustEqual(after[i], false)
			before[i].MustDrop()
			after[i].MustDrop()
		}
		if !changed {
			t.Errorf("%s: the step left the method's parameters unchanged", c.method)
		}
		sess.Close()
		m.Close()
	}
}

// paramCopies copies a method's parameters (the caller drops them).
func paramCopies(m core.Method) []*ts.Tensor {
	var out []*ts.Tensor
	for _, g := range m.ParamGroups() {
		for _, p := range g.Params {
			out = append(out, p.Tensor.MustDetach(false).MustMulScalar(scalar(1), true))
		}
	}
	return out
}

// The large presets have the released v1.0 checkpoints' shapes: their parameter counts are
// the published ones (KerasNLP's T5 presets list the same numbers), counted from the shapes
// without building the models.
func TestLargePresetsHaveTheReleasedShapes(t *testing.T) {
	for name, want := range map[string]int64{
		"t5-small": 60_506_624, "t5-base": 222_903_552, "t5-large": 737_668_096,
		"t5-3b": 2_851_598_336, "t5-11b": 11_307_321_344,
	} {
		var n int64
		for _, shape := range WeightShapes(Presets[name]) {
			k := int64(1)
			for _, s := range shape {
				k *= s
			}
			n += k
		}
		if n != want {
			t.Errorf("%s: %d parameters, the released checkpoint has %d", name, n, want)
		}
	}
}
