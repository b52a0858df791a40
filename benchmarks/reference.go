package benchmarks

import (
	"fmt"
	"io"

	"github.com/ptbench/ptbench/core"
)

// paperRow is a published result (a method description's Published), shown beside the
// measured board so a reader can see how far a run is from the papers. nil = not published.
type paperRow struct {
	Method string // the registered method the numbers are for
	Label  string
	Scores map[string]*float64
	Note   string
}

func f(v float64) *float64 { return &v }

// referenceRows are the registered methods' published results, in method-name order (EPT's
// row has no per-task numbers: its paper published none).
func referenceRows() []paperRow {
	var out []paperRow
	for _, d := range core.Descriptions() {
		p := d.Published
		if p == nil {
			continue
		}
		r := paperRow{Method: d.Name, Label: p.Label, Scores: map[string]*float64{}, Note: p.Note}
		for t, v := range p.Scores {
			r.Scores[t] = f(v)
		}
		out = append(out, r)
	}
	return out
}

// publishedMetric is the metric each published number is, read from DePT's released
// checkpoints/<task>/test_results.json: MRPC 90.7 = test_accuracy 90.69 (test_f1 93.29), QQP
// 90.4 = test_accuracy 90.38 (test_f1 87.20), CB 92.9 = test_accuracy 92.86 (macro-F1 89.50),
// STS-B 90.8 = test_pearson 90.77, MultiRC 74.3 = test_f1 74.30 over answer options, CoLA 63.8 =
// Matthews 63.79; the rest are accuracy. Each equals the task's table score (its first metric),
// so Measured and Paper compare the same metric; a test holds the two lists together.
var publishedMetric = map[string]string{
	"mnli": "accuracy", "qqp": "accuracy", "qnli": "accuracy", "sst2": "accuracy", "stsb": "pearson", "mrpc": "accuracy",
	"rte": "accuracy", "cola": "matthews", "multirc": "f1a", "boolq": "accuracy", "wic": "accuracy", "wsc": "accuracy", "cb": "accuracy",
}

// RenderReference writes the papers' numbers for the board's tasks that have one (a task no
// paper reports gets no column).
func RenderReference(w io.Writer, tasks []string) error {
	rows := referenceRows()
	var known []string
	for _, t := range tasks {
		for _, r := range rows {
			if r.Scores[t] != nil {
				known = append(known, t)
				break
			}
		}
	}
	if len(known) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### Published reference (T5-Base; protocol and splits in benchmarks/experiments/README.md)")
	fmt.Fprintln(w)
	header := []any{"Method"}
	for _, t := range known {
		header = append(header, t)
	}
	header = append(header, "Note")
	return table(w, header, func(add func(...any)) {
		for _, r := range rows {
			line := []any{r.Label}
			for _, t := range known {
				if v := r.Scores[t]; v != nil {
					line = append(line, fmt.Sprintf("%.1f", *v))
				} else {
					line = append(line, "n/a")
				}
			}
			add(append(line, r.Note)...)
		}
	})
}

// Comparison is one measured leaderboard cell beside its published number.
type Comparison struct {
	Label     string   `json:"label"`
	Method    string   `json:"method"`
	Backbone  string   `json:"backbone"`
	Task      string   `json:"task"`
	Metric    string   `json:"metric"`    // what both numbers are: the task's table score, the published metric
	Measured  *float64 `json:"measured"`  // mean test score over seeds (nil: no finished run)
	Published *float64 `json:"published"` // nil: not published
	Delta     *float64 `json:"delta"`     // measured − published
	Source    string   `json:"source"`
}

// Compare pairs every board row of a method with published numbers (DePT) with the paper,
// task by task, where the paper published a number for the task (EPT published none per task).
func Compare(b Board) []Comparison {
	refs := referenceRows()
	var out []Comparison
	for _, r := range b.Rows {
		for _, ref := range refs {
			if ref.Method != r.Method {
				continue
			}
			for _, t := range b.Tasks {
				if ref.Scores[t] == nil {
					continue
				}
				c := Comparison{Label: r.Label, Method: r.Method, Backbone: r.Backbone, Task: t, Metric: publishedMetric[t], Source: ref.Label}
				if cell, ok := r.Tasks[t]; ok && cell.Seeds > 0 {
					c.Measured = f(cell.Mean)
				}
				c.Published = ref.Scores[t]
				if c.Measured != nil && c.Published != nil {
					c.Delta = f(*c.Measured - *c.Published)
				}
				out = append(out, c)
			}
		}
	}
	return out
}

// RenderComparison writes the measured-vs-published table (nothing if no board row has a
// published counterpart).
func RenderComparison(w io.Writer, b Board) error {
	cs := Compare(b)
	if len(cs) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### Measured vs published (test score; published = T5-Base with the full step budget)")
	fmt.Fprintln(w)
	if len(b.TestLimits) > 0 {
		fmt.Fprintf(w, "⚠ measured on the first %s test examples only (`--test-limit`): the published numbers are over the whole test split.\n\n", joinInts(b.TestLimits, " or "))
	}
	return table(w, []any{"Method", "Backbone", "Task", "Metric", "Measured", "Paper", "Δ", "Paper source"}, func(add func(...any)) {
		for _, c := range cs {
			delta := "n/a"
			if c.Delta != nil {
				delta = fmt.Sprintf("%+.1f", *c.Delta)
			}
			add(mdCell(c.Label), c.Backbone, c.Task, c.Metric, optional(c.Measured), optional(c.Published), delta, c.Source)
		}
	})
}
