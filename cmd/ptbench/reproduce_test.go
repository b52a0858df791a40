package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/storage"
	"github.com/ptbench/ptbench/internal/testfix"
)

// taskData is the repository's slices of the official task files (testdata/data).
func taskData(t *testing.T) string {
	t.Helper()
	return testfix.Path(t, "data")
}

func TestReproduceListJSON(t *testing.T) {
	out, err := execute("reproduce", "--list", "-o", "json")
	if err != nil {
		t.Fatal(err, out)
	}
	var rows []experimentRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	names := map[string]experimentRow{}
	for _, r := range rows {
		names[r.Name] = r
	}
	for _, want := range []string{"glue", "superglue", "fewshot", "time", "scaling", "ablation"} {
		r, ok := names[want]
		if !ok || r.Cost.Runs == 0 || r.Cost.Steps == 0 || !(r.Cost.Seconds > 0) {
			t.Errorf("%s: %+v", want, r)
		}
	}
	if len(rows) != 6 {
		t.Errorf("%d experiments, want 6", len(rows))
	}
}

func TestReproduceRejectsBadInputBeforeLoading(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"reproduce"}, "give one experiment name"},
		{[]string{"reproduce", "gleu"}, "built in: ablation, fewshot, glue"},
		{[]string{"reproduce", "glue", "--tasks", "squad"}, `has no task "squad"`},
		{[]string{"reproduce", "glue", "--steps-scale", "-1"}, "--steps-scale must be in (0, 1]"},
		{[]string{"reproduce", "glue", "--shard", "3/2"}, "want i/n with 1 ≤ i ≤ n"},
		{[]string{"reproduce", "glue", "--set", "x"}, "unknown flag"},
	} {
		out, err := execute(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q\n%s", tc.args, err, tc.want, out)
		}
	}
}

// `ptbench reproduce glue` on a tiny backbone, two tasks, a few steps: it finishes, the
// folder records the experiment, and the leaderboard puts DePT's published numbers beside
// the measured ones with the difference (EPT published no per-task numbers: the reference table says so, no comparison rows).
func TestReproduceGlueTiny(t *testing.T) {
	coretest.LockThread(t)
	data := taskData(t)
	out := t.TempDir()
	log, err := execute("reproduce", "glue", "--backbone", "t5-tiny", "--steps-scale", "0.0002", "--tasks", "rte,mrpc",
		"--methods", "pt,dept,ept", "--no-sweep", "--data-dir", data, "--offline", "--eval-limit", "8", "--test-limit", "8",
		"--out", out, "--threads", "1")
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	for _, want := range []string{"Measured vs published", "DePT (paper, T5-Base)", "79.1", "90.7", "per-task numbers not published", "6 ran, 0 skipped"} {
		if !strings.Contains(log, want) {
			t.Errorf("output lacks %q:\n%s", want, log)
		}
	}
	rows, err := storage.ReadResults(filepath.Join(out, storage.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 {
		t.Fatalf("%d rows, want 3 methods × 2 tasks", len(rows))
	}
	for _, r := range rows {
		if r.Status != "ok" || r.Steps != 6 || r.Train.BatchSize != 16 || r.Backbone.Name != "t5-tiny" {
			t.Errorf("%s on %s: status %s (%s), %d steps, batch %d, backbone %s", r.Method, r.Task, r.Status, r.Error, r.Steps, r.Train.BatchSize, r.Backbone.Name)
		}
	}
	var note struct {
		Experiment string `json:"experiment"`
	}
	if b, err := os.ReadFile(filepath.Join(out, "experiment.json")); err != nil || json.Unmarshal(b, &note) != nil || note.Experiment != "glue" {
		t.Errorf("experiment.json: %v %+v", err, note)
	}
	again, err := execute("reproduce", "glue", "--backbone", "t5-tiny", "--steps-scale", "0.0002", "--tasks", "rte,mrpc",
		"--methods", "pt,dept,ept", "--no-sweep", "--data-dir", data, "--offline", "--eval-limit", "8", "--test-limit", "8",
		"--out", out, "--threads", "1", "-o", "json")
	if err != nil || !strings.Contains(again, "0 ran, 6 skipped") || !strings.Contains(again, `"paper_comparison"`) {
		t.Errorf("second invocation should resume (skip all) and print JSON (%v):\n%s", err, again)
	}
}
