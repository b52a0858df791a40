package engine_test

import (
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/engine"
)

// scriptedScores wraps a task so that its n-th Score call returns script[n]: the dev
// evaluations of a run get chosen numbers whatever the model generates.
type scriptedScores struct {
	core.Task
	script []core.Scores
	calls  int
}

func (s *scriptedScores) Metrics() []string       { return []string{"accuracy", "f1_macro"} }
func (s *scriptedScores) SelectionMetric() string { return "f1_macro" }
func (s *scriptedScores) Score(_ []string, _ []core.Example) (core.Scores, error) {
	out := s.script[min(s.calls, len(s.script)-1)]
	s.calls++
	return out, nil
}

// The best checkpoint is the one with the best selection score (CB: macro-F1, as DePT's
// metric_for_best_model), not the best table score: step 2 here, where step 1 has the
// higher accuracy.
func TestBestCheckpointFollowsTheSelectionMetric(t *testing.T) {
	coretest.LockThread(t)
	bb := openTiny(t, core.BackboneOptions{})
	td := loadTask(t, "syn-keyword")
	td.Task = &scriptedScores{Task: td.Task, script: []core.Scores{
		{"accuracy": 90, "f1_macro": 10}, // step 1
		{"accuracy": 20, "f1_macro": 80}, // step 2
		{"accuracy": 50, "f1_macro": 50}, // step 3, then test
	}}
	opts := core.TrainOptions{Steps: 3, BatchSize: 4, EvalEvery: 1, EvalLimit: 4, TestLimit: 4, MaxNewTokens: 2, EvalBatchSize: 4}
	tr := &engine.Trainer{Backbone: bb, Method: &trainFlagRecorder{}, Tasks: []engine.TaskData{td}, Opts: opts}
	res, err := tr.Run()
	if err != nil {
		t.Fatal(err)
	}
	if res.BestStep != 2 {
		t.Errorf("best step %d, want 2 (macro-F1 80; step 1 has the best accuracy, 90)", res.BestStep)
	}
	if len(res.DevCurve) != 3 || res.DevCurve[0].PerTask["syn-keyword"] != 90 {
		t.Errorf("dev curve %+v, want the table score (accuracy) at each of 3 evaluations", res.DevCurve)
	}
}
