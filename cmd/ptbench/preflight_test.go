package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/storage"
)

func execute(args ...string) (string, error) {
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// Each bad number is refused before anything loads: the backbone below does not exist, so
// an error that is not the validation one means something loaded first.
func TestRunRejectsBadNumbersBeforeAnythingLoads(t *testing.T) {
	dir := t.TempDir()
	infCfg := filepath.Join(dir, "pt.yaml")
	os.WriteFile(infCfg, []byte("pt:\n  lr: .inf\n"), 0o644)
	emptyData := t.TempDir() // a --data-dir without the task's official files
	cases := []struct {
		args  []string
		want  string
		usage bool // exit code 2
	}{
		{[]string{"--steps", "-5"}, "--steps must be ≥ 1, got -5", true},
		{[]string{"--steps", "0"}, "--steps must be ≥ 1, got 0", true},
		{[]string{"--batch-size", "-3"}, "--batch-size must be ≥ 1, got -3", true},
		{[]string{"--batch-size", "0"}, "--batch-size must be ≥ 1, got 0", true},
		{[]string{"--max-grad-norm", "nan"}, "--max-grad-norm must be a finite number ≥ 0 (0 = off), got NaN", true},
		{[]string{"--max-grad-norm", "-1"}, "--max-grad-norm must be a finite number ≥ 0", true},
		{[]string{"--k-shot", "-4"}, "--k-shot must be ≥ 0 (0 = the full training set), got -4", true},
		{[]string{"--k-shot", "100000"}, `syn-keyword: k-shot 100000 is more than the training data has: `, false},
		{[]string{"--set", "pt.lr=nan"}, `method pt: lr = "nan" is not a finite number`, true},
		{[]string{"--set", "pt.lr=.inf"}, `--set "pt.lr=.inf": .inf is not a finite number`, true},
		{[]string{"--method-config", infCfg}, "method pt: lr = +Inf: settings must be finite numbers", false},
		{[]string{"--set", "pt.lr=-1"}, "method pt: lr must be > 0, got -1", false},
		{[]string{"--warmup", "-5"}, "--warmup must be ≥ 0, got -5", true},
		{[]string{"--warmup", "50", "--steps", "10"}, "--warmup must be ≤ --steps (10), got 50", true},
		{[]string{"--eval-every", "-1"}, "--eval-every must be ≥ 0, got -1", true},
		{[]string{"--max-source-len", "-1"}, "--max-source-len must be ≥ 0, got -1", true},
		{[]string{"--eval-limit", "-1"}, "--eval-limit must be ≥ 0, got -1", true},
		{[]string{"--test-limit", "-2"}, "--test-limit must be ≥ 0, got -2", true},
		{[]string{"--seeds", "1,2,1"}, "--seeds: seed 1 is given twice", true},
		{[]string{"--seeds", "x"}, `seed "x" is not an integer`, true},
		{[]string{"--tasks", "syn-keyword,no-such-task"}, `--tasks: unknown Task "no-such-task"`, true},
		{[]string{"--tasks", "rte", "--data-dir", emptyData}, "rte: data file " + filepath.Join(emptyData, "glue", "RTE", "train.tsv") + " not found", false},
		{[]string{"--threads", "-1"}, "--threads must be ≥ 0 (0 = number of cores), got -1", true},
	}
	for _, c := range cases {
		out := filepath.Join(t.TempDir(), "runs")
		args := append([]string{"run", "--methods", "pt", "--tasks", "syn-keyword", "--offline",
			"--backbone", "/nonexistent", "--out", out}, c.args...)
		_, err := execute(args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
			continue
		}
		if isUsage := errors.As(err, new(usageError)); isUsage != c.usage {
			t.Errorf("%v: usage error %v, want %v", c.args, isUsage, c.usage)
		}
		if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
			t.Errorf("%v: the results folder was created before the error", c.args)
		}
	}
	// The control: with good numbers the same command gets as far as the backbone.
	_, err := execute("run", "--methods", "pt", "--tasks", "syn-keyword", "--offline", "--k-shot", "4",
		"--backbone", "/nonexistent", "--out", filepath.Join(t.TempDir(), "runs"))
	if err == nil || !strings.Contains(err.Error(), `backbone "/nonexistent"`) {
		t.Fatalf("good flags: error %v, want the backbone's", err)
	}
}

func TestRunNoWaitFailsWhileAnotherRunWrites(t *testing.T) {
	out := t.TempDir()
	other, err := storage.OpenResults(out, storage.ResultsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = execute("run", "--methods", "pt", "--tasks", "syn-keyword", "--offline", "--backbone", "/nonexistent",
		"--out", out, "--no-wait")
	if err == nil || !strings.Contains(err.Error(), "results.jsonl is locked by pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("error %v, want the lock naming this process", err)
	}
}

func TestLeaderboardToleratesATornLastLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, storage.ResultsFile)
	good := `{"run_key":"pt.rte.s1.x","method":"pt","label":"PT","task":"rte","benchmark":"GLUE","status":"ok","test_score":61.5}`
	os.WriteFile(path, []byte(good+"\n"+`{"run_key":"pt.rte.s2.y","meth`), 0o644)
	out, err := execute("leaderboard", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "warning: "+path+": skipped a last line cut short") || !strings.Contains(out, "| 61.5 ") || strings.Contains(out, "±") {
		t.Fatalf("output:\n%s", out)
	}
	// Damage in the middle still stops it, naming file:line.
	os.WriteFile(path, []byte(good+"\n{oops\n"+good+"\n"), 0o644)
	if _, err := execute("leaderboard", dir); err == nil || !strings.Contains(err.Error(), "results.jsonl:2") {
		t.Fatalf("middle damage: %v", err)
	}
}

// `ptbench bench` refuses bad numbers before the backbone loads, naming the flag as the user
// typed it.
func TestBenchRejectsBadNumbersByTheirFlagNames(t *testing.T) {
	for _, c := range []struct{ flag, value, want string }{
		{"--batch-size", "0", "--batch-size must be ≥ 1, got 0"},
		{"--seq", "-2", "--seq must be ≥ 1, got -2"},
		{"--steps", "0", "--steps must be ≥ 1, got 0"},
		{"--warmup", "-1", "--warmup must be ≥ 0, got -1"},
	} {
		_, err := execute("bench", "--methods", "pt", "--backbone", "/nonexistent", c.flag, c.value)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: error %v, want one containing %q", c.flag, c.value, err, c.want)
		}
	}
}
