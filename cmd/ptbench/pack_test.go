package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/benchmarks"
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

// --pack reads auto or a count; anything else is refused before anything loads.
func TestPackFlagParses(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"auto", benchmarks.PackAuto, false},
		{"AUTO", benchmarks.PackAuto, false},
		{"3", 3, false},
		{"1", 1, false},
		{"0", 1, false}, // every run alone, as ≤ 1 always meant
		{"-2", 0, true},
		{"many", 0, true},
		{"", 0, true},
	} {
		n := 7
		err := packFlag{&n}.Set(c.in)
		if (err != nil) != c.wantErr || (!c.wantErr && n != c.want) {
			t.Errorf("--pack %q: %d, %v; want %d (error %v)", c.in, n, err, c.want, c.wantErr)
		}
		if err == nil && (packFlag{&n}).String() != map[bool]string{true: "auto", false: strconv.Itoa(c.want)}[c.want == benchmarks.PackAuto] {
			t.Errorf("--pack %q prints as %q", c.in, packFlag{&n}.String())
		}
	}
}

// Without --pack the backbone chooses: 4-bit Llama weights pack (its log says why, its rows
// record the pack), full-precision T5 weights run every run alone as before.
func TestRunPackAutoByBackbone(t *testing.T) {
	coretest.LockThread(t)
	for _, c := range []struct {
		name     string
		backbone []string
		wantLog  string
		wantPack any
	}{
		{"llama-tiny-nf4", []string{"--backbone", "llama-tiny", "--quant", "nf4"}, "--pack auto: 4 (4-bit weights", float64(2)},
		{"t5-tiny", nil, "--pack auto: 1 (full-precision weights", nil},
	} {
		out := t.TempDir()
		args := append([]string{"run", "--preset", "smoke", "--methods", "pt", "--tasks", "syn-keyword", "--seeds", "1,2",
			"--steps", "2", "--eval-limit", "4", "--test-limit", "4", "--set", "pt.length=4", "--out", out}, c.backbone...)
		log, err := execute(args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, log)
		}
		if !strings.Contains(log, c.wantLog) || strings.Contains(log, "training 2 runs as one pack") != (c.wantPack != nil) {
			t.Fatalf("%s: log does not show the backbone's choice %q:\n%s", c.name, c.wantLog, log)
		}
		rows, err := storage.ReadResults(filepath.Join(out, storage.ResultsFile))
		if err != nil || len(rows) != 2 {
			t.Fatalf("%s: %d rows, %v; want 2", c.name, len(rows), err)
		}
		for _, r := range rows {
			if r.Status != "ok" || r.Extra["pack"] != c.wantPack {
				t.Errorf("%s seed %d: status %s, extra.pack %v; want ok, %v", c.name, r.Seed, r.Status, r.Extra["pack"], c.wantPack)
			}
		}
	}
}
