package benchmarks

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
	_ "github.com/ptbench/ptbench/tasks" // the tasks whose table score is checked
)

// TestPublishedNumbersAreTheTableScore: every published number is the metric the task ranks
// by (its first metric), so "Measured vs published" compares like with like — MRPC, QQP and
// CB compare accuracy, not F1.
func TestPublishedNumbersAreTheTableScore(t *testing.T) {
	refs := referenceRows()
	if len(refs) == 0 || len(refs[0].Scores) != 13 {
		t.Fatalf("published rows %+v, want DePT's 13 tasks first (its description)", refs)
	}
	for task := range refs[0].Scores {
		tk, err := core.NewTask(task)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := publishedMetric[task], tk.Metrics()[0]; got != want {
			t.Errorf("%s: the published number is %q, the task's table score %q", task, got, want)
		}
	}
	b := Board{Tasks: []string{"mrpc", "stsb"}, Rows: []MethodRow{{Method: "dept", Label: "DePT", Backbone: "t5-base",
		Tasks: map[string]Cell{"mrpc": {Mean: 88.2, Seeds: 1}}}}}
	cs := Compare(b)
	if len(cs) != 2 || cs[0].Metric != "accuracy" || cs[1].Metric != "pearson" || cs[0].Delta == nil || *cs[0].Delta > -2.49 || *cs[0].Delta < -2.51 {
		t.Fatalf("Compare = %+v, want mrpc accuracy (Δ −2.5) and stsb pearson", cs)
	}
	var md bytes.Buffer
	if err := RenderComparison(&md, b); err != nil {
		t.Fatal(err)
	}
	var header, mrpc []string
	for _, line := range strings.Split(md.String(), "\n") {
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "| "), "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
		switch {
		case len(cells) > 3 && cells[0] == "Method":
			header = cells
		case len(cells) > 3 && cells[2] == "mrpc":
			mrpc = cells
		}
	}
	if len(header) < 6 || len(mrpc) < 6 || header[3] != "Metric" || mrpc[3] != "accuracy" || mrpc[4] != "88.2" || mrpc[5] != "90.7" {
		t.Errorf("comparison table: header %q, mrpc row %q; want Metric = accuracy, 88.2 against 90.7:\n%s", header, mrpc, md.String())
	}
}
