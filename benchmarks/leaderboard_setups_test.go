package benchmarks

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/storage"
)

// Rows of one method that differ in setup for the same task and seed become rows of their
// own, labelled by what differs; differences across tasks or seeds alone split nothing.
func TestBoardKeepsSetupsOfOneCellApart(t *testing.T) {
	row := func(key, task string, seed int64, score float64, edit func(*storage.ResultRow)) storage.ResultRow {
		r := storage.ResultRow{RunKey: key, Method: "pt", Label: "PT", Task: task, Benchmark: "GLUE", Seed: seed,
			Status: "ok", TestScore: score, MethodConfig: map[string]any{"length": 100, "lr": 0.3},
			Train: core.TrainOptions{Steps: 100, BatchSize: 16, Seed: seed}}
		r.Backbone.Name = "t5-base"
		if edit != nil {
			edit(&r)
		}
		return r
	}
	eps := func(r *storage.ResultRow) { r.Train.AdamEps = 1e-8 }
	bf16 := func(r *storage.ResultRow) { r.Numerics = &storage.Numerics{DType: "bfloat16"} }
	revised := func(r *storage.ResultRow) { r.TrainingRevision = 1 }
	steps := func(n int) func(*storage.ResultRow) { return func(r *storage.ResultRow) { r.Train.Steps = n } }
	lr := func(v float64) func(*storage.ResultRow) {
		return func(r *storage.ResultRow) {
			r.MethodConfig = map[string]any{"length": 100, "lr": v}
			r.Extra = map[string]any{"sweep": map[string]any{"pt.lr": v}, "sweep_index": 0}
		}
	}
	cases := []struct {
		name string
		rows []storage.ResultRow
		want string // label → rte cell "mean/n", sorted by label
	}{
		{"two seeds of one setup", []storage.ResultRow{row("a", "rte", 1, 60, nil), row("b", "rte", 2, 70, nil)},
			"PT: 65/2"},
		{"ε differs in one cell", []storage.ResultRow{row("a", "rte", 1, 60, nil), row("b", "rte", 1, 70, eps), row("c", "rte", 2, 80, eps)},
			"PT [adam_eps=1e-8]: 75/2; PT [adam_eps=default]: 60/1"},
		{"dtype differs in one cell", []storage.ResultRow{row("a", "rte", 1, 60, nil), row("b", "rte", 1, 70, bf16)},
			"PT [dtype=bfloat16]: 70/1; PT [dtype=default]: 60/1"},
		{"trained before and after a training revision", []storage.ResultRow{row("a", "rte", 1, 60, nil), row("b", "rte", 1, 70, revised)},
			"PT [training_revision=1]: 70/1; PT [training_revision=default]: 60/1"},
		{"steps differ by task only (the harness's budgets)", []storage.ResultRow{row("a", "rte", 1, 60, nil), row("b", "mnli", 1, 70, steps(300000))},
			"PT: 60/1"},
		{"a sweep chose another lr per seed", []storage.ResultRow{row("a", "rte", 1, 60, lr(0.3)), row("b", "rte", 2, 70, lr(0.5))},
			"PT: 65/2"},
		{"one seed twice under two keys, nothing recorded differs", []storage.ResultRow{row("a", "rte", 1, 60, nil), row("b", "rte", 1, 70, nil)},
			"PT: 65/2"},
	}
	for _, c := range cases {
		b := BuildBoard(c.rows)
		var got []string
		for _, r := range b.Rows {
			if cell, ok := r.Tasks["rte"]; ok {
				got = append(got, fmt.Sprintf("%s: %g/%d", r.Label, cell.Mean, cell.Seeds))
			}
		}
		sort.Strings(got)
		if strings.Join(got, "; ") != c.want {
			t.Errorf("%s: rows %q, want %q", c.name, strings.Join(got, "; "), c.want)
		}
		var md bytes.Buffer
		if err := RenderMarkdown(&md, b); err != nil {
			t.Fatal(err)
		}
		if split := strings.Contains(c.want, "["); split != strings.Contains(md.String(), "[setting=value] after a label") {
			t.Errorf("%s: the board's note on split setups is shown %v, want %v", c.name, !split, split)
		}
		same := strings.HasPrefix(c.name, "one seed twice")
		if note := strings.Contains(md.String(), "⚠ averaged over rows of the same seed from runs with different run keys"); note != same ||
			(same && !strings.Contains(md.String(), "PT on rte, seed 1 (2 rows)")) {
			t.Errorf("%s: the same-seed warning shown %v, want %v:\n%s", c.name, note, same, md.String())
		}
	}
}
