package benchmarks

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ptbench/ptbench/core"
)

// The facts a paper's table states beside the scores: which metric each column is, which
// averages are over a benchmark's full task set, which cell is best and second best, and how
// large the trainable part is against the backbone. BuildBoardWith fills them into the Board
// so markdown and `-o json` say the same.

// benchmarkTaskSets are the task sets the papers average over: DePT's and EPT's "GLUE avg" is
// over the eight GLUE tasks and "SuperGLUE avg" over the five SuperGLUE tasks of their tables
// (ReCoRD is a source task there, not a column). An average over fewer tasks is not the
// papers' number and is labelled with the tasks it covers instead.
var benchmarkTaskSets = map[string][]string{
	"GLUE":      {"mnli", "qqp", "qnli", "sst2", "stsb", "mrpc", "rte", "cola"},
	"SuperGLUE": {"multirc", "boolq", "wic", "wsc", "cb"},
}

// AverageColumn is one average column of the score table.
type AverageColumn struct {
	Name      string   `json:"name"`      // "GLUE avg" over the full set, else "avg (rte, mrpc)"
	Benchmark string   `json:"benchmark"` // GLUE or SuperGLUE
	Tasks     []string `json:"tasks"`     // the tasks averaged (a row lacking any of them has no value)
	Complete  bool     `json:"complete"`  // Tasks are the benchmark's full set
}

// averageColumns are the board's averages: per benchmark, over its tasks on the board, named
// "GLUE avg" when they are the full set, else after the tasks; none for a single task (its
// own column says it) or for tasks outside GLUE and SuperGLUE.
func averageColumns(tasks []string, bench map[string]string) []AverageColumn {
	var out []AverageColumn
	for _, which := range []string{"GLUE", "SuperGLUE"} {
		var covered []string
		for _, t := range tasks {
			if bench[t] == which {
				covered = append(covered, t)
			}
		}
		if len(covered) < 2 {
			continue
		}
		col := AverageColumn{Benchmark: which, Tasks: covered, Complete: coversAll(covered, benchmarkTaskSets[which])}
		col.Name = which + " avg"
		if !col.Complete {
			col.Name = "avg (" + strings.Join(covered, ", ") + ")"
		}
		out = append(out, col)
	}
	return out
}

func coversAll(have, want []string) bool {
	set := map[string]bool{}
	for _, t := range have {
		set[t] = true
	}
	for _, t := range want {
		if !set[t] {
			return false
		}
	}
	return len(want) > 0
}

// rowAverage is the mean of the row's cells over the column's tasks; false when the row lacks
// one of them (a mean over fewer tasks would be mislabelled).
func rowAverage(r MethodRow, col AverageColumn) (float64, bool) {
	var xs []float64
	for _, t := range col.Tasks {
		c, ok := r.Tasks[t]
		if !ok || c.Seeds == 0 {
			return 0, false
		}
		xs = append(xs, c.Mean)
	}
	m, _ := meanStd(xs)
	return m, true
}

// TaskMetric names what a task column shows: the table score it ranks by and the metrics
// shown beside it (MRPC: accuracy, then F1).
type TaskMetric struct {
	Score string   `json:"score"`
	Also  []string `json:"also,omitempty"`
}

// taskMetric reads a task's metrics from its registration; a task not registered in this
// process falls back to the metric names its rows recorded.
func taskMetric(task string, recorded []string) TaskMetric {
	if t, err := core.NewTask(task); err == nil && len(t.Metrics()) > 0 {
		ms := t.Metrics()
		return TaskMetric{Score: ms[0], Also: ms[1:]}
	}
	sort.Strings(recorded)
	if len(recorded) == 1 {
		return TaskMetric{Score: recorded[0]}
	}
	return TaskMetric{Score: "score", Also: recorded}
}

// metricDisplay is a metric's name as a paper's table header writes it.
var metricDisplay = map[string]string{
	"accuracy": "acc", "f1": "F1", "f1_macro": "macro-F1", "pearson": "Pearson", "spearman": "Spearman",
	"matthews": "MCC", "f1a": "F1a", "em": "EM",
}

func displayMetric(m string) string {
	if d, ok := metricDisplay[m]; ok {
		return d
	}
	return m
}

// columnHeader is a task column's header: "mrpc (acc; F1)", the table score first.
func columnHeader(task string, m TaskMetric) string {
	names := []string{displayMetric(m.Score)}
	for _, a := range m.Also {
		names = append(names, displayMetric(a))
	}
	return task + " (" + strings.Join(names, "; ") + ")"
}

// rankValues ranks values (higher is better) as they are shown, to one decimal: rank 1 is
// the best, rank 2 the next distinct shown value, 0 the rest; ties share a rank. present[i] false leaves
// i unranked (0). Nothing is ranked when fewer than two values are present.
func rankValues(values []float64, present []bool) []int {
	ranks := make([]int, len(values))
	var shown []float64
	for i, v := range values {
		if present[i] && !math.IsNaN(v) {
			shown = append(shown, math.Round(v*10))
		}
	}
	if len(shown) < 2 {
		return ranks
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(shown)))
	distinct := shown[:1]
	for _, v := range shown[1:] {
		if v != distinct[len(distinct)-1] {
			distinct = append(distinct, v)
		}
	}
	for i, v := range values {
		if !present[i] || math.IsNaN(v) {
			continue
		}
		r := math.Round(v * 10)
		for k, d := range distinct[:min(2, len(distinct))] {
			if r == d {
				ranks[i] = k + 1
				break
			}
		}
	}
	return ranks
}

// kShotSuffix is the label suffix a few-shot grid gives its rows (" (k=16)").
var kShotSuffix = regexp.MustCompile(` \(k=\d+\)$`)

// rankGroup is the set of rows a row's cells are ranked in: the same backbone, few-shot size,
// test subset (--test-limit) and training revision, so a 4-shot row is not marked worse than
// a 32-shot one, nor a score over 100 test examples better than one over the whole split.
func rankGroup(r MethodRow) string {
	g := r.Backbone + "\x00" + kShotSuffix.FindString(r.Label)
	for _, k := range []string{"data.k_shot", "train.test_limit", "train.training_revision"} {
		v, ok := sharedValue(r.setups, k)
		if !ok && len(r.setups) > 0 {
			v = "mixed"
		}
		g += "\x00" + v
	}
	return g
}

// rankBoard marks the best (rank 1) and second (rank 2) cell of every task and average
// column among the rows of a rank group: rows on different backbones or few-shot sizes are
// not compared.
func rankBoard(b *Board) {
	groups := map[string][]int{}
	var order []string
	for i, r := range b.Rows {
		g := rankGroup(r)
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], i)
	}
	for _, g := range order {
		idx := groups[g]
		values, present := make([]float64, len(idx)), make([]bool, len(idx))
		for _, t := range b.Tasks {
			for k, i := range idx {
				c, ok := b.Rows[i].Tasks[t]
				values[k], present[k] = c.Mean, ok && c.Seeds > 0
			}
			for k, rank := range rankValues(values, present) {
				if present[k] {
					c := b.Rows[idx[k]].Tasks[t]
					c.Rank = rank
					b.Rows[idx[k]].Tasks[t] = c
				}
			}
		}
		for _, col := range b.Averages {
			for k, i := range idx {
				values[k], present[k] = b.Rows[i].Averages[col.Name]
			}
			for k, rank := range rankValues(values, present) {
				if rank > 0 {
					r := &b.Rows[idx[k]]
					if r.AverageRanks == nil {
						r.AverageRanks = map[string]int{}
					}
					r.AverageRanks[col.Name] = rank
				}
			}
		}
	}
}

// markRank writes a shown value bold (rank 1) or underlined (rank 2); markdown has no
// underline, so it is HTML's <u>, which GitHub renders.
func markRank(s string, rank int) string {
	switch rank {
	case 1:
		return "**" + s + "**"
	case 2:
		return "<u>" + s + "</u>"
	}
	return s
}

// formatParams writes a trainable-parameter count with its share of the frozen backbone:
// "76.8K (0.035%)"; the count alone when the backbone's size is unknown.
func formatParams(n, backbone int64) string {
	s := shortCount(n)
	if share, ok := paramShare(n, backbone); ok {
		s += " (" + formatPercent(100*share) + ")"
	}
	return s
}

// paramShare is trainable over frozen backbone parameters (the papers' "% of T5-Base").
func paramShare(n, backbone int64) (float64, bool) {
	if backbone <= 0 || n < 0 {
		return 0, false
	}
	return float64(n) / float64(backbone), true
}

// shortCount writes a count as a paper's table does: 950, 76.8K, 1.2M, 3.0B.
func shortCount(n int64) string {
	v := float64(n)
	for _, u := range []struct {
		div    float64
		suffix string
	}{{1e9, "B"}, {1e6, "M"}, {1e3, "K"}} {
		if math.Abs(v) >= u.div {
			return strconv.FormatFloat(v/u.div, 'f', 1, 64) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// formatPercent keeps two significant digits below 1% (0.035%, 0.0012%) and one decimal
// above (2.9%, 100.0%).
func formatPercent(p float64) string {
	switch {
	case p == 0:
		return "0%"
	case p < 1:
		return strconv.FormatFloat(p, 'g', 2, 64) + "%"
	}
	return strconv.FormatFloat(p, 'f', 1, 64) + "%"
}

// formatVsPT writes a step time relative to PT's: "0.86× PT".
func formatVsPT(ratio float64) string {
	return fmt.Sprintf("%.2f× PT", ratio)
}

// splitRules are the split protocol of the tasks (docs/protocol.md, "Splits"), one short
// phrase per rule, and the tasks each applies to.
var splitRules = []struct {
	rule  string
	tasks []string
}{
	{"test = the second half of the official validation set (shuffled with torch.randperm, seed 42), dev = its first half",
		[]string{"cola", "rte", "mrpc", "stsb", "cb", "multirc", "wic", "wsc", "boolq"}},
	{"test = the official validation set, dev = 1,000 examples held out of the shuffled training set",
		[]string{"qqp", "qnli", "sst2", "squad", "record"}},
	{"test = validation_matched, dev = validation_mismatched", []string{"mnli"}},
}

// splitProtocol is the footnote line naming the split rule of each of the board's tasks
// (synthetic tasks: generated splits), pointing to docs/protocol.md.
func splitProtocol(tasks []string) string {
	var parts []string
	used := map[string]bool{}
	for _, r := range splitRules {
		var on []string
		for _, t := range tasks {
			for _, rt := range r.tasks {
				if t == rt {
					on = append(on, t)
					used[t] = true
				}
			}
		}
		if len(on) > 0 {
			parts = append(parts, strings.Join(on, ", ")+": "+r.rule)
		}
	}
	var generated []string
	for _, t := range tasks {
		if strings.HasPrefix(t, "syn-") {
			generated = append(generated, t)
			used[t] = true
		}
	}
	if len(generated) > 0 {
		parts = append(parts, strings.Join(generated, ", ")+": generated train, dev and test sets (seeded, disjoint streams)")
	}
	var other []string
	for _, t := range tasks {
		if !used[t] {
			other = append(other, t)
		}
	}
	if len(other) > 0 {
		parts = append(parts, strings.Join(other, ", ")+": the task's own splits (ptbench tasks)")
	}
	if len(parts) == 0 {
		return ""
	}
	return "Splits — " + strings.Join(parts, "; ") + ". Scores ×100 on test, at the checkpoint with the best dev score; see docs/protocol.md."
}
