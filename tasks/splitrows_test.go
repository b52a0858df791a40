package tasks

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/data"
)

// smallTaskSizes are the official validation sizes the small tasks halve (MultiRC in answer
// rows), as torch_randperm.json lists them.
var smallTaskSizes = map[string]int{
	"cb": 56, "wsc": 104, "rte": 277, "mrpc": 408, "wic": 638, "cola": 1043, "stsb": 1500, "boolq": 3270, "multirc": 4848,
}

// TestRowsOfSplitAreTorchRandpermHalves: for every small task, dev and test rows are
// torch.randperm(n, seed 42)[:n/2] and [n/2:] as PyTorch 1.13 computed them.
func TestRowsOfSplitAreTorchRandpermHalves(t *testing.T) {
	tp := readTorchPerms(t)
	checked := 0
	for _, c := range tp.Whole {
		n, small := smallTaskSizes[c.Use]
		if !small || c.Seed != nil {
			continue
		}
		checked++
		if c.N != n {
			t.Fatalf("%s: testdata permutation has n = %d, the task's validation set %d", c.Use, c.N, n)
		}
		ds := &data.Dataset{Dev: make([]data.Example, n/2), Test: make([]data.Example, n-n/2)}
		for split, want := range map[string][]int{"dev": c.Perm[:n/2], "test": c.Perm[n/2:]} {
			got, err := RowsOfSplit(taskByName(t, c.Use), ds, split)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Rows, want) || got.HFSplit != "validation" || got.Of != n {
				t.Errorf("%s %s: rows %v… of %s (%d), want torch.randperm(%d)'s %v…",
					c.Use, split, got.Rows[:5], got.HFSplit, got.Of, n, want[:5])
			}
		}
	}
	if checked != len(smallTaskSizes) {
		t.Errorf("checked %d small tasks, want %d", checked, len(smallTaskSizes))
	}
}

// TestRowsOfSplitLargeTask: a large task's dev is the first 1,000 of torch.randperm over
// the training rows, its train the rest, its test the validation file in order.
func TestRowsOfSplitLargeTask(t *testing.T) {
	tp := readTorchPerms(t)
	var sst2 []int
	for _, c := range tp.Large {
		if c.Use == "sst2" {
			sst2 = c.Head
		}
	}
	const n = 67349
	ds := &data.Dataset{Dev: make([]data.Example, 1000), Train: make([]data.Example, n-1000), Test: make([]data.Example, 872)}
	dev, err := RowsOfSplit(taskByName(t, "sst2"), ds, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dev.Rows, sst2) || dev.HFSplit != "train" || dev.Of != n {
		t.Errorf("sst2 dev: %d rows of %s (%d), first %v; want torch.randperm(%d)[:1000] of train", len(dev.Rows), dev.HFSplit, dev.Of, dev.Rows[:3], n)
	}
	test, err := RowsOfSplit(taskByName(t, "sst2"), ds, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(test.Rows) != 872 || test.Rows[0] != 0 || test.Rows[871] != 871 || test.HFSplit != "validation" {
		t.Errorf("sst2 test: %d rows of %s starting %v, want the 872 validation rows in order", len(test.Rows), test.HFSplit, test.Rows[:2])
	}
	if _, err := RowsOfSplit(taskByName(t, "sst2"), &data.Dataset{Test: make([]data.Example, 872)}, "dev"); err == nil {
		t.Error("dev rows of a large task without its training file: no error")
	}
	skipped := &data.Dataset{Dev: make([]data.Example, 1000), Train: make([]data.Example, 5000), Skipped: map[string]int{"glue/QQP/train.tsv": 2}}
	if _, err := RowsOfSplit(taskByName(t, "qqp"), skipped, "dev"); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("rows of a file with dropped rows: err = %v, want one saying positions no longer match", err)
	}
	if _, err := RowsOfSplit(taskByName(t, "rte"), ds, "validation"); err == nil {
		t.Error("split \"validation\": no error, want one naming train, dev or test")
	}
}

// TestLoadedSplitsFollowTheirRows writes small official-format files, loads them, and checks
// that the examples of dev and test are the validation rows RowsOfSplit names, in order:
// RTE by row, MultiRC by answer row (a question's options may land in both halves, as in
// the reference code).
func TestLoadedSplitsFollowTheirRows(t *testing.T) {
	var rte strings.Builder
	rte.WriteString("index\tsentence1\tsentence2\tlabel\n")
	for i := range 277 {
		fmt.Fprintf(&rte, "%d\tpremise %d\thypothesis %d\tentailment\n", i, i, i)
	}

	// 5 paragraphs × 3 questions × 4 answers = 60 answer rows.
	var multirc strings.Builder
	for p := range 5 {
		var qs []string
		for q := range 3 {
			var as []string
			for a := range 4 {
				as = append(as, fmt.Sprintf(`{"text": "answer %d", "idx": %d, "label": %d}`, a, p*12+q*4+a, a%2))
			}
			qs = append(qs, fmt.Sprintf(`{"question": "question %d", "idx": %d, "answers": [%s]}`, q, p*3+q, strings.Join(as, ", ")))
		}
		fmt.Fprintf(&multirc, `{"idx": %d, "passage": {"text": "paragraph %d", "questions": [%s]}}`+"\n", p, p, strings.Join(qs, ", "))
	}
	root := writeFiles(t, map[string]string{"glue/RTE/dev.tsv": rte.String(), "superglue/MultiRC/val.jsonl": multirc.String()})

	for _, c := range []struct {
		task string
		// rowID is the ID of the example at validation row r, in the Hugging Face order.
		rowID func(r int) string
		n     int
	}{
		{"rte", func(r int) string { return fmt.Sprintf("rte/val/%d", r) }, 277},
		{"multirc", func(r int) string {
			return fmt.Sprintf("multirc/val/p%d/q%d/a%d", r/12, r/4, r)
		}, 60},
	} {
		task := taskByName(t, c.task)
		ds, err := LoadEval(task, data.DataOptions{DataDir: root})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds.Dev) != c.n/2 || len(ds.Test) != c.n-c.n/2 {
			t.Fatalf("%s: dev/test = %d/%d, want %d/%d", c.task, len(ds.Dev), len(ds.Test), c.n/2, c.n-c.n/2)
		}
		for split, exs := range map[string][]data.Example{"dev": ds.Dev, "test": ds.Test} {
			rows, err := RowsOfSplit(task, ds, split)
			if err != nil {
				t.Fatal(err)
			}
			for i, ex := range exs {
				if want := c.rowID(rows.Rows[i]); ex.ID != want {
					t.Fatalf("%s %s[%d] = %s, want %s (validation row %d)", c.task, split, i, ex.ID, want, rows.Rows[i])
				}
			}
		}
	}
}
