package benchmarks

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/storage"
)

// Selection among sweep variants, as the papers report: for each (method, task, seed) the
// variant with the best primary dev score is kept and its test score is the one reported
// (ties: the first in sweep order). A multi-task run is one variant for all its tasks: it is
// selected on the mean of its tasks' dev scores, and all its rows stay or go together.
// Rows without a sweep pass through untouched.

// SweepChoice is the variant selected for one (method, task or task set, seed).
type SweepChoice struct {
	Method   string         `json:"method"`
	Label    string         `json:"label"`
	Backbone string         `json:"backbone"`
	Task     string         `json:"task"` // a multi-task run's tasks joined by "+"
	Seed     int64          `json:"seed"`
	Settings map[string]any `json:"settings"`
	RunKey   string         `json:"run_key"`
	// DevScore is the score the choice was made on (a multi-task run: the mean over its tasks).
	DevScore float64 `json:"dev_score"`
	// Variants is how many of the sweep's variants had finished (status ok) when selecting;
	// Swept how many had a row at all.
	Variants int `json:"variants"`
	Swept    int `json:"swept"`
}

// rowSweep reads a row's sweep settings and its place in the sweep order (nil: not swept).
func rowSweep(r storage.ResultRow) (map[string]any, int) {
	vals, _ := r.Extra["sweep"].(map[string]any)
	if len(vals) == 0 {
		return nil, 0
	}
	idx := 0
	switch x := r.Extra["sweep_index"].(type) {
	case float64: // read back from JSON
		idx = int(x)
	case int:
		idx = x
	}
	return vals, idx
}

// sweepRun is one swept run: its rows (one per task), settings and sweep index.
type sweepRun struct {
	rows     []storage.ResultRow
	settings map[string]any
	index    int
	first    int // position of its first row in the input (keeps the output in input order)
}

func (s sweepRun) ok() bool {
	for _, r := range s.rows {
		if r.Status != "ok" {
			return false
		}
	}
	return len(s.rows) > 0
}

func (s sweepRun) meanDev() float64 {
	var sum float64
	for _, r := range s.rows {
		sum += r.DevScore
	}
	return sum / float64(len(s.rows))
}

// SelectVariants keeps, of rows (latest per run key), the selected variant of every swept
// (method, label, backbone, task or task set, seed) and every unswept row, in input order,
// and returns the choices made. A group none of whose variants finished keeps its first
// variant in sweep order (so its failure or divergence is counted once).
func SelectVariants(rows []storage.ResultRow) ([]storage.ResultRow, []SweepChoice) {
	runs := map[string]*sweepRun{}
	var runOrder []string
	keep := make([]bool, len(rows))
	for i, r := range rows {
		vals, idx := rowSweep(r)
		if vals == nil || isSource(r) {
			keep[i] = true
			continue
		}
		id, _ := r.Extra["run"].(string) // a multi-task run's rows share it
		if id == "" {
			id = r.RunKey
		}
		s, ok := runs[id]
		if !ok {
			s = &sweepRun{settings: vals, index: idx, first: i}
			runs[id] = s
			runOrder = append(runOrder, id)
		}
		s.rows = append(s.rows, r)
	}
	type groupKey struct{ method, label, backbone, tasks string }
	type group struct {
		key   groupKey
		seed  int64
		runs  []*sweepRun
		first int
	}
	groups := map[string]*group{}
	var groupOrder []string
	for _, id := range runOrder {
		s := runs[id]
		r := s.rows[0]
		tasks := make([]string, len(s.rows))
		for i, row := range s.rows {
			tasks[i] = row.Task
		}
		sort.Strings(tasks)
		k := groupKey{r.Method, r.Label, r.Backbone.Name, strings.Join(tasks, "+")}
		gid := fmt.Sprintf("%q|%d", k, r.Seed)
		g, ok := groups[gid]
		if !ok {
			g = &group{key: k, seed: r.Seed, first: s.first}
			groups[gid] = g
			groupOrder = append(groupOrder, gid)
		}
		g.runs = append(g.runs, s)
	}
	chosen := map[*sweepRun]bool{}
	var choices []SweepChoice
	for _, gid := range groupOrder {
		g := groups[gid]
		sort.SliceStable(g.runs, func(a, b int) bool { return g.runs[a].index < g.runs[b].index })
		var best *sweepRun
		finished := 0
		for _, s := range g.runs {
			if !s.ok() {
				continue
			}
			finished++
			if best == nil || s.meanDev() > best.meanDev() { // strictly better: ties keep the earlier
				best = s
			}
		}
		if best == nil {
			chosen[g.runs[0]] = true
			continue
		}
		chosen[best] = true
		c := SweepChoice{Method: g.key.method, Label: g.key.label, Backbone: g.key.backbone, Task: g.key.tasks, Seed: g.seed,
			Settings: best.settings, RunKey: best.rows[0].RunKey, DevScore: best.meanDev(), Variants: finished, Swept: len(g.runs)}
		if len(best.rows) > 1 {
			if run, _ := best.rows[0].Extra["run"].(string); run != "" {
				c.RunKey = run
			}
		}
		choices = append(choices, c)
	}
	var out []storage.ResultRow
	for i, r := range rows {
		if keep[i] {
			out = append(out, r)
			continue
		}
		id, _ := r.Extra["run"].(string)
		if id == "" {
			id = r.RunKey
		}
		if chosen[runs[id]] {
			out = append(out, r)
		}
	}
	return out, choices
}

// adoptSweepVariants gives a plain row the sweep fields of the variant it is. A grid skips a
// sweep variant whose run key is already done, so a sweep resumed onto a folder that holds the
// same run unswept records no row for that variant, and the plain row would stand apart. A
// plain row is that variant when a swept row of its method, task and seed has the same setup
// but for the swept settings, and the plain row's values of those settings are values the
// sweep takes (the rows record every value of each axis, "sweep_takes"): same settings, same
// run. Its sweep index is the variant's elsewhere in the folder (ties in the selection keep
// sweep order), or after every other.
func adoptSweepVariants(rows []storage.ResultRow) []storage.ResultRow {
	type cell struct {
		method, label, backbone, task string
		seed                          int64
	}
	type axis struct{ method, label, backbone, key string }
	siblings := map[cell][]int{}
	takes := map[axis][]any{}   // the values each swept setting takes
	indexOf := map[string]int{} // method, label, backbone and variant → its sweep index
	variantKey := func(r storage.ResultRow, vals map[string]any) string {
		return r.Method + "\x00" + r.Label + "\x00" + r.Backbone.Name + "\x00" + formatSettings(vals)
	}
	for i, r := range rows {
		vals, idx := rowSweep(r)
		if vals == nil || isSource(r) {
			continue
		}
		c := cell{r.Method, r.Label, r.Backbone.Name, r.Task, r.Seed}
		siblings[c] = append(siblings[c], i)
		all, _ := r.Extra["sweep_takes"].(map[string]any) // every value of each axis, where recorded
		for k, v := range vals {
			a := axis{r.Method, r.Label, r.Backbone.Name, k}
			values := []any{v}
			switch list := all[k].(type) {
			case []any:
				values = append(values, list...)
			}
			for _, x := range values {
				if !slices.ContainsFunc(takes[a], func(y any) bool { return fmt.Sprint(x) == fmt.Sprint(y) }) {
					takes[a] = append(takes[a], x)
				}
			}
		}
		indexOf[variantKey(r, vals)] = idx
	}
	if len(siblings) == 0 {
		return rows
	}
	out := rows
	for i, r := range rows {
		if vals, _ := rowSweep(r); vals != nil || isSource(r) {
			continue
		}
		sibs := siblings[cell{r.Method, r.Label, r.Backbone.Name, r.Task, r.Seed}]
		if len(sibs) == 0 {
			continue
		}
		sib := rows[sibs[0]]
		sibVals, _ := rowSweep(sib)
		mine := map[string]any{}
		plain, other := setupOf(r), setupOf(sib)
		for k := range sibVals {
			name := strings.TrimPrefix(k, r.Method+".")
			if canonical, ok := core.CanonicalSetting(r.Method, name); ok {
				name = canonical
			}
			v, ok := plain["config."+name]
			if !ok {
				mine = nil
				break
			}
			var x any
			if json.Unmarshal([]byte(v), &x) != nil || !slices.ContainsFunc(takes[axis{r.Method, r.Label, r.Backbone.Name, k}], func(t any) bool { return fmt.Sprint(t) == fmt.Sprint(x) }) {
				mine = nil
				break
			}
			mine[k] = x
			delete(plain, "config."+name)
			delete(other, "config."+name)
		}
		if mine == nil || !maps.Equal(plain, other) {
			continue
		}
		idx, ok := indexOf[variantKey(r, mine)]
		if !ok {
			idx = math.MaxInt32 // unknown place in the sweep: after every variant seen
		}
		if &out[0] == &rows[0] {
			out = slices.Clone(rows)
		}
		extra := maps.Clone(r.Extra)
		if extra == nil {
			extra = map[string]any{}
		}
		extra["sweep"], extra["sweep_index"] = mine, idx
		out[i].Extra = extra
	}
	return out
}

// labelVariants names every swept row's variant in its label ("PT [pt.lr=0.3]"), so the
// unselected view (--no-select) shows each variant as a row of its own.
func labelVariants(rows []storage.ResultRow) []storage.ResultRow {
	out := make([]storage.ResultRow, len(rows))
	for i, r := range rows {
		if vals, _ := rowSweep(r); vals != nil && !isSource(r) {
			r.Label = withLabelSuffix(r.Label, " ["+formatSettings(vals)+"]")
		}
		out[i] = r
	}
	return out
}

// formatSettings writes settings sorted by key: "ept.lowrank_lr=0.0001 ept.prompt_lr=0.3".
func formatSettings(vals map[string]any) string {
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, vals[k])
	}
	return strings.Join(parts, " ")
}
