package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/storage"
)

// A finished run writes its dev and test predictions as data, and `ptbench score` on the test
// file gives back exactly the row's test scores; the row counts the invalid predictions.
func TestPredictionsRescoreToTheRow(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	if log, err := execute("run", "--preset", "smoke", "--methods", "pt", "--tasks", "syn-keyword", "--steps", "4",
		"--eval-limit", "8", "--test-limit", "16", "--out", out); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	rows, err := storage.ReadResults(filepath.Join(out, storage.ResultsFile))
	if err != nil || len(rows) != 1 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	row := rows[0]
	if row.Invalid == nil || row.Invalid.TestTotal != 16 || row.Invalid.DevTotal != 8 {
		t.Fatalf("invalid counts %+v, want totals 8 dev / 16 test", row.Invalid)
	}
	for _, split := range []string{"dev", "test"} {
		rel := row.Predictions[split]
		if rel != storage.PredictionsFile(row.RunKey, split) {
			t.Fatalf("%s predictions recorded as %q", split, rel)
		}
		preds, err := storage.ReadPredictions(filepath.Join(out, rel))
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]int{"dev": 8, "test": 16}[split]; len(preds) != want {
			t.Errorf("%s: %d predictions, want %d", split, len(preds), want)
		}
	}
	testFile := filepath.Join(out, row.Predictions["test"])
	js, err := execute("score", "--task", "syn-keyword", "--split", "test", "--limit", "16", "--predictions", testFile)
	if err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	var scores core.Scores
	if err := json.Unmarshal([]byte(js), &scores); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if len(scores) != len(row.Test) {
		t.Errorf("score gives %v, the row %v", scores, row.Test)
	}
	for m, v := range row.Test {
		if scores[m] != v {
			t.Errorf("%s: score gives %v, the row %v", m, scores[m], v)
		}
	}
	// Without --limit the file covers only part of the split: an error that says what to do.
	if _, err := execute("score", "--task", "syn-keyword", "--split", "test", "--predictions", testFile); err == nil || !strings.Contains(err.Error(), "--limit") {
		t.Errorf("partial file without --limit: err = %v", err)
	}
	// A file whose targets are not the split's is refused, naming file and line.
	bad := filepath.Join(out, "bad.jsonl")
	b, _ := os.ReadFile(testFile)
	first, _, _ := strings.Cut(string(b), "\n")
	var p core.Prediction
	_ = json.Unmarshal([]byte(first), &p)
	p.Target += "x"
	line, _ := json.Marshal(p)
	_ = os.WriteFile(bad, append(line, '\n'), 0o644)
	if _, err := execute("score", "--task", "syn-keyword", "--split", "test", "--limit", "1", "--predictions", bad); err == nil || !strings.Contains(err.Error(), "bad.jsonl:1") {
		t.Errorf("foreign targets: err = %v", err)
	}
}

// `ptbench score` checks its flags and the predictions file before it loads the task (which
// may download): with a data folder that lacks the task, each error must be the flag's own.
func TestScoreChecksFlagsBeforeLoadingTheTask(t *testing.T) {
	empty := t.TempDir()
	preds := filepath.Join(empty, "p.jsonl")
	if err := os.WriteFile(preds, []byte(`{"id":"rte/dev/0","prediction":"entailment"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--predictions", filepath.Join(empty, "missing.jsonl")}, "--predictions: stat "},
		{[]string{"--predictions", empty}, "not a regular file"},
		{[]string{"--predictions", preds, "--split", "validation"}, `--split "validation": want test, dev or train`},
		{[]string{"--predictions", preds, "--limit", "-1"}, "--limit -1: want ≥ 0"},
		// The control: good flags get as far as the task's data, which is missing.
		{[]string{"--predictions", preds}, "rte: data file "},
	} {
		_, err := execute(append([]string{"score", "--task", "rte", "--offline", "--data-dir", empty}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
		}
	}
}
