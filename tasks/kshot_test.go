package tasks

import (
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/data"
)

func TestKShotBeyondTheDataIsAnError(t *testing.T) {
	exs := func(targets ...string) []data.Example {
		out := make([]data.Example, len(targets))
		for i, tg := range targets {
			out[i] = data.Example{ID: tg + string(rune('a'+i)), Target: tg}
		}
		return out
	}
	byTarget := func(ex data.Example) string { return ex.Target }
	oneClass := func(data.Example) string { return "" }
	cases := []struct {
		name    string
		train   []data.Example
		k       int
		classOf func(data.Example) string
		n       int    // examples kept
		err     string // "" = none
	}{
		{"k in all, k/2 per class", exs("0", "0", "0", "2", "2"), 2, byTarget, 2, ""},
		{"the last slot goes to the next example", exs("0", "0", "0", "2", "2"), 3, byTarget, 3, ""},
		{"all of it", exs("0", "0", "2", "2"), 4, byTarget, 4, ""},
		{"above the data", exs("0", "0", "0", "2"), 5, byTarget,
			0, `toy: k-shot 5 is more than the training data has: 4 examples; pass --k-shot ≤ 4`},
		{"below the classes", exs("0", "1", "2"), 2, byTarget,
			0, `toy: k-shot 2 is fewer than the task's 3 classes (examples per class: "0" 1, "1" 1, "2" 1): k is the total, k/3 per class; pass --k-shot ≥ 3`},
		{"negative", exs("0", "2"), -4, byTarget, 0, "toy: k-shot must be ≥ 0 (0 = the full training set), got -4"},
		{"free text", exs("x", "y", "z"), 5, oneClass, 0, "toy: k-shot 5 is more than the training data has: 3 examples; pass --k-shot ≤ 3"},
		{"free text within", exs("x", "y", "z"), 2, oneClass, 2, ""},
	}
	for _, c := range cases {
		got, err := kshotTrain("toy", c.train, c.k, 1, c.classOf)
		switch {
		case c.err != "" && (err == nil || err.Error() != c.err):
			t.Errorf("%s: error %v, want %q", c.name, err, c.err)
		case c.err == "" && (err != nil || len(got) != c.n):
			t.Errorf("%s: %d examples, %v; want %d", c.name, len(got), err, c.n)
		}
	}
}

func TestLoadRejectsKShotBeyondTheData(t *testing.T) {
	task := taskByName(t, "syn-keyword")
	cases := []struct {
		k    int
		n    int
		want string
	}{
		{4, 4, ""},
		{100000, 0, "syn-keyword: k-shot 100000 is more than the training data has: "},
		{1, 0, "syn-keyword: k-shot 1 is fewer than the task's 2 classes"},
		{-4, 0, "syn-keyword: k-shot must be ≥ 0"},
	}
	for _, c := range cases {
		ds, err := task.Load(data.DataOptions{KShot: c.k, Seed: 1})
		switch {
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("k-shot %d: error %v, want one containing %q", c.k, err, c.want)
		case c.want == "" && (err != nil || len(ds.Train) != c.n):
			t.Errorf("k-shot %d: err %v", c.k, err)
		}
	}
}
