package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/storage"
)

// An fp32 run and a bf16 run of the same grid are two runs: two ok rows under two keys (the
// second is not skipped as done), and the bf16 row says what it computed in.
func TestDTypeIsPartOfTheRunKey(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	run := smokeRunner(t, out, "pt", "5")
	if log := run(); !strings.Contains(log, "t5-tiny (random init, not the released checkpoint)") {
		t.Errorf("the banner does not say the preset is random init:\n%s", log)
	}
	run("--dtype", "bfloat16")
	rows, err := storage.ReadResults(filepath.Join(out, storage.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2 (fp32 and bf16)", len(rows))
	}
	if rows[0].RunKey == rows[1].RunKey {
		t.Errorf("fp32 and bf16 share the key %s", rows[0].RunKey)
	}
	for i, r := range rows {
		if r.Status != "ok" {
			t.Errorf("row %d: status %s (%s)", i, r.Status, r.Error)
		}
		if !r.Backbone.RandomInit { // the smoke preset's t5-tiny is a random-init preset
			t.Errorf("row %d: backbone %s not marked random init", i, r.Backbone.Name)
		}
	}
	if rows[0].Numerics != nil || rows[1].Numerics == nil || rows[1].Numerics.DType != "bfloat16" {
		t.Errorf("numerics recorded %v / %v, want none / bfloat16", rows[0].Numerics, rows[1].Numerics)
	}
	// Run again: both are done now.
	if log := run("--dtype", "bfloat16"); !strings.Contains(log, "already in results.jsonl") {
		t.Errorf("the bf16 run (spelled bf16) was not found done on the second try:\n%s", log)
	}
}

// AdamW's ε is each method's reference value and part of the key: PT (its reference runs under
// Hugging Face's Trainer) records 1e-8, DePT (transformers.AdamW's 1e-6, the protocol default)
// records none (the default). --adam-eps 1e-6 makes a PT run of its own, and leaves DePT's run
// done: the same key.
func TestAdamEpsIsTheReferencesAndPartOfTheKey(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	run := smokeRunner(t, out, "pt,dept", "3")
	run()
	log := run("--adam-eps", "1e-6")
	rows, err := storage.ReadResults(filepath.Join(out, storage.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.Method+"="+strconv.FormatFloat(r.Train.AdamEps, 'g', -1, 64))
	}
	if want := "pt=1e-08 dept=0 pt=0"; strings.Join(got, " ") != want {
		t.Fatalf("rows (method=recorded ε) %v, want %s", got, want)
	}
	if rows[0].RunKey == rows[2].RunKey {
		t.Errorf("PT at ε 1e-8 and 1e-6 share the key %s", rows[0].RunKey)
	}
	if !strings.Contains(log, "already in results.jsonl") {
		t.Errorf("DePT at --adam-eps 1e-6 (its own ε) was not found done:\n%s", log)
	}
}

// smokeRunner runs the smoke preset's methods on syn-keyword for steps steps into out, with
// short evaluations, failing the test on an error; extra flags follow.
func smokeRunner(t *testing.T, out, methods, steps string) func(extra ...string) string {
	return func(extra ...string) string {
		t.Helper()
		args := append([]string{"run", "--preset", "smoke", "--methods", methods, "--tasks", "syn-keyword", "--steps", steps,
			"--eval-limit", "8", "--test-limit", "8", "--out", out}, extra...)
		log, err := execute(args...)
		if err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		return log
	}
}
