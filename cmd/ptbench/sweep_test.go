package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/storage"
)

// A bad --sweep is a usage error before the backbone or any data loads: the task named here
// has no data in an empty --data-dir, and --offline forbids a download, so an error that got
// as far as loading would say so instead.
func TestRunRejectsBadSweepBeforeLoading(t *testing.T) {
	for _, tc := range []struct{ sweep, want string }{
		{"pt.lrr=0.1,0.2", `--sweep pt.lrr=0.1: method pt: unknown setting "lrr"; valid settings: init, init_text, length, lr, vocab_limit`},
		{"pt.lr=0.3,fast", "--sweep pt.lr=fast"},
		{"pt.length=1.5", "--sweep pt.length=1.5"},
		{"dept.prompt_lr=0.3", `method "dept" is not in --methods [pt]`},
		{"pt.lr=", "no values"},
		{"pt.lr=0.3,0.3", "given twice"},
	} {
		out, err := execute("run", "--methods", "pt", "--tasks", "rte", "--offline", "--data-dir", t.TempDir(),
			"--sweep", tc.sweep, "--out", t.TempDir())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--sweep %s: error %v, want %q\n%s", tc.sweep, err, tc.want, out)
		}
	}
}

// The paper experiments resolve to the paper's grids; time's primary grid pads to 256.
func TestReproduceDryRunShowsSweepsAndPadding(t *testing.T) {
	dir := t.TempDir()
	out, err := execute("reproduce", "glue", "--dry-run", "-o", "json", "--out", filepath.Join(dir, "glue"))
	if err != nil {
		t.Fatal(err, out)
	}
	var plan struct {
		Grids []struct {
			Group    string `json:"group"`
			PadToMax bool   `json:"pad_to_max"`
			Sweep    []struct {
				Key    string    `json:"key"`
				Values []float64 `json:"values"`
			} `json:"sweep"`
		} `json:"grids"`
		Cost struct {
			Runs int `json:"runs"`
		} `json:"cost"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &plan); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	got := map[string][]float64{}
	for _, a := range plan.Grids[0].Sweep {
		got[a.Key] = a.Values
	}
	for key, want := range map[string][]float64{"pt.lr": {0.3, 0.4, 0.5}, "ept.lr": {0.3, 0.4, 0.5}, "dept.lr": {0.3, 0.4, 0.5}, "ept.lowrank_lr": {1e-4, 5e-4, 5e-3}, "dept.lowrank_lr": {1e-4, 5e-4, 5e-3}} {
		if len(got[key]) != 3 || got[key][0] != want[0] || got[key][1] != want[1] || got[key][2] != want[2] {
			t.Errorf("glue %q: %s = %v, want %v", plan.Grids[0].Group, key, got[key], want)
		}
	}
	// 8 single-task tasks × (8 unswept + PT 3 + DePT 9 + EPT 9) + 2 multi-task runs.
	if plan.Cost.Runs != 8*29+2 {
		t.Errorf("glue cost counts %d runs, want %d (every variant)", plan.Cost.Runs, 8*29+2)
	}
	out, err = execute("reproduce", "time", "--dry-run", "-o", "json", "--out", filepath.Join(dir, "time"))
	if err != nil {
		t.Fatal(err, out)
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &plan); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if !plan.Grids[0].PadToMax || plan.Grids[len(plan.Grids)-1].PadToMax {
		t.Errorf("time grids %+v: want the primary padded to 256, the last (length-grouped) not", plan.Grids)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--sweep", "ept.nope=1"}, `unknown setting "nope"`},
		{[]string{"--sweep", "lora.lr=1e-4", "--methods", "ept"}, `method "lora" is not in --methods [ept]`},
		{[]string{"--sweep", "xx.lr=1"}, `method "xx" is not in`},
	} {
		args := append([]string{"reproduce", "glue", "--dry-run", "--out", filepath.Join(dir, "bad")}, tc.args...)
		if out, err := execute(args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q\n%s", tc.args, err, tc.want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "time")); err == nil {
		t.Error("a dry run created its results folder")
	}
}

// The acceptance case: three rates, three rows; the leaderboard has one PT row whose RTE
// score is the test score of the best-dev variant, and names the variant.
func TestRunSweepSelectsOnDev(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	log, err := execute("run", "--methods", "pt", "--tasks", "rte", "--backbone", "t5-tiny", "--sweep", "pt.lr=0.3,0.03,0.003",
		"--set", "pt.length=4", "--data-dir", taskData(t), "--offline", "--steps", "4", "--eval-every", "2", "--batch-size", "4",
		"--eval-limit", "8", "--test-limit", "8", "--out", out, "--threads", "1")
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	rows, err := storage.ReadResults(filepath.Join(out, storage.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want one per rate", len(rows))
	}
	best := rows[0]
	for i, lr := range []float64{0.3, 0.03, 0.003} {
		if sw, _ := rows[i].Extra["sweep"].(map[string]any); sw["pt.lr"] != lr || rows[i].Status != "ok" {
			t.Errorf("row %d: sweep %v, status %s; want pt.lr %v, ok", i, sw, rows[i].Status, lr)
		}
		if rows[i].DevScore > best.DevScore {
			best = rows[i]
		}
	}
	board, err := execute("leaderboard", out, "-o", "json")
	if err != nil {
		t.Fatal(err, board)
	}
	var b struct {
		Rows []struct {
			Method string `json:"method"`
			Tasks  map[string]struct {
				Mean float64 `json:"mean"`
			} `json:"tasks"`
		} `json:"rows"`
		Selection []struct {
			Settings map[string]any `json:"settings"`
			RunKey   string         `json:"run_key"`
		} `json:"sweep_selection"`
	}
	if err := json.Unmarshal([]byte(board[strings.Index(board, "{"):]), &b); err != nil {
		t.Fatalf("%v\n%s", err, board)
	}
	if len(b.Rows) != 1 || b.Rows[0].Method != "pt" || b.Rows[0].Tasks["rte"].Mean != best.TestScore {
		t.Errorf("board rows %+v: want one PT row with RTE %v (test of the best-dev variant %s)", b.Rows, best.TestScore, best.RunKey)
	}
	if len(b.Selection) != 1 || b.Selection[0].RunKey != best.RunKey || b.Selection[0].Settings["pt.lr"] != best.Extra["sweep"].(map[string]any)["pt.lr"] {
		t.Errorf("selection %+v, want %s", b.Selection, best.RunKey)
	}
	all, err := execute("leaderboard", out, "--no-select")
	if err != nil || !strings.Contains(all, "PT [pt.lr=0.003]") || !strings.Contains(all, "PT [pt.lr=0.3]") {
		t.Errorf("--no-select should list every variant (%v):\n%s", err, all)
	}
}
