package engine

import (
	"fmt"
	"sort"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// TrainResult is what one run produced.
type TrainResult struct {
	Status            string      `json:"status"` // "ok" or "diverged"
	Error             string      `json:"error,omitempty"`
	Steps             int         `json:"steps"`
	BestStep          int         `json:"best_step"`
	Dev               core.Scores `json:"dev"`  // single-task runs: the task's scores
	Test              core.Scores `json:"test"` // (multi-task: see PerTask)
	TrainableParams   int64       `json:"trainable_params"`
	MeanStepSeconds   float64     `json:"mean_step_seconds"`
	MedianStepSeconds float64     `json:"median_step_seconds"`
	PeakRSSBytes      int64       `json:"peak_rss_bytes"`
	EvalSeconds       float64     `json:"eval_seconds"` // dev evaluations during training and the final test
	// AloneSteps and AloneEvals count what a packed run did alone because its pack's shared
	// pass failed (RunPacked: the step retried run by run; an evaluation decoded alone): the
	// run's results are its own either way, these say how much packing it actually got.
	AloneSteps int       `json:"alone_steps,omitempty"`
	AloneEvals int       `json:"alone_evals,omitempty"`
	Losses     []float64 `json:"-"` // every step's training loss
	// PerTask holds every task's dev and test scores at the best checkpoint.
	PerTask map[string]TaskScores `json:"per_task,omitempty"`
	// DevCurve holds every dev evaluation, in step order (the rows' Curves.Dev).
	DevCurve []DevPoint `json:"-"`
	// Best holds copies of the trainable tensors at the best dev evaluation (caller drops).
	Best []core.NamedTensor `json:"-"`
}

// DevPoint is one dev evaluation during training: the mean primary score over the run's
// tasks (the one the best checkpoint is chosen by) and each task's primary score.
type DevPoint struct {
	Step    int
	Mean    float64
	PerTask map[string]float64
}

// TaskScores are one task's dev and test scores.
type TaskScores struct {
	Dev  core.Scores `json:"dev"`
	Test core.Scores `json:"test"`
	// DevPredictions and TestPredictions are the generations behind Dev (at the best
	// checkpoint's evaluation) and Test; Invalid counts the ill-formed ones.
	DevPredictions  []core.Prediction  `json:"-"`
	TestPredictions []core.Prediction  `json:"-"`
	Invalid         core.InvalidCounts `json:"invalid"`
}

// TaskData is one task of a run with its loaded splits.
type TaskData struct {
	Task core.Task
	Data *core.Dataset
}

// Trainer fits a method over a frozen backbone on one task (Task, Data) or several at once
// (Tasks: rows of every batch are drawn from the tasks by a TaskSampler).
type Trainer struct {
	Backbone core.Backbone
	Method   core.Method
	Task     core.Task
	Data     *core.Dataset
	Tasks    []TaskData // multi-task runs; when set, Task and Data are ignored
	Opts     core.TrainOptions
	// Temperature of the multi-task sampler (p_i ∝ n_i^{1/T}; 1 = proportional, large =
	// uniform); 0 means 1.
	Temperature float64
	Artefacts   core.ArtefactStore
	// Callbacks run after the built-in ones at every step (logging, custom stopping).
	Callbacks []Callback

	// packed holds predictions a pack decoded for this run's next evaluation (packeval.go).
	packed map[predKey][]string
}

// tasks returns the run's tasks (one for single-task runs).
func (tr *Trainer) tasks() []TaskData {
	if len(tr.Tasks) > 0 {
		return tr.Tasks
	}
	return []TaskData{{tr.Task, tr.Data}}
}

// Predict decodes greedily for each example of one task (no gradients) and returns the
// texts. taskNames and taskIdx give the rows' task context in multi-task runs (nil, 0 for
// single-task).
func (tr *Trainer) Predict(examples []core.Example, o core.TrainOptions) ([]string, error) {
	return tr.predict(examples, o.Defaults(tr.tasks()[0].Task), nil, 0)
}

func (tr *Trainer) predict(examples []core.Example, o core.TrainOptions, taskNames []string, taskIdx int) ([]string, error) {
	if out, ok := tr.takePacked(examples, taskIdx); ok {
		return out, nil
	}
	// Sort by length so each batch pads little; restore order at the end.
	idx := make([]int, len(examples))
	enc := make([]core.Encoded, len(examples))
	for i, ex := range examples {
		idx[i] = i
		enc[i] = core.Encoded{Source: tr.Backbone.EncodeSource(ex.Source, o.MaxSourceLen), Task: taskIdx}
	}
	sort.SliceStable(idx, func(a, b int) bool { return len(enc[idx[a]].Source) < len(enc[idx[b]].Source) })
	padTo := 0
	if o.PadToMax {
		padTo = o.MaxSourceLen
	}
	out := make([]string, len(examples))
	var err error
	ts.NoGrad(func() {
		for s := 0; s < len(idx); s += o.EvalBatchSize {
			e := min(s+o.EvalBatchSize, len(idx))
			rows := make([]core.Encoded, 0, e-s)
			for _, i := range idx[s:e] {
				rows = append(rows, enc[i])
			}
			var b *core.Batch
			if b, err = tr.Backbone.Collate(rows, core.CollateOptions{PadTo: padTo, TaskNames: taskNames, NoLabels: true}); err != nil {
				return
			}
			var x core.Input
			if x, err = core.MethodInput(tr.Backbone, tr.Method, b); err != nil {
				b.Close()
				return
			}
			var ids [][]int64
			ids, err = tr.Backbone.Generate(x, core.GenerateOptions{MaxNewTokens: o.MaxNewTokens, StopAtEOS: true})
			x.Drop()
			b.Close()
			if err != nil {
				return
			}
			for k, i := range idx[s:e] {
				out[i] = tr.Backbone.DecodeTarget(ids[k])
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Evaluate predicts and scores examples with the (single) task's metrics.
func (tr *Trainer) Evaluate(examples []core.Example, o core.TrainOptions) (core.Scores, error) {
	td := tr.tasks()[0]
	s, _, err := tr.evaluate(td, examples, o.Defaults(td.Task), nil)
	return s, err
}

// evaluate predicts and scores examples of one task, returning the predictions too.
func (tr *Trainer) evaluate(td TaskData, examples []core.Example, o core.TrainOptions, names []string) (core.Scores, []core.Prediction, error) {
	if len(examples) == 0 {
		return nil, nil, fmt.Errorf("task %s: evaluation split is empty", td.Task.Name())
	}
	idx := 0
	for i, n := range names {
		if n == td.Task.Name() {
			idx = i
		}
	}
	preds, err := tr.predict(examples, o, names, idx)
	if err != nil {
		return nil, nil, err
	}
	s, err := td.Task.Score(preds, examples)
	if err != nil {
		return nil, nil, err
	}
	return s, predictionsOf(examples, preds), nil
}

func limit(xs []core.Example, n int) []core.Example {
	if n > 0 && len(xs) > n {
		return xs[:n]
	}
	return xs
}

// snapshot copies every trainable tensor (detached).
func snapshot(groups []core.ParamGroup) []core.NamedTensor {
	var out []core.NamedTensor
	for _, g := range groups {
		for _, p := range g.Params {
			out = append(out, core.NamedTensor{Name: p.Name, Tensor: core.DetachedCopy(p.Tensor)})
		}
	}
	return out
}

// restore copies a snapshot back into the live tensors (matched by name).
func restore(groups []core.ParamGroup, snap []core.NamedTensor) {
	byName := map[string]*ts.Tensor{}
	for _, s := range snap {
		byName[s.Name] = s.Tensor
	}
	ts.NoGrad(func() {
		for _, g := range groups {
			for _, p := range g.Params {
				if s, ok := byName[p.Name]; ok {
					p.Tensor.Copy_(s)
				}
			}
		}
	})
}

// MeanMedian returns the mean and the median of xs (0, 0 when empty).
func MeanMedian(xs []float64) (float64, float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	mid := s[len(s)/2]
	if len(s)%2 == 0 {
		mid = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return sum / float64(len(s)), mid
}
