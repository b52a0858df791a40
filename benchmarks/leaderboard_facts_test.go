package benchmarks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/data"
	"github.com/ptbench/ptbench/core/storage"
	_ "github.com/ptbench/ptbench/tasks" // the tasks' benchmarks and metric lists
)

// okRow is one finished run of method on task with a test score, on a 220M-parameter backbone.
func okRow(method, task string, seed int64, score float64) storage.ResultRow {
	bench := ""
	if t, err := core.NewTask(task); err == nil {
		bench = t.Benchmark()
	}
	return storage.ResultRow{RunKey: fmt.Sprintf("%s.%s.%d", method, task, seed), Method: method, Label: strings.ToUpper(method), Task: task,
		Benchmark: bench, Seed: seed, Status: "ok", TestScore: score, Test: core.Scores{"accuracy": score}, TrainableParams: 76800,
		Backbone: core.BackboneInfo{Name: "t5-base", NumParams: 220_000_000}, MeanStepSec: 0.1, MedianStepSec: 0.1}
}

func render(t *testing.T, b Board) string {
	t.Helper()
	var md bytes.Buffer
	if err := RenderMarkdown(&md, b); err != nil {
		t.Fatal(err)
	}
	return md.String()
}

func TestRankValues(t *testing.T) {
	cases := []struct {
		name    string
		values  []float64
		present []bool
		want    []int
	}{
		{"distinct", []float64{70, 80, 60}, []bool{true, true, true}, []int{2, 1, 0}},
		{"tie for best: both bold, next is second", []float64{80, 80, 70, 60}, []bool{true, true, true, true}, []int{1, 1, 2, 0}},
		{"tie for second", []float64{90, 80, 80}, []bool{true, true, true}, []int{1, 2, 2}},
		{"equal as shown (one decimal) is a tie", []float64{80.04, 79.96, 50}, []bool{true, true, true}, []int{1, 1, 2}},
		{"absent cells are not ranked", []float64{90, 0, 80}, []bool{true, false, true}, []int{1, 0, 2}},
		{"one value: nothing to compare", []float64{90, 0}, []bool{true, false}, []int{0, 0}},
		{"all equal: all best, no second", []float64{50, 50, 50}, []bool{true, true, true}, []int{1, 1, 1}},
	}
	for _, c := range cases {
		if got := rankValues(c.values, c.present); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: ranks %v, want %v", c.name, got, c.want)
		}
	}
}

// The score table marks the best cell bold and the second underlined per column, ranking
// only rows on the same backbone.
func TestBoardMarksBestAndSecond(t *testing.T) {
	rows := []storage.ResultRow{okRow("pt", "rte", 1, 70), okRow("dept", "rte", 1, 80), okRow("lora", "rte", 1, 60)}
	other := okRow("ept", "rte", 1, 99)
	other.Backbone.Name = "t5-small" // another backbone: alone in its group, not ranked
	fewShot := okRow("bitfit", "rte", 1, 95)
	fewShot.Label = "BitFit (k=16)" // another few-shot size: not compared with the full-data rows
	b := BuildBoard(append(rows, other, fewShot))
	md := render(t, b)
	for _, want := range []string{"**80.0**", "<u>70.0</u>", "| 60.0 ", "| 99.0 ", "| 95.0 "} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	ranks := map[string]int{}
	for _, r := range b.Rows {
		ranks[r.Method] = r.Tasks["rte"].Rank
	}
	if want := map[string]int{"dept": 1, "pt": 2, "lora": 0, "ept": 0, "bitfit": 0}; !reflect.DeepEqual(ranks, want) {
		t.Errorf("JSON ranks %v, want %v", ranks, want)
	}
}

// "± std" only where a cell has two or more seeds; the row's seed count is its n, and a cell
// over fewer seeds than its row says so.
func TestBoardShowsSpreadOnlyWithSeveralSeeds(t *testing.T) {
	cases := []struct {
		name     string
		rows     []storage.ResultRow
		want     []string
		dontWant []string
	}{
		{"one seed", []storage.ResultRow{okRow("pt", "rte", 1, 70), okRow("dept", "rte", 1, 80)},
			[]string{"one seed", "| 1 "}, []string{"±"}},
		{"three seeds", []storage.ResultRow{okRow("pt", "rte", 1, 70), okRow("pt", "rte", 2, 72), okRow("pt", "rte", 3, 74)},
			[]string{"72.0 ± 2.0", "mean ± std over seeds", "| 3 "}, []string{"(n="}},
		{"a cell over fewer seeds", []storage.ResultRow{okRow("pt", "rte", 1, 70), okRow("pt", "rte", 2, 72), okRow("pt", "mrpc", 1, 80)},
			[]string{"71.0 ± 1.4", "80.0 (n=1)", "| 1–2 "}, []string{"80.0 ±"}},
	}
	for _, c := range cases {
		md := render(t, BuildBoard(c.rows))
		for _, s := range c.want {
			if !strings.Contains(md, s) {
				t.Errorf("%s: markdown lacks %q:\n%s", c.name, s, md)
			}
		}
		for _, s := range c.dontWant {
			if strings.Contains(md, s) {
				t.Errorf("%s: markdown has %q:\n%s", c.name, s, md)
			}
		}
	}
}

// An average is the benchmark's ("GLUE avg") only over its complete task set; over fewer
// tasks it is named after them, and a row lacking one of them has no value.
func TestBoardAveragesOnlyOverCompleteSets(t *testing.T) {
	glue := benchmarkTaskSets["GLUE"]
	var full []storage.ResultRow
	for i, task := range glue {
		full = append(full, okRow("pt", task, 1, float64(60+i)))
	}
	cases := []struct {
		name      string
		rows      []storage.ResultRow
		columns   []string
		ptAverage map[string]float64
		glueAvg   bool
	}{
		{"complete GLUE", full, []string{"GLUE avg"}, map[string]float64{"GLUE avg": 63.5}, true},
		{"two GLUE tasks", []storage.ResultRow{okRow("pt", "rte", 1, 60), okRow("pt", "mrpc", 1, 70)},
			[]string{"avg (mrpc, rte)"}, map[string]float64{"avg (mrpc, rte)": 65}, false},
		{"a row lacking a task", []storage.ResultRow{okRow("pt", "rte", 1, 60), okRow("dept", "rte", 1, 60), okRow("dept", "mrpc", 1, 70)},
			[]string{"avg (mrpc, rte)"}, nil, false},
		{"one task per benchmark", []storage.ResultRow{okRow("pt", "rte", 1, 60), okRow("pt", "cb", 1, 70)}, nil, nil, false},
		{"synthetic tasks", []storage.ResultRow{okRow("pt", "syn-keyword", 1, 60), okRow("pt", "syn-parity", 1, 70)}, nil, nil, false},
	}
	for _, c := range cases {
		b := BuildBoard(c.rows)
		var names []string
		for _, a := range b.Averages {
			names = append(names, a.Name)
		}
		if !reflect.DeepEqual(names, c.columns) {
			t.Errorf("%s: average columns %q, want %q", c.name, names, c.columns)
		}
		var pt MethodRow
		for _, r := range b.Rows {
			if r.Method == "pt" {
				pt = r
			}
		}
		if len(pt.Averages) != len(c.ptAverage) || (len(c.ptAverage) > 0 && !reflect.DeepEqual(pt.Averages, c.ptAverage)) {
			t.Errorf("%s: pt averages %v, want %v", c.name, pt.Averages, c.ptAverage)
		}
		if (pt.GLUEAvg != nil) != c.glueAvg {
			t.Errorf("%s: glue_avg %v, want set=%v", c.name, pt.GLUEAvg, c.glueAvg)
		}
		md := render(t, b)
		if strings.Contains(md, "n/a") || (c.columns == nil && strings.Contains(md, "avg")) {
			t.Errorf("%s: an empty or unwanted average column:\n%s", c.name, md)
		}
	}
}

// The complete sets hold every task registered for the benchmark, except ReCoRD, which the
// papers use as a source task and not as a table column.
func TestBenchmarkTaskSetsAreTheRegisteredTasks(t *testing.T) {
	for _, reg := range data.Tasks() {
		task, err := data.NewTask(reg.Name)
		if err != nil {
			t.Fatal(err)
		}
		set := benchmarkTaskSets[task.Benchmark()]
		if task.Benchmark() != "" && !coversAll(set, []string{reg.Name}) {
			t.Errorf("%s (%s) is not in the benchmark's task set %v", reg.Name, task.Benchmark(), set)
		}
	}
	for bench, set := range benchmarkTaskSets {
		for _, name := range set {
			if task, err := data.NewTask(name); err != nil || task.Benchmark() != bench {
				t.Errorf("%s in the %s set: %v", name, bench, err)
			}
		}
	}
}

func TestFormatParams(t *testing.T) {
	cases := []struct {
		n, backbone int64
		want        string
	}{
		{76800, 220_000_000, "76.8K (0.035%)"},
		{950, 0, "950"},
		{1_200_000, 60_000_000, "1.2M (2.0%)"},
		{2_600, 220_000_000, "2.6K (0.0012%)"},
		{0, 220_000_000, "0 (0%)"},
	}
	for _, c := range cases {
		if got := formatParams(c.n, c.backbone); got != c.want {
			t.Errorf("formatParams(%d, %d) = %q, want %q", c.n, c.backbone, got, c.want)
		}
	}
	b := BuildBoard([]storage.ResultRow{okRow("pt", "rte", 1, 70)})
	if s := b.Rows[0].TrainableShare; s == nil || *s < 0.000349 || *s > 0.000350 || b.Rows[0].BackboneParams != 220_000_000 {
		t.Errorf("JSON share %v of %d, want 0.000349 of 220M", s, b.Rows[0].BackboneParams)
	}
	if md := render(t, b); !strings.Contains(md, "76.8K (0.035%)") {
		t.Errorf("markdown lacks the share of the backbone:\n%s", md)
	}
}

// Step time relative to PT ("0.86× PT") when PT is on the board; no such column otherwise.
func TestBoardStepTimeRelativeToPT(t *testing.T) {
	pt, ept := okRow("pt", "rte", 1, 70), okRow("ept", "rte", 1, 72)
	ept.MeanStepSec = 0.086
	cases := []struct {
		name     string
		rows     []storage.ResultRow
		want     []string
		dontWant []string
	}{
		{"with PT", []storage.ResultRow{pt, ept}, []string{"0.86× PT", "1.00× PT", "Step time vs PT"}, nil},
		{"without PT", []storage.ResultRow{ept}, nil, []string{"× PT", "Step time vs PT"}},
		// A packed run's step is its pack's divided by its runs: compared with PT packed alike.
		{"EPT packed, PT alone", []storage.ResultRow{pt, packedRow(ept, 4)}, []string{"dynamic, packed ×4", "Packed runs (`--pack`", "| n/a"}, []string{"| 0.86× PT"}},
		{"both packed alike", []storage.ResultRow{packedRow(pt, 4), packedRow(ept, 4)}, []string{"| 0.86× PT", "packed ×4"}, nil},
		{"PT packed otherwise", []storage.ResultRow{packedRow(pt, 3), packedRow(ept, 4)}, []string{"packed ×3", "packed ×4"}, []string{"| 0.86× PT"}},
	}
	for _, c := range cases {
		md := render(t, BuildBoard(c.rows))
		for _, s := range c.want {
			if !strings.Contains(md, s) {
				t.Errorf("%s: markdown lacks %q:\n%s", c.name, s, md)
			}
		}
		for _, s := range c.dontWant {
			if strings.Contains(md, s) {
				t.Errorf("%s: markdown has %q:\n%s", c.name, s, md)
			}
		}
	}
}

// packedRow is r as trained in a pack of n runs (extra.pack, as read back from results.jsonl).
func packedRow(r storage.ResultRow, n int) storage.ResultRow {
	r.Extra = map[string]any{"pack": float64(n)}
	return r
}

// Each task column names its metrics, the footnote says the split protocol, and JSON carries
// both.
func TestBoardNamesMetricsAndSplits(t *testing.T) {
	mrpc := okRow("pt", "mrpc", 1, 80)
	mrpc.Test = core.Scores{"accuracy": 80, "f1": 86}
	b := BuildBoard([]storage.ResultRow{mrpc, okRow("pt", "stsb", 1, 85), okRow("pt", "cola", 1, 40), okRow("pt", "syn-keyword", 1, 90)})
	md := render(t, b)
	for _, want := range []string{"mrpc (acc; F1)", "80.0 (F1 86.0)", "stsb (Pearson; Spearman)", "cola (MCC)", "syn-keyword (acc)",
		"test = the second half of the official validation set", "syn-keyword: generated", "docs/protocol.md"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"mrpc":{"score":"accuracy","also":["f1"]}`, `"split_protocol":"Splits — cola, mrpc, stsb: test = the second half`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("JSON lacks %s:\n%s", want, raw)
		}
	}
}

// "Measured vs published" lists only tasks with a published number: EPT (none per task) and
// synthetic tasks have no rows.
func TestCompareOnlyWherePublished(t *testing.T) {
	b := BuildBoard([]storage.ResultRow{okRow("dept", "rte", 1, 70), okRow("dept", "syn-keyword", 1, 90), okRow("ept", "rte", 1, 72)})
	cs := Compare(b)
	if len(cs) != 1 || cs[0].Method != "dept" || cs[0].Task != "rte" || cs[0].Published == nil {
		t.Fatalf("Compare = %+v, want dept on rte only", cs)
	}
	var md bytes.Buffer
	if err := RenderReference(&md, b.Tasks); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(md.String(), "syn-keyword") || !strings.Contains(md.String(), "| 79.1 ") {
		t.Errorf("reference table has a column without published numbers, or lacks RTE's:\n%s", md.String())
	}
}
