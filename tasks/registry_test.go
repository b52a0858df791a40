package tasks

import (
	"slices"
	"testing"

	"github.com/ptbench/ptbench/core/data"
)

// TestRegisteredTasksMatchProtocol checks names, benchmarks, source limits and metric lists
// (first entry = table score: the metric the published tables report, docs/protocol.md).
func TestRegisteredTasksMatchProtocol(t *testing.T) {
	want := []struct {
		name, benchmark string
		maxLen          int
		metrics         []string
	}{
		{"mnli", "GLUE", 256, []string{"accuracy"}},
		{"qqp", "GLUE", 256, []string{"accuracy", "f1"}},
		{"qnli", "GLUE", 256, []string{"accuracy"}},
		{"sst2", "GLUE", 256, []string{"accuracy"}},
		{"stsb", "GLUE", 256, []string{"pearson", "spearman"}},
		{"mrpc", "GLUE", 256, []string{"accuracy", "f1"}},
		{"rte", "GLUE", 256, []string{"accuracy"}},
		{"cola", "GLUE", 256, []string{"matthews"}},
		{"multirc", "SuperGLUE", 348, []string{"f1a", "em"}},
		{"boolq", "SuperGLUE", 256, []string{"accuracy"}},
		{"wic", "SuperGLUE", 256, []string{"accuracy"}},
		{"wsc", "SuperGLUE", 256, []string{"accuracy"}},
		{"cb", "SuperGLUE", 256, []string{"accuracy", "f1_macro"}},
		{"squad", "", 256, []string{"em", "f1"}},
		{"record", "", 256, []string{"em", "f1"}},
		{"syn-keyword", "", 64, []string{"accuracy"}},
		{"syn-parity", "", 64, []string{"accuracy"}},
		{"syn-copy", "", 64, []string{"accuracy"}},
	}
	var names []string
	for _, w := range want {
		names = append(names, w.name)
		task, err := data.NewTask(w.name)
		if err != nil {
			t.Errorf("%s not registered: %v", w.name, err)
			continue
		}
		if task.Name() != w.name || task.Benchmark() != w.benchmark || task.MaxSourceLen() != w.maxLen || !slices.Equal(task.Metrics(), w.metrics) {
			t.Errorf("%s: benchmark %q maxLen %d metrics %v; want %q %d %v", w.name, task.Benchmark(), task.MaxSourceLen(), task.Metrics(), w.benchmark, w.maxLen, w.metrics)
		}
	}
	slices.Sort(names)
	if got := TaskNames(); !slices.Equal(got, names) {
		t.Errorf("TaskNames() = %v, want %v", got, names)
	}
	task, _ := data.NewTask("cb")
	task.Metrics()[0] = "f1_macro"
	if task.Metrics()[0] != "accuracy" {
		t.Error("Metrics() exposes the task's own slice")
	}
}

func TestLabelOrder(t *testing.T) {
	if mnliLabels["entailment"] != "0" || mnliLabels["neutral"] != "1" || mnliLabels["contradiction"] != "2" {
		t.Errorf("MNLI labels %v", mnliLabels)
	}
	if entailmentLabels["entailment"] != "0" || entailmentLabels["not_entailment"] != "1" {
		t.Errorf("RTE/QNLI labels %v", entailmentLabels)
	}
	if cbLabels["entailment"] != "0" || cbLabels["contradiction"] != "1" || cbLabels["neutral"] != "2" {
		t.Errorf("CB labels %v", cbLabels)
	}
	if boolTarget(true) != "1" || boolTarget(false) != "0" {
		t.Error("BoolQ/WiC/WSC: true must be 1")
	}
}
