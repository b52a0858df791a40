package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --device is parsed by the flag and checked against the linked libtorch before anything
// loads: cuda:1023 is refused on this machine's CPU-only libtorch ("has no CUDA") and on any
// GPU machine with fewer devices ("sees N CUDA device(s)"); both name CUDA and the README
// section, and no row is written. A device that is not cpu or cuda[:N] is a flag error.
func TestDeviceIsCheckedBeforeAnythingLoads(t *testing.T) {
	out := filepath.Join(t.TempDir(), "runs")
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"run", "--methods", "pt", "--tasks", "syn-keyword", "--backbone", "t5-tiny", "--steps", "2", "--device", "cuda:1023", "--out", out}, []string{"CUDA", "README: GPUs"}},
		{[]string{"bench", "--methods", "pt", "--backbone", "t5-tiny", "--steps", "1", "--device", "cuda:1023"}, []string{"CUDA", "README: GPUs"}},
		{[]string{"run", "--methods", "pt", "--tasks", "syn-keyword", "--device", "gpu", "--out", out}, []string{`--device "gpu": want cpu, cuda or cuda:N`}},
	}
	for _, c := range cases {
		_, err := execute(c.args...)
		if err == nil || !errors.As(err, new(usageError)) {
			t.Errorf("%v: error %v, want a usage error", c.args, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q lacks %q", c.args, err, w)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(out, "results.jsonl")); err == nil {
		t.Error("a refused --device still wrote results.jsonl")
	}
}

// One set of spellings for every backbone: --dtype bf16 (the alias) benches on T5 and Llama
// alike (it used to work for Llama and fail for T5), and a misspelt dtype is a flag error.
func TestDTypeAliasWorksForEveryBackbone(t *testing.T) {
	for _, bb := range []string{"t5-tiny", "llama-tiny"} {
		out, err := execute("bench", "--methods", "pt", "--backbone", bb, "--dtype", "bf16",
			"--seq", "8", "--batch-size", "1", "--steps", "1", "--warmup", "0")
		if err != nil || !strings.Contains(out, "| PT ") {
			t.Errorf("bench %s --dtype bf16: %v\n%s", bb, err, out)
		}
	}
	_, err := execute("bench", "--methods", "pt", "--backbone", "t5-tiny", "--dtype", "half")
	if err == nil || !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), `--dtype "half": want float32 or bfloat16`) {
		t.Errorf("--dtype half: %v, want a usage error naming the valid values", err)
	}
}
