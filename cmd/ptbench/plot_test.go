package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/storage"
)

// executeSplit runs the CLI with stdout and stderr apart.
func executeSplit(args ...string) (stdout, stderr string, err error) {
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

func plotRows(t *testing.T, dir string, rows []storage.ResultRow) {
	t.Helper()
	store := &storage.ResultStore{Path: filepath.Join(dir, storage.ResultsFile)}
	for _, r := range rows {
		if err := store.Append(r); err != nil {
			t.Fatal(err)
		}
	}
}

// `ptbench plot DIR -o json` lists the PNG and SVG files it wrote, and leaderboard.md links
// the PNGs — also after a later render (what `ptbench run` does at its end).
func TestPlotCommandWritesFiguresAndLinksThem(t *testing.T) {
	dir := t.TempDir()
	var rows []storage.ResultRow
	for i, m := range []struct {
		method, label string
		params        int64
	}{{"pt", "PT", 256}, {"lora", "LoRA", 12288}} {
		for seed := int64(1); seed <= 2; seed++ {
			rows = append(rows, storage.ResultRow{RunKey: m.method + string(rune('0'+seed)), Method: m.method, Label: m.label,
				Task: "syn-keyword", Seed: seed, Backbone: core.BackboneInfo{Name: "t5-tiny"}, Status: "ok",
				TestScore: 50 + float64(10*i) + float64(seed), TrainableParams: m.params, MeanStepSec: 0.01 * float64(int64(i)+seed),
				PeakRSSBytes: 300 << 20, Steps: 10, Curves: &storage.Curves{
					Loss: []storage.CurvePoint{{Step: 5, Value: 2}, {Step: 10, Value: 1}},
					Dev:  []storage.CurvePoint{{Step: 5, Value: 40}, {Step: 10, Value: 50}},
				}})
		}
	}
	plotRows(t, dir, rows)
	stdout, stderr, err := executeSplit("plot", dir, "-o", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var res plotOutput
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("-o json printed %q: %v", stdout, err)
	}
	if len(res.Files) != 12 { // score-vs-params, step-time, step-time-vs-pt, peak-memory, loss and dev curves: ×2 formats
		t.Fatalf("files %v", res.Files)
	}
	for _, f := range res.Files {
		if st, err := os.Stat(f); err != nil || st.Size() < 1000 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if res.Leaderboard != filepath.Join(dir, "leaderboard.md") {
		t.Errorf("leaderboard %q", res.Leaderboard)
	}
	check := func(when string) {
		md, err := os.ReadFile(filepath.Join(dir, "leaderboard.md"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"### Test scores", "### Plots", "![score-vs-params](plots/score-vs-params.png)",
			"![dev-curves-syn-keyword](plots/dev-curves-syn-keyword.png)", "[SVG](plots/peak-memory.svg)", "![step-time-vs-pt](plots/step-time-vs-pt.png)"} {
			if !strings.Contains(string(md), want) {
				t.Errorf("%s: leaderboard.md lacks %q:\n%s", when, want, md)
			}
		}
	}
	check("after plot")
	quiet := &cobra.Command{}
	quiet.SetOut(io.Discard)
	quiet.SetErr(io.Discard)
	if err := writeLeaderboard(quiet, dir); err != nil {
		t.Fatal(err)
	}
	check("after a later render")

	// Text output: one file a line, then the leaderboard.
	stdout, _, err = executeSplit("plot", dir)
	if err != nil || !strings.HasPrefix(stdout, filepath.Join(dir, "plots", "score-vs-params.png")+"\n") ||
		!strings.Contains(stdout, "leaderboard.md links the figures") {
		t.Errorf("text output %q, %v", stdout, err)
	}
}

func TestPlotCommandErrors(t *testing.T) {
	dir := t.TempDir()
	_, _, err := executeSplit("plot", dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, storage.ResultsFile)) {
		t.Fatalf("missing results: %v", err)
	}
	plotRows(t, dir, []storage.ResultRow{{RunKey: "a", Method: "pt", Task: "rte", Status: "failed", Error: "boom"}})
	if _, _, err = executeSplit("plot", dir); err == nil || !strings.Contains(err.Error(), "no run with status ok") {
		t.Fatalf("no ok rows: %v", err)
	}
	if _, _, err = executeSplit("plot", dir, "-o", "yaml"); err == nil || !strings.Contains(err.Error(), "text or json") {
		t.Fatalf("bad -o: %v", err)
	}
}
