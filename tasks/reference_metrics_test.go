package tasks

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/ptbench/ptbench/core/data"
)

// TestScoresMatchReferenceMetrics scores generations that include invalid outputs and
// compares with the values scikit-learn gives under DePT's metric rules
// (testdata/reference_metrics.json, written by testdata/reference_metrics.py). Each case
// also records what pooling every invalid output into one class would give; the test checks
// that this differs, so the case really exercises the invalid-output rule.
func TestScoresMatchReferenceMetrics(t *testing.T) {
	raw, err := os.ReadFile("testdata/reference_metrics.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Cases []struct {
			Task   string
			Gold   []string
			Pred   []string
			Want   map[string]float64
			Pooled map[string]float64
		}
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Cases) == 0 {
		t.Fatal("testdata/reference_metrics.json holds no cases")
	}
	for _, c := range ref.Cases {
		gold := make([]data.Example, len(c.Gold))
		for i, g := range c.Gold {
			gold[i] = data.Example{ID: fmt.Sprint(i), Target: g, Group: fmt.Sprintf("q%d", i/3)}
		}
		got := score(t, c.Task, c.Pred, gold)
		for metric, want := range c.Want {
			if !near(got[metric], want) {
				t.Errorf("%s %s = %.6f, scikit-learn under DePT's rules gives %.6f", c.Task, metric, got[metric], want)
			}
			if pooled, ok := c.Pooled[metric]; ok && near(pooled, want) {
				t.Errorf("%s %s: the case does not tell the invalid-output rule from pooling (both %.6f)", c.Task, metric, want)
			}
		}
	}
}

// TestTableAndSelectionMetricsAreDePTs: the table score is the metric DePT's released
// test_results.json report in its tables, and checkpoints are chosen by the first entry of
// DePT's TASK_TO_METRICS (src/metrics.py; train.py sets metric_for_best_model from it).
func TestTableAndSelectionMetricsAreDePTs(t *testing.T) {
	cases := []struct{ task, table, selection string }{
		{"mrpc", "accuracy", "accuracy"}, {"qqp", "accuracy", "accuracy"}, {"cb", "accuracy", "f1_macro"},
		{"stsb", "pearson", "pearson"}, {"multirc", "f1a", "f1a"}, {"cola", "matthews", "matthews"},
		{"rte", "accuracy", "accuracy"}, {"mnli", "accuracy", "accuracy"}, {"boolq", "accuracy", "accuracy"},
	}
	for _, c := range cases {
		task := taskByName(t, c.task)
		scores := data.Scores{}
		for i, m := range task.Metrics() {
			scores[m] = float64(10 * (i + 1))
		}
		primary, err := data.PrimaryScore(task, scores)
		if err != nil {
			t.Fatal(err)
		}
		selection, err := data.SelectionScore(task, scores)
		if err != nil {
			t.Fatal(err)
		}
		if primary != scores[c.table] || selection != scores[c.selection] {
			t.Errorf("%s: primary %v, selection %v from %v; want %s and %s", c.task, primary, selection, scores, c.table, c.selection)
		}
	}
}
