package benchmarks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/storage"
)

// otherMetrics collects, per task, the test metrics of a row that are not the task's table
// score (MRPC's and QQP's F1, CB's macro-F1, STS-B's Spearman, MultiRC's exact match), so the
// leaderboard can show them beside the score it ranks by.
type otherMetrics map[string]map[string][]float64 // task → metric → one value per seed

func (o otherMetrics) add(r storage.ResultRow) {
	if len(r.Test) <= 1 {
		return
	}
	primary := ""
	if t, err := core.NewTask(r.Task); err == nil && len(t.Metrics()) > 0 {
		primary = t.Metrics()[0]
	}
	for m, v := range r.Test {
		if m == primary {
			continue
		}
		if o[r.Task] == nil {
			o[r.Task] = map[string][]float64{}
		}
		o[r.Task][m] = append(o[r.Task][m], v)
	}
}

// means is the mean over seeds of each other metric of a task (nil when it has none).
func (o otherMetrics) means(task string) map[string]float64 {
	if len(o[task]) == 0 {
		return nil
	}
	out := map[string]float64{}
	for m, xs := range o[task] {
		out[m], _ = meanStd(xs)
	}
	return out
}

// formatOthers writes a cell's other metrics as " (F1 93.3)", sorted by name; "" for none.
func formatOthers(others map[string]float64) string {
	if len(others) == 0 {
		return ""
	}
	names := make([]string, 0, len(others))
	for m := range others {
		names = append(names, m)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, m := range names {
		parts[i] = fmt.Sprintf("%s %.1f", displayMetric(m), others[m])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
