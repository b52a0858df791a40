package main

import (
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/coretest"
)

// `ptbench sources train` trains SPoT's source once (a second call finds it) and
// `ptbench sources list` / `artefacts list` show it.
func TestSourcesCommands(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	args := []string{"sources", "train", "--method", "spot", "--sources", "syn-keyword", "--set", "spot.length=4",
		"--steps", "3", "--eval-limit", "8", "--test-limit", "8", "--offline", "--out", out}
	first, err := execute(args...)
	if err != nil || !strings.Contains(first, "missing: training pt on syn-keyword") {
		t.Fatalf("first call (%v):\n%s", err, first)
	}
	second, err := execute(args...)
	if err != nil || strings.Contains(second, "missing: training") || !strings.Contains(second, "pt.syn-keyword.s42.") {
		t.Fatalf("second call trained again or failed (%v):\n%s", err, second)
	}
	for _, cmd := range [][]string{{"sources", "list", "--out", out}, {"artefacts", "list", "--out", out}} {
		listed, err := execute(cmd...)
		if err != nil || !strings.Contains(listed, "prompt [4 64]") {
			t.Errorf("%v (%v):\n%s", cmd, err, listed)
		}
	}
}
