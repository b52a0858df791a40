package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/storage"
)

// --pack reaches the grid: packable runs train as one pack (their rows say so), a method
// that cannot pack (LoRA with dropout: its masks would follow the pack) runs alone and says
// why, and every run still gets its own row.
func TestRunPackFlag(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	log, err := execute("run", "--preset", "smoke", "--methods", "pt,lora", "--tasks", "syn-keyword", "--seeds", "1,2",
		"--steps", "3", "--eval-limit", "8", "--test-limit", "8", "--set", "pt.length=4", "--set", "lora.dropout=0.1", "--pack", "4", "--out", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if !strings.Contains(log, "training 2 runs as one pack") || !strings.Contains(log, "runs alone: the method does not declare row-independent rows") {
		t.Fatalf("log does not show pt packed and lora alone:\n%s", log)
	}
	rows, err := storage.ReadResults(filepath.Join(out, storage.ResultsFile))
	if err != nil || len(rows) != 4 {
		t.Fatalf("%d rows, %v; want 4", len(rows), err)
	}
	for _, r := range rows {
		packed := r.Extra["pack"] != nil
		if r.Status != "ok" || packed != (r.Method == "pt") {
			t.Errorf("%s seed %d: status %s, extra.pack %v (want it on pt rows only)", r.Method, r.Seed, r.Status, r.Extra["pack"])
		}
	}
}
