package benchmarks

import (
	"testing"

	"github.com/ptbench/ptbench/core"
	_ "github.com/ptbench/ptbench/methods/adapterdrop"
	_ "github.com/ptbench/ptbench/methods/ept"
	_ "github.com/ptbench/ptbench/methods/lora"
)

// A run's shard cost is steps × the relative step cost its method's description declares; a
// method without one (a plugin) counts as the baseline.
func TestRunCostsComeFromMethodDescriptions(t *testing.T) {
	g := Grid{Methods: []string{"pt", "ept", "lora", "adapterdrop", "ft", "plugin:./x"}, Tasks: []string{"rte"}, Seeds: []int64{1},
		Train: core.TrainOptions{Steps: 10}}
	want := map[string]float64{"pt": 10, "ept": 8.7, "lora": 8, "adapterdrop": 7.5, "ft": 14, "plugin:./x": 10}
	runs := g.Runs()
	if len(runs) != len(want) {
		t.Fatalf("%d runs, want %d", len(runs), len(want))
	}
	for _, r := range runs {
		if d := r.Cost - want[r.Method]; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s: cost %v, want %v", r.Method, r.Cost, want[r.Method])
		}
		if d, ok := core.Describe(r.Method); ok && MethodStepFactor(r.Method) != d.StepCost {
			t.Errorf("%s: MethodStepFactor %v, description %v", r.Method, MethodStepFactor(r.Method), d.StepCost)
		}
	}
}
