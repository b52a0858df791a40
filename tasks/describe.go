package tasks

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/ptbench/ptbench/core/data"
)

// maxListedTargets is how many distinct targets a split may have for Describe to list their
// counts; free-text tasks (SQuAD, ReCoRD) get only the number of distinct targets.
const maxListedTargets = 30

// Describe summarises a loaded dataset for `ptbench data -o json`: per split its size, the
// count of each target (or, for free-text targets, how many distinct ones), and the number of
// groups when examples are grouped (MultiRC questions); plus the rows skipped per file.
func Describe(t data.Task, ds *data.Dataset) map[string]any {
	splits := map[string]any{}
	for _, s := range []struct {
		name string
		exs  []data.Example
	}{{"train", ds.Train}, {"dev", ds.Dev}, {"test", ds.Test}} {
		counts := map[string]int{}
		groups := map[string]bool{}
		for _, ex := range s.exs {
			counts[ex.Target]++
			if ex.Group != "" {
				groups[ex.Group] = true
			}
		}
		d := map[string]any{"size": len(s.exs)}
		if len(counts) <= maxListedTargets {
			d["targets"] = counts
		} else {
			d["distinct_targets"] = len(counts)
		}
		if len(groups) > 0 {
			d["groups"] = len(groups)
		}
		splits[s.name] = d
	}
	skipped := map[string]int{}
	for file, n := range ds.Skipped {
		skipped[file] = n
	}
	d := map[string]any{
		"task":           t.Name(),
		"benchmark":      t.Benchmark(),
		"metrics":        t.Metrics(),
		"max_source_len": t.MaxSourceLen(),
		"splits":         splits,
		"skipped":        skipped,
	}
	// The table score is the metric leaderboards rank by and compare with published numbers;
	// the selection metric is what dev checkpoints are chosen by (they differ for CB).
	if ms := t.Metrics(); len(ms) > 0 {
		d["table_score"] = ms[0]
	}
	if st, ok := t.(data.SelectionMetricTask); ok {
		d["selection_metric"] = st.SelectionMetric()
	}
	return d
}

// ScoreFile scores a JSON-lines file of {"id": …, "prediction": …} against gold examples (a
// run's predictions files, which also carry "target", score as they are). Predictions may come
// in any order; a malformed line is an error naming file:line, and so is an id given twice or
// not among gold, or a "target" that is not the gold one (predictions of other data). Gold
// examples without a prediction are an error listing (the first few of) them.
func ScoreFile(t data.Task, gold []data.Example, predictionsJSONLPath string) (data.Scores, error) {
	want := make(map[string]int, len(gold))
	for i, g := range gold {
		want[g.ID] = i
	}
	preds := make([]string, len(gold))
	got := make([]bool, len(gold))
	err := readJSONL(predictionsJSONLPath, func(line int, raw []byte) error {
		var r struct {
			ID         *string `json:"id"`
			Prediction *string `json:"prediction"`
			Target     *string `json:"target"`
		}
		if err := decodeLine(raw, &r); err != nil {
			return err
		}
		switch {
		case r.ID == nil:
			return missingField("id")
		case r.Prediction == nil:
			return missingField("prediction")
		}
		i, ok := want[*r.ID]
		if !ok {
			return fmt.Errorf("id %q is not among the %d %s examples scored (predictions of another split — see --split — or beyond --limit, which must be the run's --test-limit or --eval-limit)", *r.ID, len(gold), t.Name())
		}
		if got[i] {
			return fmt.Errorf("id %q has a second prediction", *r.ID)
		}
		if r.Target != nil && *r.Target != gold[i].Target {
			return fmt.Errorf("id %q: target %q is not the split's %q (predictions made on other data?)", *r.ID, *r.Target, gold[i].Target)
		}
		got[i], preds[i] = true, *r.Prediction
		return nil
	})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("predictions file: %w", err)
		}
		return nil, err
	}
	var missing []string
	for i, ok := range got {
		if !ok {
			missing = append(missing, gold[i].ID)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		shown := missing[:min(5, len(missing))]
		return nil, fmt.Errorf("%s: %d of %d gold examples have no prediction (e.g. %s); a run with --test-limit/--eval-limit N predicted the first N: score with --limit N",
			predictionsJSONLPath, len(missing), len(gold), strings.Join(shown, ", "))
	}
	return t.Score(preds, gold)
}
