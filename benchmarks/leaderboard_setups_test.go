package benchmarks

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/storage"
)

// Rows of one method that differ in setup on a task become rows of their own, labelled by
// what differs (before sweep selection, so a sweep is selected within each setup); what differs
// only across tasks, or what a sweep chose per seed, splits nothing.
func TestBoardKeepsSetupsApart(t *testing.T) {
	row := func(key, task string, seed int64, score float64, edits ...func(*storage.ResultRow)) storage.ResultRow {
		r := storage.ResultRow{RunKey: key, Method: "pt", Label: "PT", Task: task, Benchmark: "GLUE", Seed: seed,
			Status: "ok", TestScore: score, DevScore: score, MethodConfig: map[string]any{"length": 100, "lr": 0.3},
			Train: core.TrainOptions{Steps: 100, BatchSize: 16, Seed: seed}, MeanStepSec: 1}
		r.Backbone.Name = "t5-base"
		for _, edit := range edits {
			edit(&r)
		}
		return r
	}
	eps := func(r *storage.ResultRow) { r.Train.AdamEps = 1e-8 }
	bf16 := func(r *storage.ResultRow) { r.Numerics = &storage.Numerics{DType: "bfloat16"} }
	revised := func(r *storage.ResultRow) { r.TrainingRevision = 1 }
	steps := func(n int) func(*storage.ResultRow) { return func(r *storage.ResultRow) { r.Train.Steps = n } }
	limits := func(eval, test int) func(*storage.ResultRow) {
		return func(r *storage.ResultRow) { r.Train.EvalLimit, r.Train.TestLimit = eval, test }
	}
	dept := func(r *storage.ResultRow) { r.Method, r.Label = "dept", "DePT" }
	kShot := func(r *storage.ResultRow) { r.KShot, r.Label = 16, "PT (k=16)" }
	multiTask := func(r *storage.ResultRow) {
		r.Extra = map[string]any{"multi_task": []any{"rte", "mrpc"}, "run": "mt", "temperature": 2.0}
	}
	sweep := func(method, key string, v float64, index int) func(*storage.ResultRow) {
		return func(r *storage.ResultRow) {
			r.MethodConfig = map[string]any{"length": 100, "lr": v}
			r.Extra = map[string]any{"sweep": map[string]any{method + "." + key: v}, "sweep_index": index}
		}
	}
	lr := func(v float64) func(*storage.ResultRow) { return sweep("pt", "lr", v, 0) }
	takes := func(values ...any) func(*storage.ResultRow) {
		return func(r *storage.ResultRow) { r.Extra["sweep_takes"] = map[string]any{"pt.lr": values} }
	}
	cases := []struct {
		name string
		rows []storage.ResultRow
		want string // label: task mean/n …, sorted by label
		same string // the ⚠ same-seed note's cells, "" for none
	}{
		{"two seeds of one setup", []storage.ResultRow{row("a", "rte", 1, 60), row("b", "rte", 2, 70)},
			"PT: rte 65/2", ""},
		{"ε differs in one cell", []storage.ResultRow{row("a", "rte", 1, 60), row("b", "rte", 1, 70, eps), row("c", "rte", 2, 80, eps)},
			"PT [adam_eps=1e-6]: rte 60/1; PT [adam_eps=1e-8]: rte 75/2", ""},
		{"dtype differs in one cell", []storage.ResultRow{row("a", "rte", 1, 60), row("b", "rte", 1, 70, bf16)},
			"PT [dtype=bfloat16]: rte 70/1; PT [dtype=float32]: rte 60/1", ""},
		{"dtype differs on disjoint seeds", []storage.ResultRow{row("a", "rte", 1, 60), row("b", "rte", 2, 70), row("c", "rte", 3, 90, bf16)},
			"PT [dtype=bfloat16]: rte 90/1; PT [dtype=float32]: rte 65/2", ""},
		{"trained before and after a training revision", []storage.ResultRow{row("a", "rte", 1, 60), row("b", "rte", 2, 70, revised)},
			"PT [training_revision=0]: rte 60/1; PT [training_revision=1]: rte 70/1", ""},
		{"steps differ by task only (the harness's budgets)", []storage.ResultRow{row("a", "rte", 1, 60), row("b", "mnli", 1, 70, steps(300000))},
			"PT: mnli 70/1, rte 60/1", ""},
		{"a task run at two budgets: only its rows are labelled", []storage.ResultRow{
			row("a", "rte", 1, 60), row("b", "rte", 1, 70, steps(200)), row("c", "mrpc", 1, 80, steps(300))},
			"PT [steps=100]: rte 60/1; PT [steps=200]: rte 70/1; PT: mrpc 80/1", ""},
		{"dtype differs across tasks only", []storage.ResultRow{row("a", "rte", 1, 60), row("b", "mrpc", 1, 70, bf16)},
			"PT [dtype=bfloat16]: mrpc 70/1; PT [dtype=float32]: rte 60/1", ""},
		{"setups that only look per task still split everywhere", []storage.ResultRow{
			row("a", "rte", 1, 60), row("b", "rte", 1, 70, bf16), row("c", "mrpc", 1, 80), row("d", "cola", 1, 90, bf16)},
			"PT [dtype=bfloat16]: cola 90/1, rte 70/1; PT [dtype=float32]: mrpc 80/1, rte 60/1", ""},
		{"one run stays one row when another setup's budget differs", []storage.ResultRow{
			row("a", "rte", 1, 60, eps, limits(200, 0)), row("b", "mrpc", 1, 70, eps, limits(200, 0)),
			row("c", "rte", 1, 80, steps(60), limits(50, 50))},
			"PT [adam_eps=1e-6, eval_limit=50, test_limit=50]: rte 80/1; PT [adam_eps=1e-8, eval_limit=200, test_limit=all]: mrpc 70/1, rte 60/1", ""},
		{"a sweep chose another lr per seed", []storage.ResultRow{row("a", "rte", 1, 60, lr(0.3)), row("b", "rte", 2, 70, lr(0.5))},
			"PT: rte 65/2", ""},
		{"a sweep over a deprecated spelling splits no seeds", []storage.ResultRow{
			row("a", "rte", 1, 60, dept, sweep("dept", "prompt_lr", 0.3, 0)), row("b", "rte", 2, 70, dept, sweep("dept", "prompt_lr", 0.5, 0)),
			row("c", "rte", 1, 50, dept, bf16, sweep("dept", "prompt_lr", 0.3, 0))},
			"DePT [dtype=bfloat16]: rte 50/1; DePT [dtype=float32]: rte 65/2", ""},
		{"a fixed-lr run equal to a variant that has its own row is that variant twice", []storage.ResultRow{
			row("a", "rte", 1, 60, lr(0.3)), row("b", "rte", 2, 70, lr(0.5)), row("c", "rte", 1, 40)},
			"PT: rte 65/2", "PT on rte, seed 1, variant pt.lr=0.3 (2 rows)"},
		{"a sweep under two setups is selected within each", []storage.ResultRow{
			row("a", "rte", 1, 60, lr(0.3)), row("b", "rte", 1, 80, sweep("pt", "lr", 0.5, 1)),
			row("c", "rte", 1, 90, lr(0.3), bf16), row("d", "rte", 1, 50, sweep("pt", "lr", 0.5, 1), bf16)},
			"PT [dtype=bfloat16]: rte 90/1; PT [dtype=float32]: rte 80/1", ""},
		{"a multi-task run beside a single-task one", []storage.ResultRow{row("a", "rte", 1, 60), row("b", "rte", 1, 70, multiTask)},
			"PT [multi_task=no]: rte 60/1; PT [multi_task=rte+mrpc (T=2)]: rte 70/1", ""},
		{"one seed twice under two keys, nothing recorded differs", []storage.ResultRow{row("a", "rte", 1, 60), row("b", "rte", 1, 70)},
			"PT: rte 65/2", "PT on rte, seed 1 (2 rows)"},
		{"a sweep resumed onto the plain run it includes", []storage.ResultRow{
			row("a", "rte", 1, 60), // lr 0.3, trained before the sweep: the sweep skipped its 0.3 variant
			row("b", "rte", 1, 80, sweep("pt", "lr", 0.5, 1), takes(0.3, 0.5))},
			"PT: rte 80/1", ""},
		{"a plain run at a value the sweep does not take stays apart", []storage.ResultRow{
			row("a", "rte", 1, 60, func(r *storage.ResultRow) { r.MethodConfig = map[string]any{"length": 100, "lr": 0.7} }),
			row("b", "rte", 1, 80, sweep("pt", "lr", 0.5, 1), takes(0.3, 0.5))},
			"PT [lr=0.7]: rte 60/1; PT [lr=swept]: rte 80/1", ""},
		{"a sweep variant twice on one seed", []storage.ResultRow{row("a", "rte", 1, 60, lr(0.3)), row("b", "rte", 1, 70, lr(0.3))},
			"PT: rte 70/1", "PT on rte, seed 1, variant pt.lr=0.3 (2 rows)"},
		{"one seed twice beside another setup", []storage.ResultRow{row("a", "rte", 1, 60), row("b", "rte", 1, 70), row("c", "rte", 1, 90, bf16)},
			"PT [dtype=bfloat16]: rte 90/1; PT [dtype=float32]: rte 65/2", "PT [dtype=float32] on rte, seed 1 (2 rows)"},
		{"a few-shot label keeps its (k=16) last", []storage.ResultRow{row("a", "rte", 1, 60, kShot), row("b", "rte", 1, 70, kShot, bf16)},
			"PT [dtype=bfloat16] (k=16): rte 70/1; PT [dtype=float32] (k=16): rte 60/1", ""},
	}
	for _, c := range cases {
		b := BuildBoard(c.rows)
		var got []string
		for _, r := range b.Rows {
			var cells []string
			for _, task := range []string{"cola", "mnli", "mrpc", "rte"} {
				if cell, ok := r.Tasks[task]; ok {
					cells = append(cells, fmt.Sprintf("%s %g/%d", task, cell.Mean, cell.Seeds))
				}
			}
			got = append(got, r.Label+": "+strings.Join(cells, ", "))
		}
		sort.Strings(got)
		if strings.Join(got, "; ") != c.want {
			t.Errorf("%s: rows %q, want %q", c.name, strings.Join(got, "; "), c.want)
		}
		if strings.Join(b.SameSeedRows, "; ") != c.same {
			t.Errorf("%s: same-seed cells %q, want %q", c.name, b.SameSeedRows, c.same)
		}
		var md bytes.Buffer
		if err := RenderMarkdown(&md, b); err != nil {
			t.Fatal(err)
		}
		if split := strings.Contains(c.want, "["); split != strings.Contains(md.String(), "[setting=value] after a label") {
			t.Errorf("%s: the board's note on split setups is shown %v, want %v", c.name, !split, split)
		}
		if note := strings.Contains(md.String(), "⚠ averaged over rows of the same seed"); note != (c.same != "") {
			t.Errorf("%s: the same-seed warning shown %v, want %v:\n%s", c.name, note, c.same != "", md.String())
		}
	}
}

// A method whose setups were split compares its step time with PT's row of its own setup, and
// a method that was not split with the PT row of the setup its rows share.
func TestStepTimeComparesLikeSetups(t *testing.T) {
	row := func(key, method, label string, sec float64, bf16 bool) storage.ResultRow {
		r := storage.ResultRow{RunKey: key, Method: method, Label: label, Task: "rte", Benchmark: "GLUE", Seed: 1,
			Status: "ok", TestScore: 50, MeanStepSec: sec, Train: core.TrainOptions{Steps: 100, Seed: 1}}
		r.Backbone.Name = "t5-base"
		if bf16 {
			r.Numerics = &storage.Numerics{DType: "bfloat16"}
		}
		return r
	}
	b := BuildBoard([]storage.ResultRow{
		row("a", "pt", "PT", 1.0, false), row("b", "pt", "PT", 0.25, true),
		row("c", "ept", "EPT", 0.8, false),
		row("d", "dept", "DePT", 0.5, false), row("e", "dept", "DePT", 0.2, true),
	})
	want := map[string]float64{"PT [dtype=float32]": 1, "PT [dtype=bfloat16]": 1, "EPT": 0.8,
		"DePT [dtype=float32]": 0.5, "DePT [dtype=bfloat16]": 0.8}
	for _, r := range b.Rows {
		if r.StepVsPT == nil || math.Abs(*r.StepVsPT-want[r.Label]) > 1e-12 {
			t.Errorf("%s: vs PT %v, want %v", r.Label, r.StepVsPT, want[r.Label])
		}
	}
	if len(b.Rows) != len(want) {
		t.Errorf("rows %d, want %d", len(b.Rows), len(want))
	}
}

// A method's setups stand together on the board, in order of their first row.
func TestSplitRowsStandTogether(t *testing.T) {
	row := func(key, method, label string, bf16 bool) storage.ResultRow {
		r := storage.ResultRow{RunKey: key, Method: method, Label: label, Task: "rte", Benchmark: "GLUE", Seed: 1,
			Status: "ok", TestScore: 50, Train: core.TrainOptions{Steps: 100, Seed: 1}}
		r.Backbone.Name = "t5-base"
		if bf16 {
			r.Numerics = &storage.Numerics{DType: "bfloat16"}
		}
		return r
	}
	b := BuildBoard([]storage.ResultRow{row("a", "pt", "PT", false), row("b", "ept", "EPT", false), row("c", "pt", "PT", true)})
	var got []string
	for _, r := range b.Rows {
		got = append(got, r.Label)
	}
	if want := "PT [dtype=float32]; PT [dtype=bfloat16]; EPT"; strings.Join(got, "; ") != want {
		t.Errorf("rows %q, want %q", strings.Join(got, "; "), want)
	}
}

// Scores over a --test-limit subset say so on the board, in JSON, and beside published numbers.
func TestBoardSaysWhenTestScoresAreOverASubset(t *testing.T) {
	row := func(key string, limit int) storage.ResultRow {
		r := storage.ResultRow{RunKey: key, Method: "dept", Label: "DePT", Task: "rte", Benchmark: "GLUE", Seed: 1,
			Status: "ok", TestScore: 50, Train: core.TrainOptions{Steps: 100, Seed: 1, TestLimit: limit}}
		r.Backbone.Name = "t5-base"
		return r
	}
	for _, c := range []struct {
		limit int
		want  bool
	}{{0, false}, {20, true}} {
		b := BuildBoard([]storage.ResultRow{row("a", c.limit)})
		var md bytes.Buffer
		if err := RenderMarkdown(&md, b); err != nil {
			t.Fatal(err)
		}
		if err := RenderComparison(&md, b); err != nil {
			t.Fatal(err)
		}
		note := strings.Count(md.String(), "first 20 test examples only")
		if (note == 2) != c.want || (note == 0) == c.want || (len(b.TestLimits) == 1) != c.want {
			t.Errorf("test limit %d: notes %d, TestLimits %v:\n%s", c.limit, note, b.TestLimits, md.String())
		}
	}
}

// A setting value with a pipe does not break the markdown table.
func TestSplitLabelWithAPipeKeepsTheTable(t *testing.T) {
	row := func(key, text string) storage.ResultRow {
		r := storage.ResultRow{RunKey: key, Method: "pt", Label: "PT", Task: "rte", Benchmark: "GLUE", Seed: 1, Status: "ok",
			TestScore: 50, MethodConfig: map[string]any{"init_text": text}, Train: core.TrainOptions{Steps: 100, Seed: 1}}
		r.Backbone.Name = "t5-base"
		return r
	}
	var md bytes.Buffer
	if err := RenderMarkdown(&md, BuildBoard([]storage.ResultRow{row("a", "yes | no"), row("b", "plain")})); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(md.String(), "\n") {
		if strings.Contains(line, "init_text=yes") && (!strings.Contains(line, `yes &#124; no`) || strings.Contains(line, "yes | no")) {
			t.Errorf("row %q: the pipe in the label is not escaped", line)
		}
	}
}

// In the unselected view every sweep variant is a row, and a variant of EPT still compares its
// step time with PT's (whose variants share one step time).
func TestUnselectedVariantsKeepTheStepRatio(t *testing.T) {
	row := func(key, method, label string, lr, sec float64) storage.ResultRow {
		r := storage.ResultRow{RunKey: key, Method: method, Label: label, Task: "rte", Benchmark: "GLUE", Seed: 1, Status: "ok",
			TestScore: 50, DevScore: 50, MeanStepSec: sec, MethodConfig: map[string]any{"lr": lr},
			Train: core.TrainOptions{Steps: 100, Seed: 1},
			Extra: map[string]any{"sweep": map[string]any{method + ".lr": lr}, "sweep_index": 0}}
		r.Backbone.Name = "t5-base"
		return r
	}
	b := BuildBoardWith([]storage.ResultRow{
		row("a", "pt", "PT", 0.3, 1.0), row("b", "pt", "PT", 0.5, 1.0), row("c", "ept", "EPT", 0.3, 0.8),
	}, BoardOptions{NoSelect: true})
	for _, r := range b.Rows {
		want := map[string]float64{"pt": 1, "ept": 0.8}[r.Method]
		if r.StepVsPT == nil || math.Abs(*r.StepVsPT-want) > 1e-12 {
			t.Errorf("%s: vs PT %v, want %v", r.Label, r.StepVsPT, want)
		}
	}
}
