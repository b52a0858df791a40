package engine_test

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	_ "github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/engine"
	_ "github.com/ptbench/ptbench/tasks"
)

// The sampler's task frequencies over 10,000 draws match p_i ∝ n_i^{1/T}.
func TestTaskSamplerFollowsTemperature(t *testing.T) {
	sizes := []int{100, 400, 1600}
	cases := []struct {
		T    float64
		want []float64
	}{
		{1, []float64{1.0 / 21, 4.0 / 21, 16.0 / 21}}, // proportional
		{2, []float64{1.0 / 7, 2.0 / 7, 4.0 / 7}},     // square roots 10, 20, 40
		{1e9, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}},   // uniform
	}
	for _, c := range cases {
		got := engine.TaskProbabilities(sizes, c.T)
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 1e-6 {
				t.Fatalf("T=%v: probabilities %v, want %v", c.T, got, c.want)
			}
		}
		s := engine.NewTaskSampler(sizes, c.T, 1)
		counts := make([]float64, len(sizes))
		const draws = 10000
		for i := 0; i < draws; i++ {
			counts[s.Next()]++
		}
		for i := range counts {
			// 4 standard deviations of a binomial proportion at n = 10,000.
			tol := 4 * math.Sqrt(c.want[i]*(1-c.want[i])/draws)
			if f := counts[i] / draws; math.Abs(f-c.want[i]) > tol {
				t.Errorf("T=%v task %d: frequency %.4f, want %.4f ± %.4f", c.T, i, f, c.want[i], tol)
			}
		}
	}
}

// trainFlagRecorder is a backbone-family method whose hook records the train flag it sees,
// and a trainable bias on the encoder's FFN outputs (so it has something to train).
type trainFlagRecorder struct {
	bias  *ts.Tensor
	seen  []bool
	tasks []string
	begun int
}

func (m *trainFlagRecorder) Setup(env core.SetupEnv) error {
	m.bias = ts.MustZeros([]int64{env.Backbone.Info().DModel}, gotch.Float, gotch.CPU)
	m.bias.MustRequiresGrad_(true)
	return nil
}
func (m *trainFlagRecorder) ParamGroups() []core.ParamGroup {
	return []core.ParamGroup{{Name: "bias", LR: 1e-2, Params: []core.NamedTensor{{Name: "bias", Tensor: m.bias}}}}
}
func (m *trainFlagRecorder) Config() any               { return map[string]any{} }
func (m *trainFlagRecorder) Close()                    { m.bias.MustDrop() }
func (m *trainFlagRecorder) Begin(b *core.Batch) error { m.begun++; return nil }
func (m *trainFlagRecorder) Hooks() *core.Hooks {
	return &core.Hooks{Sublayer: func(c core.HookCall, h *ts.Tensor) *ts.Tensor {
		if c.Site != "encoder.block.0.layer.1.DenseReluDense" {
			return h
		}
		m.seen = append(m.seen, c.Train())
		if c.Batch != nil {
			m.tasks = append(m.tasks, c.Batch.TaskOf(0))
		}
		return h.MustAdd(m.bias, false)
	}}
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

func loadTask(t *testing.T, name string) engine.TaskData {
	t.Helper()
	task, err := core.NewTask(name)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := task.Load(core.DataOptions{Offline: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return engine.TaskData{Task: task, Data: ds}
}

// A hook sees train=true in training steps and train=false in evaluation, with the task of
// the rows; backbone-family methods are told about every batch.
func TestHookSeesTrainFlagAndTask(t *testing.T) {
	coretest.LockThread(t)
	bb := openTiny(t, core.BackboneOptions{})
	td := loadTask(t, "syn-keyword")
	m := &trainFlagRecorder{}
	opts := core.TrainOptions{Steps: 2, BatchSize: 4, EvalEvery: 1, EvalLimit: 4, TestLimit: 4, MaxNewTokens: 2, EvalBatchSize: 4}
	var during [][]bool // flags seen inside each training step
	tr := &engine.Trainer{Backbone: bb, Method: m, Tasks: []engine.TaskData{td}, Opts: opts}
	tr.Callbacks = []engine.Callback{{OnStep: func(engine.StepInfo) error { during = append(during, m.seen); m.seen = nil; return nil }}}
	// The recorder's flags are cleared after each step's callbacks; the training forward of
	// step 2 comes after step 1's evaluation, so split at each callback instead: check the
	// sequence as a whole.
	if _, err := tr.Run(); err != nil {
		t.Fatal(err)
	}
	var trainSeen, evalSeen int
	for _, flags := range during {
		// Each step: one training forward (true) first, then the dev evaluation (false).
		if len(flags) < 2 || !flags[0] {
			t.Fatalf("flags in a step %v", flags)
		}
		for _, f := range flags[1:] {
			if f {
				t.Fatalf("a hook saw train=true during evaluation: %v", flags)
			}
			evalSeen++
		}
		trainSeen++
	}
	if trainSeen != 2 || evalSeen == 0 || m.begun == 0 {
		t.Fatalf("train %d eval %d begun %d", trainSeen, evalSeen, m.begun)
	}
	for _, task := range m.tasks {
		if task != "syn-keyword" {
			t.Fatalf("hook saw task %q", task)
		}
	}
}

// The run's optimiser takes its ε from the options (TrainOptions.AdamEps, which the harness
// resolves to the method's reference value): on the first step Adam moves a parameter by
// lr·g/(|g| + ε), so a large ε must shrink the step a small ε leaves at ≈ lr.
func TestTrainerOptimiserUsesTheRunsAdamEps(t *testing.T) {
	coretest.LockThread(t)
	bb := openTiny(t, core.BackboneOptions{})
	td := loadTask(t, "syn-keyword")
	firstStep := func(eps float64) float64 {
		m := &trainFlagRecorder{}
		opts := core.TrainOptions{Steps: 2, BatchSize: 4, EvalEvery: 2, EvalLimit: 4, TestLimit: 4, MaxNewTokens: 2,
			EvalBatchSize: 4, AdamEps: eps}
		var moved float64
		tr := &engine.Trainer{Backbone: bb, Method: m, Tasks: []engine.TaskData{td}, Opts: opts}
		tr.Callbacks = []engine.Callback{{OnStep: func(s engine.StepInfo) error {
			if s.Step == 1 {
				for _, v := range core.Float32s(m.bias) { // the bias started at zero
					moved = math.Max(moved, math.Abs(float64(v)))
				}
			}
			return nil
		}}}
		if _, err := tr.Run(); err != nil {
			t.Fatal(err)
		}
		return moved
	}
	small, large := firstStep(1e-8), firstStep(0.5)
	if !(small > 0) || !(small > 2*large) {
		t.Fatalf("first step's largest move: %g with ε 1e-8, %g with ε 0.5; want the second far smaller", small, large)
	}
}
