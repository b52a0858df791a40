package tasks

import (
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/data"
)

func TestSyntheticTasks(t *testing.T) {
	rules := map[string]func(ex data.Example) bool{
		"syn-keyword": func(ex data.Example) bool {
			has := strings.Contains(" "+ex.Source+" ", " "+syntheticKeyword+" ")
			return (ex.Target == "1") == has && (ex.Target == "0" || ex.Target == "1")
		},
		"syn-parity": func(ex data.Example) bool {
			last := ex.Source[len(ex.Source)-1]
			return ex.Target == string('0'+rune(last-'0')%2)
		},
		"syn-copy": func(ex data.Example) bool {
			return ex.Target == strings.Fields(strings.TrimPrefix(ex.Source, "copy: "))[0]
		},
	}
	for name, rule := range rules {
		t.Run(name, func(t *testing.T) {
			task := taskByName(t, name)
			if task.Benchmark() != "" || task.Metrics()[0] != "accuracy" {
				t.Errorf("benchmark %q metrics %v", task.Benchmark(), task.Metrics())
			}
			a, err := task.Load(data.DataOptions{Seed: 1, Offline: true})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := task.Load(data.DataOptions{Seed: 1})
			c, _ := task.Load(data.DataOptions{Seed: 2})
			if len(a.Train) != SyntheticTrainSize || len(a.Dev) != SyntheticDevSize || len(a.Test) != SyntheticTestSize {
				t.Fatalf("sizes %d/%d/%d", len(a.Train), len(a.Dev), len(a.Test))
			}
			if a.Train[7].Source != b.Train[7].Source || a.Test[3].Source != b.Test[3].Source || a.Dev[9].Target != b.Dev[9].Target {
				t.Error("same seed gave different data")
			}
			if a.Train[0].Source == c.Train[0].Source && a.Train[1].Source == c.Train[1].Source && a.Train[2].Source == c.Train[2].Source {
				t.Error("different seeds gave the same data")
			}
			targets := map[string]int{}
			for _, ex := range allSplits(a) {
				if len(ex.Source) >= 60 {
					t.Fatalf("source longer than 60 bytes: %q", ex.Source)
				}
				if !rule(ex) {
					t.Fatalf("example breaks the task's rule: %+v", ex)
				}
				targets[ex.Target]++
			}
			if name != "syn-copy" && (targets["0"] < 1000 || targets["1"] < 1000) {
				t.Errorf("labels unbalanced: %v", targets)
			}
			// A perfect model scores 100.
			preds := make([]string, len(a.Test))
			for i, ex := range a.Test {
				preds[i] = ex.Target
			}
			if s, err := task.Score(preds, a.Test); err != nil || s["accuracy"] != 100 {
				t.Errorf("perfect predictions scored %v, %v", s, err)
			}
		})
	}
}
