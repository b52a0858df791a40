package benchmarks

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/storage"
)

// Every run lands in exactly one shard, the same one in every call, and the shards' costs
// are balanced: LPT's bound, max ≤ mean + the largest single run.
func TestShardPlanPartitionsAndBalances(t *testing.T) {
	cases := []struct {
		name      string
		g         Grid
		shards    int
		wantCosts []float64 // per shard, when the split is known exactly
	}{
		{"one shard is the grid", Grid{Methods: []string{"pt", "lora"}, Tasks: []string{"a", "b"}, Seeds: []int64{1}}, 1, nil},
		{"equal runs alternate", Grid{Methods: []string{"pt"}, Tasks: []string{"a", "b", "c", "d"}, Seeds: []int64{1}}, 2, []float64{2, 2}},
		{"ft's cost is spread", Grid{Methods: []string{"ft", "pt", "lora", "ept"}, Tasks: []string{"rte", "mrpc", "cola"}, Seeds: []int64{1, 2, 3}}, 4, nil},
		{"more shards than runs", Grid{Methods: []string{"pt"}, Tasks: []string{"a"}, Seeds: []int64{1, 2}}, 3, []float64{1, 1, 0}},
		{"multi-task counts once", Grid{Methods: []string{"pt", "dept"}, Tasks: []string{"a", "b", "c"}, Seeds: []int64{1}, MultiTask: true}, 2, []float64{1, 0.85}},
		{"plugin costs 1", Grid{Methods: []string{"plugin:./x", "ft"}, Tasks: []string{"a"}, Seeds: []int64{1, 2}}, 2, []float64{2.4, 2.4}},
		{"steps scale it", Grid{Methods: []string{"pt", "ft"}, Tasks: []string{"a", "b", "c"}, Seeds: []int64{1}, Train: core.TrainOptions{Steps: 100}}, 2, []float64{380, 340}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.g.Shards = c.shards
			runs := c.g.Runs()
			plan := c.g.ShardPlan()
			if len(plan) != c.shards {
				t.Fatalf("%d shards, want %d", len(plan), c.shards)
			}
			seen := map[int]int{}
			var costs []float64
			for s, p := range plan {
				for i, r := range p {
					seen[r.Index]++
					if i > 0 && p[i-1].Index >= r.Index {
						t.Errorf("shard %d not in grid order: %v", s+1, p)
					}
				}
				costs = append(costs, ShardCost(p))
			}
			for _, r := range runs {
				if seen[r.Index] != 1 {
					t.Errorf("run %d (%s %v seed %d) is in %d shards", r.Index, r.Method, r.Tasks, r.Seed, seen[r.Index])
				}
			}
			if len(seen) != len(runs) {
				t.Errorf("plan has %d runs, grid %d", len(seen), len(runs))
			}
			var total, largest float64
			for _, r := range runs {
				total += r.Cost
				largest = math.Max(largest, r.Cost)
			}
			if mx := slices.Max(costs); mx > total/float64(c.shards)+largest+1e-9 {
				t.Errorf("shard costs %v: max %.2f above mean %.2f + largest run %.2f", costs, mx, total/float64(c.shards), largest)
			}
			if c.wantCosts != nil {
				for i := range c.wantCosts {
					if math.Abs(costs[i]-c.wantCosts[i]) > 1e-9 {
						t.Errorf("shard costs %v, want %v", costs, c.wantCosts)
						break
					}
				}
			}
			if again := c.g.ShardPlan(); fmt.Sprint(again) != fmt.Sprint(plan) {
				t.Errorf("plan changed between calls:\n%v\n%v", plan, again)
			}
			// inShard agrees with the plan for every shard.
			for s := 1; s <= c.shards; s++ {
				g := c.g
				g.Shard = s
				in := g.inShard()
				for _, r := range runs {
					want := slices.ContainsFunc(plan[s-1], func(x RunSpec) bool { return x.Index == r.Index })
					if in(r.Index) != want {
						t.Errorf("shard %d: inShard(%d) = %v, plan says %v", s, r.Index, !want, want)
					}
				}
			}
		})
	}
	// A realistic grid: 8 GLUE tasks × 4 methods × 3 seeds over 5 shards is within 10% of even.
	g := Grid{Methods: []string{"ft", "pt", "lora", "ept"}, Tasks: strings.Split("rte,mrpc,cola,sst2,stsb,qnli,qqp,mnli", ","),
		Seeds: []int64{1, 2, 3}, Shards: 5, Train: core.TrainOptions{Steps: 1000}}
	var costs []float64
	for _, p := range g.ShardPlan() {
		costs = append(costs, ShardCost(p))
	}
	if slices.Max(costs) > 1.1*slices.Min(costs) {
		t.Errorf("5 shards of the GLUE grid: costs %v", costs)
	}
}

func TestParseShard(t *testing.T) {
	for _, ok := range []string{"1/1", "1/2", "2/2", " 3/8 "} {
		if _, _, err := ParseShard(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "0/2", "3/2", "1/0", "-1/2", "1/2x", "1", "a/b", "1/2/3"} {
		if _, _, err := ParseShard(bad); err == nil || !strings.Contains(err.Error(), "1 ≤ i ≤ n") {
			t.Errorf("%q accepted (%v)", bad, err)
		}
	}
}

// `--shard 1/2` and `--shard 2/2` into their own folders, merged, hold exactly the run keys
// of the same grid run unsharded, with their checkpoints; merging again adds nothing.
func TestShardsMergeToTheUnshardedGrid(t *testing.T) {
	coretest.LockThread(t)
	root := t.TempDir()
	grid := func(out string, shard int) *Grid {
		g := smallGrid(out, []string{"pt"}, []int64{1, 2})
		g.Tasks = []string{"syn-keyword", "syn-parity"}
		g.Shard, g.Shards = shard, 2
		return g
	}
	whole := grid(filepath.Join(root, "whole"), 0)
	whole.Shards = 0
	if _, err := whole.Run(); err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for s := 1; s <= 2; s++ {
		dir := filepath.Join(root, fmt.Sprintf("shard%d", s))
		sum, err := grid(dir, s).Run()
		if err != nil {
			t.Fatal(err)
		}
		if sum.Ran != 2 {
			t.Errorf("shard %d ran %d runs, want 2 of the 4", s, sum.Ran)
		}
		dirs = append(dirs, dir)
	}
	merged := filepath.Join(root, "merged")
	var log bytes.Buffer
	rep, err := MergeResults(merged, dirs, false, &log)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Appended != 4 || rep.Duplicates != 0 || len(rep.Conflicts) != 0 || rep.Checkpoints != 4 {
		t.Errorf("merge report %+v\n%s", rep, log.String())
	}
	want, got := runKeys(t, whole.OutDir), runKeys(t, merged)
	if len(want) != 4 || !slices.Equal(want, got) {
		t.Fatalf("merged run keys %v, unsharded %v", got, want)
	}
	rows, _ := storage.ReadResults(filepath.Join(merged, storage.ResultsFile))
	for _, r := range rows {
		if _, err := os.Stat(filepath.Join(merged, r.Checkpoint)); err != nil {
			t.Errorf("checkpoint of %s: %v", r.RunKey, err)
		}
	}
	again, err := MergeResults(merged, dirs, false, nil)
	if err != nil || again.Appended != 0 || again.Duplicates != 4 {
		t.Errorf("second merge: %+v, %v", again, err)
	}
}

func runKeys(t *testing.T, dir string) []string {
	t.Helper()
	rows, err := storage.ReadResults(filepath.Join(dir, storage.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range rows {
		keys = append(keys, r.RunKey)
	}
	slices.Sort(keys)
	return keys
}

// Merge keeps one row per run key: duplicates once, a success over failures, and of two
// finished rows that disagree the latest, reporting the conflict.
func TestMergeDedupAndConflicts(t *testing.T) {
	root := t.TempDir()
	row := func(key, status string, test float64, at string) storage.ResultRow {
		return storage.ResultRow{RunKey: key, Method: "pt", Task: "rte", Status: status, TestScore: test, DevScore: test, FinishedAt: at}
	}
	write := func(name string, rows ...storage.ResultRow) string {
		dir := filepath.Join(root, name)
		os.MkdirAll(filepath.Join(dir, "artefacts"), 0o755)
		s := &storage.ResultStore{Path: filepath.Join(dir, storage.ResultsFile)}
		for _, r := range rows {
			if err := s.Append(r); err != nil {
				t.Fatal(err)
			}
		}
		os.WriteFile(filepath.Join(dir, "artefacts", name+".safetensors"), []byte(name), 0o644)
		return dir
	}
	a := write("a",
		row("same", "ok", 70, "2026-01-01T00:00:00Z"),
		row("retried", "failed", 0, "2026-01-01T00:00:00Z"),
		row("clash", "ok", 60, "2026-01-02T00:00:00Z"),
		row("only-a", "ok", 50, "2026-01-01T00:00:00Z"))
	b := write("b",
		row("same", "ok", 70, "2026-01-03T00:00:00Z"), // the same run, recorded later: a duplicate
		row("retried", "ok", 80, "2026-01-02T00:00:00Z"),
		row("clash", "ok", 65, "2026-01-03T00:00:00Z"), // newer: wins
		row("failed-only", "failed", 0, "2026-01-01T00:00:00Z"))
	out := filepath.Join(root, "out")
	var log bytes.Buffer
	rep, err := MergeResults(out, []string{a, b}, false, &log)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := storage.ReadResults(filepath.Join(out, storage.ResultsFile))
	got := map[string]storage.ResultRow{}
	for _, r := range rows {
		if _, dup := got[r.RunKey]; dup {
			t.Errorf("%s twice in the merged file", r.RunKey)
		}
		got[r.RunKey] = r
	}
	if len(got) != 5 || got["same"].TestScore != 70 || got["retried"].Status != "ok" || got["clash"].TestScore != 65 ||
		got["failed-only"].Status != "failed" || got["only-a"].TestScore != 50 {
		t.Errorf("merged rows %+v", rows)
	}
	if rep.Duplicates != 1 || rep.Superseded != 1 || rep.Appended != 5 || rep.Artefacts != 2 {
		t.Errorf("report %+v", rep)
	}
	if len(rep.Conflicts) != 1 || rep.Conflicts[0].RunKey != "clash" || rep.Conflicts[0].Kept.Dir != b ||
		len(rep.Conflicts[0].Others) != 1 || rep.Conflicts[0].Others[0].TestScore != 60 {
		t.Errorf("conflicts %+v", rep.Conflicts)
	}
	if !strings.Contains(log.String(), "conflict: clash: kept "+b) {
		t.Errorf("log:\n%s", log.String())
	}
	// A folder whose finished row disagrees with what out holds, but is older: out's stays.
	c := write("c", row("clash", "ok", 10, "2025-12-31T00:00:00Z"), row("new", "ok", 1, "2026-01-01T00:00:00Z"))
	rep, err = MergeResults(out, []string{c}, false, nil)
	if err != nil || rep.Appended != 1 || len(rep.Conflicts) != 1 || rep.Conflicts[0].Kept.Dir != out {
		t.Errorf("merge into a filled folder: %+v, %v", rep, err)
	}
	if _, err := MergeResults(out, []string{filepath.Join(root, "missing")}, false, nil); err == nil {
		t.Error("a missing folder was merged")
	}
}

// --jobs inside a shard: the workers split the shard's runs between them (each runs one of
// shard 1's two), never another shard's.
func TestWorkersSplitTheShard(t *testing.T) {
	coretest.LockThread(t)
	root := t.TempDir()
	var got []string
	for w := 0; w < 2; w++ {
		g := smallGrid(filepath.Join(root, fmt.Sprint(w)), []string{"pt"}, []int64{1, 2})
		g.Tasks = []string{"syn-keyword", "syn-parity"}
		g.Shard, g.Shards, g.Worker, g.Workers = 1, 2, w, 2
		sum, err := g.Run()
		if err != nil || sum.Ran != 1 {
			t.Fatalf("worker %d: %+v, %v", w, sum, err)
		}
		rows, _ := storage.ReadResults(filepath.Join(g.OutDir, storage.ResultsFile))
		for _, r := range rows {
			got = append(got, fmt.Sprintf("%s seed %d", r.Task, r.Seed))
		}
	}
	g := smallGrid("", []string{"pt"}, []int64{1, 2})
	g.Tasks = []string{"syn-keyword", "syn-parity"}
	g.Shards = 2
	var want []string
	for _, r := range g.ShardPlan()[0] {
		want = append(want, fmt.Sprintf("%s seed %d", r.Tasks[0], r.Seed))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("workers of shard 1 ran %v, the plan gives it %v", got, want)
	}
}
