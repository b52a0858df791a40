package benchmarks

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotter"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/storage"
)

// A method's point is the mean over tasks of the mean over seeds; its whisker spans the
// seeds that ran every task, each averaged over the tasks.
func TestSummariseScores(t *testing.T) {
	row := func(task string, seed int64, score float64) storage.ResultRow {
		return storage.ResultRow{Task: task, Seed: seed, TestScore: score, TrainableParams: 100}
	}
	cases := []struct {
		name            string
		rows            []storage.ResultRow
		mean, low, high float64
	}{
		{"two seeds, two tasks", []storage.ResultRow{row("a", 1, 60), row("b", 1, 80), row("a", 2, 70), row("b", 2, 90)}, 75, 70, 80},
		{"one seed: no spread", []storage.ResultRow{row("a", 1, 60), row("b", 1, 80)}, 70, 70, 70},
		{"a seed missing a task is not in the spread", []storage.ResultRow{row("a", 1, 60), row("b", 1, 80), row("a", 2, 70), row("b", 2, 90), row("a", 3, 0)},
			(float64(130)/3 + 85) / 2, 70, 80},
	}
	for _, c := range cases {
		got := summariseScores(plotSeries{name: "m", rows: c.rows})
		if got.mean != c.mean || got.low != c.low || got.high != c.high || got.params != 100 {
			t.Errorf("%s: %+v, want mean %v, low %v, high %v", c.name, got, c.mean, c.low, c.high)
		}
	}
}

// Curves: the mean over seeds at each step with the lowest and highest seed as the band.
func TestSeedBand(t *testing.T) {
	cases := []struct {
		name            string
		runs            []curveRun
		mean, low, high plotter.XYs
	}{
		{"three seeds", []curveRun{{xys: plotter.XYs{{X: 10, Y: 1}, {X: 20, Y: 4}}}, {xys: plotter.XYs{{X: 10, Y: 2}, {X: 20, Y: 5}}}, {xys: plotter.XYs{{X: 10, Y: 3}, {X: 20, Y: 9}}}},
			plotter.XYs{{X: 10, Y: 2}, {X: 20, Y: 6}}, plotter.XYs{{X: 10, Y: 1}, {X: 20, Y: 4}}, plotter.XYs{{X: 10, Y: 3}, {X: 20, Y: 9}}},
		{"a step only one run has", []curveRun{{xys: plotter.XYs{{X: 5, Y: 1}}}, {xys: plotter.XYs{{X: 10, Y: 2}}}},
			plotter.XYs{{X: 5, Y: 1}, {X: 10, Y: 2}}, plotter.XYs{{X: 5, Y: 1}, {X: 10, Y: 2}}, plotter.XYs{{X: 5, Y: 1}, {X: 10, Y: 2}}},
	}
	for _, c := range cases {
		mean, low, high := seedBand(c.runs)
		if !reflect.DeepEqual(mean, c.mean) || !reflect.DeepEqual(low, c.low) || !reflect.DeepEqual(high, c.high) {
			t.Errorf("%s: mean %v low %v high %v, want %v %v %v", c.name, mean, low, high, c.mean, c.low, c.high)
		}
	}
}

// A score axis is at least 10 points wide, so equal scores sit mid-axis, and stays within
// [−1, 101] when the scores do.
func TestScoreAxis(t *testing.T) {
	cases := []struct {
		lo, hi, wantLo, wantHi float64
	}{
		{50, 50, 45, 55},
		{0, 0, -1, 9},
		{100, 100, 91, 101},
		{0, 100, -1, 101},
		{-20, 40, -27.2, 47.2}, // MCC below zero: plain 12% padding
	}
	for _, c := range cases {
		lo, hi := scoreAxis(c.lo, c.hi)
		if d := lo - c.wantLo; d*d > 1e-12 || (hi-c.wantHi)*(hi-c.wantHi) > 1e-12 {
			t.Errorf("scoreAxis(%v, %v) = [%v, %v], want [%v, %v]", c.lo, c.hi, lo, hi, c.wantLo, c.wantHi)
		}
	}
}

// The step-time-relative-to-PT figure is drawn when PT is among the runs, and not otherwise.
func TestStepTimeVsPTFigureOnlyWithPT(t *testing.T) {
	var withoutPT []storage.ResultRow
	for _, r := range syntheticRows() {
		if r.Method != "pt" {
			withoutPT = append(withoutPT, r)
		}
	}
	for _, c := range []struct {
		name string
		rows []storage.ResultRow
		want bool
	}{{"with PT", syntheticRows(), true}, {"without PT", withoutPT, false}} {
		dir := t.TempDir()
		writeRows(t, dir, c.rows)
		if _, err := WritePlots(dir); err != nil {
			t.Fatal(err)
		}
		_, err := os.Stat(filepath.Join(dir, PlotsDir, "step-time-vs-pt.png"))
		if got := err == nil; got != c.want {
			t.Errorf("%s: step-time-vs-pt.png written = %v, want %v", c.name, got, c.want)
		}
	}
}

// Plots show setups apart as the leaderboard does: PT's bf16 runs are a bar of their own, and
// EPT (fp32 only) is still compared with PT's fp32 row.
func TestPlotsKeepSetupsApart(t *testing.T) {
	rows := syntheticRows()
	for _, task := range []string{"rte", "syn-keyword"} {
		rows = append(rows, storage.ResultRow{RunKey: "pt-bf16." + task, Method: "pt", Label: "PT", Task: task, Seed: 1,
			Backbone: core.BackboneInfo{Name: "t5-tiny"}, Status: "ok", TestScore: 50, DevScore: 50, TrainableParams: 400,
			MeanStepSec: 0.005, PeakRSSBytes: 400 << 20, Steps: 100, Numerics: &storage.Numerics{DType: "bfloat16"}})
	}
	dir := t.TempDir()
	writeRows(t, dir, rows)
	if _, err := WritePlots(dir); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string][]string{
		"step-time.svg":       {"PT [dtype=bfloat16]", "PT [dtype=float32]"},
		"step-time-vs-pt.svg": {"EPT", "LoRA"},
		"score-vs-params.svg": {"PT [dtype=bfloat16]"},
	} {
		raw, err := os.ReadFile(filepath.Join(dir, PlotsDir, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, label := range want {
			if !strings.Contains(string(raw), label) {
				t.Errorf("%s does not show %q", file, label)
			}
		}
	}
}
