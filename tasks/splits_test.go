package tasks

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/data"
)

// TestPermutationIsPinned guards the split shuffle: Permutation is torch.randperm under a
// generator seeded as given (PyTorch 1.13 printed these lists; torchperm_test.go checks the
// protocol's sizes against testdata/torch_randperm.json), so a change here silently changes
// every split.
func TestPermutationIsPinned(t *testing.T) {
	if got, want := Permutation(10, 42), []int{2, 6, 1, 8, 4, 5, 0, 9, 3, 7}; !slices.Equal(got, want) {
		t.Errorf("Permutation(10, 42) = %v, want %v", got, want)
	}
	if got, want := Permutation(20, 7)[:10], []int{15, 17, 9, 12, 7, 1, 19, 3, 4, 11}; !slices.Equal(got, want) {
		t.Errorf("Permutation(20, 7)[:10] = %v, want %v", got, want)
	}
	p := Permutation(1000, 42)
	sorted := slices.Clone(p)
	slices.Sort(sorted)
	for i, v := range sorted {
		if v != i {
			t.Fatalf("Permutation(1000, 42) is not a permutation (sorted[%d] = %d)", i, v)
		}
	}
}

// TestSplitSizesOnRepoData checks every task whose files are in the repository's test data
// against the protocol's split rules. The small tasks' validation files are whole (n counted
// from the files' documented sizes, SOURCES.txt); training files and the large tasks' files are
// the slices testdata/README.md lists (train 300 rows, SST-2 train 1,300, BoolQ val 300,
// QNLI dev 300, SQuAD dev 378 questions).
func TestSplitSizesOnRepoData(t *testing.T) {
	requireData(t, "")
	cases := []struct {
		task string
		// train, dev, test: expected sizes (examples); units: what dev/test are cut in.
		train, dev, test int
		questions        int // MultiRC: questions, whose answer rows may fall in both halves
		rule             string
	}{
		{"cola", 300, 1043 / 2, 1043 - 1043/2, 0, "small: val 1043 halved"},
		{"rte", 300, 277 / 2, 277 - 277/2, 0, "small: val 277 halved"},
		{"mrpc", 300, 408 / 2, 408 - 408/2, 0, "small: val 408 halved"},
		{"stsb", 300, 1500 / 2, 1500 - 1500/2, 0, "small: val 1500 halved"},
		{"cb", 0, 56 / 2, 56 - 56/2, 0, "small: val 56 halved (no train file)"},
		{"boolq", 0, 300 / 2, 300 - 300/2, 0, "small: val (300-row slice) halved (no train file)"},
		{"wic", 0, 638 / 2, 638 - 638/2, 0, "small: val 638 halved (no train file)"},
		{"wsc", 300, 104 / 2, 104 - 104/2, 0, "small: val 104 halved"},
		{"multirc", 0, 4848 / 2, 4848 - 4848/2, 953, "small by answer row: 4848 answers of 953 questions halved"},
		{"sst2", 1300 - 1000, 1000, 872, 0, "large: 1000 train examples dev, val test"},
		{"qnli", 0, 0, 300, 0, "large without train file: no dev, val test (300-row slice)"},
		{"squad", 0, 0, 378, 0, "large without train file: no dev, val test (378-question slice)"},
	}
	for _, c := range cases {
		t.Run(c.task, func(t *testing.T) {
			ds, err := LoadEval(taskByName(t, c.task), data.DataOptions{DataDir: dataDir})
			if err != nil {
				t.Fatal(err)
			}
			if len(ds.Train) != c.train {
				t.Errorf("%s: train = %d, want %d", c.rule, len(ds.Train), c.train)
			}
			if c.dev >= 0 && (len(ds.Dev) != c.dev || len(ds.Test) != c.test) {
				t.Errorf("%s: dev/test = %d/%d, want %d/%d", c.rule, len(ds.Dev), len(ds.Test), c.dev, c.test)
			}
			if c.questions > 0 {
				if q := groupsOf(append(slices.Clone(ds.Dev), ds.Test...)); len(q) != c.questions {
					t.Errorf("%s: %d questions over dev and test, want %d", c.rule, len(q), c.questions)
				}
			}
			assertDisjoint(t, ds)
		})
	}
}

func groupsOf(exs []data.Example) map[string]bool {
	g := map[string]bool{}
	for _, ex := range exs {
		g[ex.Group] = true
	}
	return g
}

func assertDisjoint(t *testing.T, ds *data.Dataset) {
	t.Helper()
	seen := map[string]string{}
	for name, exs := range map[string][]data.Example{"train": ds.Train, "dev": ds.Dev, "test": ds.Test} {
		for _, ex := range exs {
			if other, dup := seen[ex.ID]; dup {
				t.Fatalf("example %s is in %s and %s", ex.ID, other, name)
			}
			seen[ex.ID] = name
		}
	}
}

func TestSmallTaskDevIsShuffledHalfOfValidation(t *testing.T) {
	requireData(t, "glue/RTE/dev.tsv")
	ds, err := taskByName(t, "rte").Load(data.DataOptions{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	perm := Permutation(277, SplitSeed)
	for rank, ex := range append(ds.Dev, ds.Test...) {
		if want := fmt.Sprintf("rte/val/%d", perm[rank]); ex.ID != want {
			t.Fatalf("position %d of dev+test is %s, want %s (the seed-42 shuffle of the validation rows)", rank, ex.ID, want)
		}
	}
	again, err := taskByName(t, "rte").Load(data.DataOptions{DataDir: dataDir, Seed: 999})
	if err != nil {
		t.Fatal(err)
	}
	if again.Dev[0].ID != ds.Dev[0].ID || again.Test[5].ID != ds.Test[5].ID {
		t.Error("split changed with DataOptions.Seed; the protocol fixes split shuffles at 42")
	}
}

func TestLargeTaskHoldsOutShuffledTrainExamples(t *testing.T) {
	requireData(t, "glue/SST-2/train.tsv")
	ds, err := taskByName(t, "sst2").Load(data.DataOptions{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	perm := Permutation(1300, SplitSeed) // the repository keeps the first 1,300 training rows
	if want := fmt.Sprintf("sst2/train/%d", perm[0]); ds.Dev[0].ID != want {
		t.Errorf("dev[0] = %s, want %s", ds.Dev[0].ID, want)
	}
	if want := fmt.Sprintf("sst2/train/%d", perm[1000]); ds.Train[0].ID != want {
		t.Errorf("train[0] = %s, want %s", ds.Train[0].ID, want)
	}
	if !strings.HasPrefix(ds.Test[0].ID, "sst2/val/") || ds.Test[0].ID != "sst2/val/0" {
		t.Errorf("test[0] = %s, want sst2/val/0 (official validation, file order)", ds.Test[0].ID)
	}
}

// TestHalveValidationCutsRowsNotGroups: as in the reference code, the cut is by row (MultiRC:
// by answer option), not by Group; dev is the first floor(n/2) rows of the shuffle.
func TestHalveValidationCutsRowsNotGroups(t *testing.T) {
	var val []data.Example
	for q := range 7 {
		for a := range q%3 + 1 {
			val = append(val, data.Example{ID: fmt.Sprintf("q%d/a%d", q, a), Group: fmt.Sprintf("q%d", q)})
		}
	}
	dev, test := HalveValidation(val, SplitSeed)
	perm := Permutation(len(val), SplitSeed)
	if len(dev) != len(val)/2 || len(test) != len(val)-len(val)/2 {
		t.Fatalf("dev/test = %d/%d rows, want %d/%d", len(dev), len(test), len(val)/2, len(val)-len(val)/2)
	}
	for i, ex := range append(dev, test...) {
		if ex.ID != val[perm[i]].ID {
			t.Fatalf("position %d = %s, want row %d (%s)", i, ex.ID, perm[i], val[perm[i]].ID)
		}
	}
}

func TestHoldOutNeedsMoreThanNExamples(t *testing.T) {
	if _, _, err := HoldOut(make([]data.Example, 1000), 1000, SplitSeed); err == nil {
		t.Error("holding out 1000 of 1000 examples should fail: no training data would remain")
	}
}

func TestLoadNeedsTrainButLoadEvalDoesNot(t *testing.T) {
	requireData(t, "superglue/BoolQ/val.jsonl")
	_, err := taskByName(t, "boolq").Load(data.DataOptions{DataDir: dataDir})
	if err == nil || !strings.Contains(err.Error(), "superglue/BoolQ/train.jsonl") || !strings.Contains(err.Error(), "ptbench score") {
		t.Errorf("Load without the train file: err = %v, want one naming superglue/BoolQ/train.jsonl and ptbench score", err)
	}
}

func TestKShotIsBalancedSeededAndPure(t *testing.T) {
	requireData(t, "glue/RTE/train.tsv")
	rte := taskByName(t, "rte")
	full, err := rte.Load(data.DataOptions{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	before := idsOf(full.Train)
	classOf := func(ex data.Example) string { return ex.Target }
	a := SampleKShot(full.Train, 16, 1, classOf)
	b := SampleKShot(full.Train, 16, 1, classOf)
	c := SampleKShot(full.Train, 16, 2, classOf)
	if !slices.Equal(idsOf(full.Train), before) {
		t.Error("SampleKShot modified its input")
	}
	if counts := targetCounts(a); len(a) != 16 || counts["0"] < 7 || counts["1"] < 7 {
		t.Errorf("16-shot RTE: %d examples, classes %v; want 16 in all, 8 per class but for the last slot", len(a), counts)
	}
	if !slices.EqualFunc(a, b, func(x, y data.Example) bool { return x.ID == y.ID }) {
		t.Error("same seed gave different samples")
	}
	if slices.EqualFunc(a, c, func(x, y data.Example) bool { return x.ID == y.ID }) {
		t.Error("different seeds gave the same sample")
	}

	viaLoad, err := rte.Load(data.DataOptions{DataDir: dataDir, KShot: 4, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if counts := targetCounts(viaLoad.Train); len(viaLoad.Train) != 4 || counts["0"] < 1 || counts["1"] < 1 {
		t.Errorf("Load with KShot 4: train classes %v, want 4 in all, 2 per class but for the last slot", counts)
	}
	if len(viaLoad.Dev) != len(full.Dev) || viaLoad.Test[0].ID != full.Test[0].ID {
		t.Error("k-shot sampling changed dev or test")
	}
}

func TestKShotSTSBIsBinarisedAt2Point5(t *testing.T) {
	requireData(t, "glue/STS-B/train.tsv")
	ds, err := taskByName(t, "stsb").Load(data.DataOptions{DataDir: dataDir, KShot: 4, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	high := 0
	for _, ex := range ds.Train {
		if stsbBinaryClass(ex.Target) == "1" {
			high++
		}
	}
	if len(ds.Train) != 4 || high < 1 || high > 3 {
		t.Errorf("4-shot STS-B: %d examples, %d with score above 2.5; want 4 and 2 (3 or 1 when the last slot goes over)", len(ds.Train), high)
	}
	for _, c := range []struct{ target, want string }{{"2.4", "0"}, {"2.5", "0"}, {"2.6", "1"}, {"x", ""}} {
		if got := stsbBinaryClass(c.target); got != c.want {
			t.Errorf("STS-B %s binarised to %q, want %q (DePT: \"0\" if label <= 2.5)", c.target, got, c.want)
		}
	}
}

// A class with fewer examples than its share gives all it has, and the draw ends short (as
// the reference's loop runs out of data).
func TestKShotSmallClassGivesAllItHas(t *testing.T) {
	train := []data.Example{{ID: "a", Target: "0"}, {ID: "b", Target: "0"}, {ID: "c", Target: "0"}, {ID: "d", Target: "0"}, {ID: "e", Target: "2"}}
	for seed := int64(1); seed <= 5; seed++ {
		got := targetCounts(SampleKShot(train, 6, seed, func(ex data.Example) string { return ex.Target }))
		if got["0"] != 3 || got["2"] != 1 {
			t.Errorf("seed %d: classes %v, want class 0's share of 3 and the only example of class 2", seed, got)
		}
	}
}

// DePT's draw on a fixed order (identity shuffle stand-in): shares first, the last slot to
// whatever comes next. Checked through the rule itself on every seed's order.
func TestKShotFollowsTheReferenceRule(t *testing.T) {
	var train []data.Example
	for i := 0; i < 30; i++ {
		train = append(train, data.Example{ID: fmt.Sprint(i), Target: fmt.Sprint(i % 3)})
	}
	classOf := func(ex data.Example) string { return ex.Target }
	for seed := int64(1); seed <= 20; seed++ {
		got := SampleKShot(train, 16, seed, classOf)
		counts := targetCounts(got)
		if len(got) != 16 || counts["0"] < 5 || counts["1"] < 5 || counts["2"] < 5 {
			t.Errorf("seed %d: 16-shot over 3 classes gave %d examples, %v; want 5 of each and one more", seed, len(got), counts)
		}
	}
}

func targetCounts(exs []data.Example) map[string]int {
	c := map[string]int{}
	for _, ex := range exs {
		c[ex.Target]++
	}
	return c
}

func idsOf(exs []data.Example) []string {
	ids := make([]string, len(exs))
	for i, ex := range exs {
		ids[i] = ex.ID
	}
	return ids
}
