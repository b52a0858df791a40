package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/benchmarks"
	"github.com/ptbench/ptbench/core"
)

// Sizes that cannot fit are refused before anything loads (the backbone below is a preset,
// but an error after loading would name a training failure, not these checks): the issue's
// --set pt.length=1e9 grew the process until it was killed.
func TestRunRefusesSizesThatCannotFit(t *testing.T) {
	base := []string{"run", "--methods", "pt,lora", "--tasks", "syn-keyword", "--offline", "--backbone", "t5-base",
		"--out", t.TempDir(), "--steps", "10"}
	cases := []struct {
		name  string
		extra []string
		want  string
	}{
		{"prompt length 1e9", []string{"--set", "pt.length=1e9"}, "bound for sizes"},
		{"lora rank 1e7", []string{"--set", "lora.rank=10000000"}, "bound for sizes"},
		{"prompt length 60000 on t5-base", []string{"--set", "pt.length=60000"}, "needs at least"},
		{"batch size 1e9", []string{"--batch-size", "1000000000"}, "--batch-size must be ≤"},
		{"source length 1e9", []string{"--max-source-len", "1000000000"}, "--max-source-len must be ≤"},
		{"a memory limit below t5-base's weights", []string{"--memory-limit", "100Mi"}, "needs at least"},
		{"a memory limit that is not a size", []string{"--memory-limit", "lots"}, "memory-limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := execute(append(append([]string(nil), base...), c.extra...)...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to mention %q\n%s", err, c.want, out)
			}
			if strings.Contains(out, "grid:") || strings.Contains(out, "training") {
				t.Fatalf("something ran:\n%s", out)
			}
		})
	}
}

// The estimate is a lower bound: the paper's settings (T5-Base, batch 32, 256 source tokens,
// a 100-token prompt) stay well under a 16 GiB machine, while a 60,000-token prompt is far
// beyond any; bf16 halves the activations and NF4 shrinks the weights.
func TestMemoryEstimateScales(t *testing.T) {
	c := t5.Presets["t5-base"]
	s := t5Shape(c.Vocab, c.DModel, c.DKV, c.DFF, c.Heads, c.EncoderLayers, c.DecoderLayers, c.GatedGELU, c.TiedHead)
	if s.params < 200e6 || s.params > 240e6 {
		t.Fatalf("t5-base has %d parameters in the estimate, want about 223M", s.params)
	}
	train := core.TrainOptions{BatchSize: 32, MaxSourceLen: 256}
	paper := estimateRun(s, map[string]any{"length": 100.0}, train, core.Float32, core.QuantNone)
	if paper.total() > 16<<30 || paper.weights < 800<<20 {
		t.Fatalf("paper settings: %s (weights %s), want under 16 GiB and weights about 0.9 GiB", human(paper.total()), human(paper.weights))
	}
	huge := estimateRun(s, map[string]any{"length": 60000.0}, train, core.Float32, core.QuantNone)
	if huge.total() < 1<<40 {
		t.Fatalf("a 60,000-token prompt: %s, want over a TiB", human(huge.total()))
	}
	bf16 := estimateRun(s, map[string]any{"length": 100.0}, train, core.BFloat16, core.QuantNone)
	nf4 := estimateRun(s, map[string]any{"length": 100.0}, train, core.Float32, core.QuantNF4)
	if bf16.activations*2 != paper.activations || nf4.weights*8 != paper.weights {
		t.Fatalf("bf16 activations %d vs %d, nf4 weights %d vs %d", bf16.activations, paper.activations, nf4.weights, paper.weights)
	}
}

// Size-like settings are found by name; other numbers (learning rates, steps, seeds) are not.
func TestSettingSizeBound(t *testing.T) {
	for _, c := range []struct {
		cfg map[string]any
		bad bool
	}{
		{map[string]any{"length": 100.0, "lr": 0.3}, false},
		{map[string]any{"length": 1e9}, true},
		{map[string]any{"prompt_length": 70000.0}, true},
		{map[string]any{"task_hidden_dim": 1e6}, true},
		{map[string]any{"r": 65536.0}, false},
		{map[string]any{"source_steps": 1e6, "source_seed": 1e12, "vocab_limit": 250112.0}, false},
	} {
		if err := checkSettingSizes("m", c.cfg); (err != nil) != c.bad {
			t.Errorf("%v: %v, want refused %v", c.cfg, err, c.bad)
		}
	}
}

// A text setting may be any word, Infinity and NaN included; a number setting given such a
// word is refused as non-finite (before, init_text=Infinity was refused as a number).
func TestNonFiniteWordsOnlyForNumberSettings(t *testing.T) {
	base := []string{"run", "--methods", "pt", "--tasks", "syn-keyword", "--offline", "--backbone", "/nonexistent", "--out", t.TempDir()}
	_, err := execute(append(base, "--set", "pt.init_text=Infinity", "--set", "pt.init=text")...)
	if err != nil && strings.Contains(err.Error(), "finite") {
		t.Fatalf("init_text=Infinity refused as a number: %v", err)
	}
	if err == nil || !strings.Contains(err.Error(), "/nonexistent") {
		t.Fatalf("want the run to get as far as the backbone: %v", err)
	}
	for _, w := range []string{"Infinity", "-inf", "NaN"} {
		_, err := execute(append(base, "--set", "pt.lr="+w)...)
		if err == nil || !strings.Contains(err.Error(), "not a finite number") {
			t.Errorf("pt.lr=%s: %v", w, err)
		}
	}
}

// A swept value is bounded like a set one: every variant is built and checked.
func TestSweptSizesAreBounded(t *testing.T) {
	_, err := execute("run", "--methods", "pt", "--tasks", "syn-keyword", "--offline", "--backbone", "/nonexistent",
		"--out", t.TempDir(), "--sweep", "pt.length=4,1000000000")
	if err == nil || !strings.Contains(err.Error(), "bound for sizes") {
		t.Fatalf("--sweep pt.length=4,1e9: %v", err)
	}
}

// An explicit --pack N whose N runs' estimated activations exceed the limit is warned about
// (a pack holds them all at once; the per-run check cannot see it); one run, or a pack that
// fits, is not. The warning names the pack, the method and the limit.
func TestPackMemoryWarning(t *testing.T) {
	const gib = 1 << 30
	cases := []struct {
		name  string
		pack  int
		limit int64
		want  bool
	}{
		{"12 runs in 2 GiB", 12, 2 * gib, true},
		{"one run at a time", 1, 2 * gib, false},
		{"auto (the backbone sizes it)", benchmarks.PackAuto, 2 * gib, false},
		{"2 runs in 1 TiB", 2, 1024 * gib, false},
	}
	for _, c := range cases {
		var log strings.Builder
		g := &benchmarks.Grid{Backbone: "t5-small", Methods: []string{"pt", "dept"}, Pack: c.pack, Log: &log,
			Train: core.TrainOptions{BatchSize: 16}}
		warnPackMemory(g, map[string]map[string]any{"pt": {"length": 100}, "dept": {"length": 60}}, c.limit)
		got := log.String()
		if c.want != (got != "") || (c.want && !strings.Contains(got, fmt.Sprintf("--pack %d: %d runs like pt's", c.pack, c.pack))) {
			t.Errorf("%s: warning %q, want one: %v", c.name, got, c.want)
		}
	}
}
