package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// torchRandperm277 reads torch.randperm(277) under seed 42 (RTE's validation size) from the
// permutations PyTorch 1.13 wrote for the tasks package's tests.
func torchRandperm277(t *testing.T) []int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "tasks", "testdata", "torch_randperm.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tp struct {
		Whole []struct {
			N    int
			Seed *int64
			Perm []int
		}
	}
	if err := json.Unmarshal(raw, &tp); err != nil {
		t.Fatal(err)
	}
	for _, w := range tp.Whole {
		if w.N == 277 && w.Seed == nil {
			return w.Perm
		}
	}
	t.Fatal("torch_randperm.json has no permutation of 277")
	return nil
}

// TestDataIDsAreTorchRandpermHalves: `ptbench data --task rte --split test --ids -o json`
// prints torch.randperm(277, seed 42)[138:], dev the first 138, text one per line; where the
// rows come from goes to stderr.
func TestDataIDsAreTorchRandpermHalves(t *testing.T) {
	dir := t.TempDir()
	var tsv strings.Builder
	tsv.WriteString("index\tsentence1\tsentence2\tlabel\n")
	for i := range 277 {
		fmt.Fprintf(&tsv, "%d\tpremise %d\thypothesis %d\tnot_entailment\n", i, i, i)
	}
	if err := os.MkdirAll(filepath.Join(dir, "glue", "RTE"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "glue", "RTE", "dev.tsv"), []byte(tsv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	perm := torchRandperm277(t)
	for _, c := range []struct {
		split, output string
		want          []int
	}{
		{"test", "json", perm[138:]},
		{"dev", "json", perm[:138]},
		{"test", "text", perm[138:]},
	} {
		stdout, stderr, err := executeSplit("data", "--task", "rte", "--data-dir", dir, "--offline", "--split", c.split, "--ids", "-o", c.output)
		if err != nil {
			t.Fatalf("%s -o %s: %v", c.split, c.output, err)
		}
		var got []int
		if c.output == "json" {
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("%s -o json: stdout is not a JSON array: %v\n%s", c.split, err, stdout)
			}
		} else {
			for _, f := range strings.Fields(stdout) {
				var v int
				if _, err := fmt.Sscan(f, &v); err != nil {
					t.Fatalf("%s -o text: line %q is not a row number", c.split, f)
				}
				got = append(got, v)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s -o %s: %d rows starting %v, want torch.randperm(277)'s %d starting %v", c.split, c.output, len(got), got[:min(5, len(got))], len(c.want), c.want[:5])
		}
		if !strings.Contains(stderr, "glue/rte validation") || !strings.Contains(stderr, "torch.randperm(277, seed 42)") {
			t.Errorf("%s: stderr %q does not say where the rows come from", c.split, stderr)
		}
	}
	if _, _, err := executeSplit("data", "--task", "rte", "--data-dir", dir, "--offline", "--ids", "--k-shot", "4"); err == nil {
		t.Error("--ids with --k-shot: no error")
	}
	if _, _, err := executeSplit("data", "--task", "rte", "--data-dir", dir, "--offline", "--split", "dev"); err == nil {
		t.Error("--split without --ids: no error (it would be ignored)")
	}
}

// `data --k-shot k` shows the training set a run draws: k examples in all, balanced over the
// classes, from the same examples every run reads whatever --seed is.
func TestDataKShotIsARunsDraw(t *testing.T) {
	sizes := func(args ...string) (train, dev int) {
		out, _, err := executeSplit(append([]string{"data", "--task", "syn-keyword", "-o", "json"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Splits map[string]struct {
				Size    int            `json:"size"`
				Targets map[string]int `json:"targets"`
			} `json:"splits"`
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return v.Splits["train"].Size, v.Splits["dev"].Targets["1"]
	}
	_, devAll := sizes()
	for _, seed := range []string{"1", "2", "42"} {
		train, dev := sizes("--k-shot", "4", "--seed", seed)
		if train != 4 || dev != devAll {
			t.Errorf("--k-shot 4 --seed %s: train %d (want 4 in all), dev positives %d (want %d: the seed draws, it does not regenerate the task)", seed, train, dev, devAll)
		}
	}
}
