package benchmarks

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/storage"
)

// Cell is mean ± std of a metric over seeds.
type Cell struct {
	Mean  float64 `json:"mean"`
	Std   float64 `json:"std"`
	Seeds int     `json:"seeds"`
	// Others: the task's other test metrics (F1 beside MRPC's accuracy, …), mean over seeds.
	Others map[string]float64 `json:"others,omitempty"`
	// InvalidShare is the mean share of test predictions that were not a valid answer
	// (counted as the reference code counts them, mostly as wrong); Flagged when it exceeds
	// BoardOptions.InvalidThreshold, so a low score is not read as a method's quality.
	InvalidShare float64 `json:"invalid_share,omitempty"`
	Flagged      bool    `json:"flagged_invalid,omitempty"`
	// Rank is 1 for the best mean of its column among the rows on the same backbone (bold in
	// markdown), 2 for the second (underlined), 0 otherwise; ties on the shown value share it.
	Rank int `json:"rank,omitempty"`
}

// DefaultInvalidThreshold is the invalid-prediction share above which a cell is flagged.
const DefaultInvalidThreshold = 0.10

// MethodRow is one leaderboard line.
type MethodRow struct {
	Method     string          `json:"method"`
	Label      string          `json:"label"`
	Backbone   string          `json:"backbone"`
	RandomInit bool            `json:"random_init,omitempty"` // a preset: released shape, random weights
	Tasks      map[string]Cell `json:"tasks"`
	// Averages are the row's values of the board's average columns (Board.Averages, by
	// name); a row lacking one of a column's tasks has none. AverageRanks rank them as Cell.Rank.
	Averages     map[string]float64 `json:"averages,omitempty"`
	AverageRanks map[string]int     `json:"average_ranks,omitempty"`
	// GLUEAvg and SuperGLUEAvg are the averages over a benchmark's complete task set only.
	GLUEAvg         *float64 `json:"glue_avg,omitempty"`
	SuperGLUEAvg    *float64 `json:"superglue_avg,omitempty"`
	TrainableParams int64    `json:"trainable_params"`
	// BackboneParams is the frozen backbone's parameter count, TrainableShare the trainable
	// parameters as a fraction of it (nil: the backbone's size was not recorded).
	BackboneParams int64    `json:"backbone_params,omitempty"`
	TrainableShare *float64 `json:"trainable_share,omitempty"`
	MeanStepSec    float64  `json:"mean_step_seconds"`
	MedianStepSec  float64  `json:"median_step_seconds"`
	PeakRSSBytes   int64    `json:"peak_rss_bytes"`
	TotalTrainSec  float64  `json:"total_train_seconds"`
	// SourceTrainSec is the training time of the source artefacts the method's runs used
	// (SPoT's source prompt, ATTEMPT's six, MPT's teachers and distillation), counted once.
	SourceTrainSec float64 `json:"source_train_seconds"`
	EvalSec        float64 `json:"eval_seconds"` // evaluation time of the method's runs (dev during training + test)
	Diverged       int     `json:"diverged"`
	Failed         int     `json:"failed"`
	// Padding is how the runs' batches were padded: "max" (every input to the max source
	// length, as DePT and EPT measured), "length-grouped", "dynamic", or "mixed".
	Padding string `json:"padding,omitempty"`
	// Packing is how the runs trained: "" every run alone, "packed ×N" every run in packs of N
	// (--pack: a step's time is the pack's divided by its runs), "mixed" otherwise.
	Packing string `json:"packing,omitempty"`
	// StepVsPT is MeanStepSec over PT's on the same backbone with the same padding and packing
	// (nil: no such PT row).
	StepVsPT *float64 `json:"step_vs_pt,omitempty"`
	// Sweep is the variant's settings: only in the unselected view (BoardOptions.NoSelect),
	// where every variant is its own row.
	Sweep map[string]any `json:"sweep,omitempty"`

	baseLabel string              // the label before a setup split ("": Label)
	splitKeys []string            // the settings the split label names
	setups    []map[string]string // each row's setup (setupOf), for comparing like with like
}

// SourceRow is one trained source artefact (its own run, reused by target runs).
type SourceRow struct {
	Artefact      string  `json:"artefact"`
	Label         string  `json:"label"`
	Tasks         string  `json:"tasks"`
	Backbone      string  `json:"backbone"`
	Status        string  `json:"status"`
	Steps         int     `json:"steps"`
	DevScore      float64 `json:"dev_score"`
	MeanStepSec   float64 `json:"mean_step_seconds"`
	TotalTrainSec float64 `json:"total_train_seconds"`
}

// Board is the leaderboard as data (`-o json`).
type Board struct {
	Tasks []string `json:"tasks"`
	// TaskMetrics name each task column's table score and the metrics shown beside it.
	TaskMetrics map[string]TaskMetric `json:"task_metrics,omitempty"`
	// Averages are the average columns: a benchmark's complete set ("GLUE avg"), else named
	// after the tasks they cover ("avg (rte, mrpc)").
	Averages []AverageColumn `json:"averages,omitempty"`
	// SplitProtocol is the footnote saying how the tasks were split (docs/protocol.md).
	SplitProtocol string      `json:"split_protocol,omitempty"`
	Rows          []MethodRow `json:"rows"`
	Sources       []SourceRow `json:"sources,omitempty"`
	// Selection names the variant chosen for every swept (method, task, seed): the rows'
	// scores are those variants' (selection.go). Empty when nothing was swept.
	Selection []SweepChoice `json:"sweep_selection,omitempty"`
	// SplitSetups are the labels of rows that runs of one method with different setups for
	// the same task and seed were split into (leaderboard_setups.go), instead of averaged as
	// seeds; empty when every cell holds one setup.
	SplitSetups []string `json:"split_setups,omitempty"`
	// SameSeedRows are cells averaged over rows of one seed that differ in nothing a row
	// records (other data or method revision: other run keys); empty when there are none.
	SameSeedRows []string `json:"same_seed_rows,omitempty"`
	// TestLimits are the --test-limit values of the board's rows above 0: their test scores
	// are over that many examples, not the split the protocol names (nil: every row scored
	// the whole test split).
	TestLimits []int `json:"test_limits,omitempty"`
	// Unselected: every sweep variant is its own row (BoardOptions.NoSelect).
	Unselected bool `json:"unselected,omitempty"`
	// InvalidThreshold is the invalid-prediction share above which a cell is flagged
	// (negative: flagging off).
	InvalidThreshold float64 `json:"invalid_threshold"`
}

// BoardOptions change how BuildBoardWith aggregates.
type BoardOptions struct {
	// NoSelect keeps every sweep variant as a row of its own (labelled with its settings)
	// instead of the best-dev variant per method, task and seed; Selection still says which
	// the selected view would keep.
	NoSelect bool
	// InvalidThreshold flags a cell whose mean invalid share of test predictions exceeds it
	// (0: DefaultInvalidThreshold; negative: never flag).
	InvalidThreshold float64
}

// isSource tells the rows of source artefacts (trained for reuse) from target runs.
func isSource(r storage.ResultRow) bool {
	return strings.HasPrefix(r.RunKey, "artefact.") || r.Extra["source"] == true
}

// usedArtefacts reads the artefact names a row's run used.
func usedArtefacts(r storage.ResultRow) []string {
	raw, _ := r.Extra["artefacts"].([]any)
	var out []string
	for _, v := range raw {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	if s, ok := r.Extra["artefacts"].([]string); ok { // rows not yet round-tripped through JSON
		out = append(out, s...)
	}
	return out
}

// BuildBoard aggregates rows: test score per (method, backbone, task) over seeds. Only the
// latest row of each run key counts (LatestPerKey): a retried run's earlier failures are
// history, and a run recorded twice is one seed, not two. Of swept runs only the best-dev
// variant per method, task and seed counts (SelectVariants).
func BuildBoard(rows []storage.ResultRow) Board { return BuildBoardWith(rows, BoardOptions{}) }

// BuildBoardWith is BuildBoard under the options.
func BuildBoardWith(rows []storage.ResultRow, o BoardOptions) Board {
	rows = adoptSweepVariants(LatestPerKey(rows))
	var b Board
	b.InvalidThreshold = o.InvalidThreshold
	if b.InvalidThreshold == 0 {
		b.InvalidThreshold = DefaultInvalidThreshold
	}
	// Setups apart first, so that a sweep run under two setups is selected within each
	// (leaderboard_setups.go).
	rows, made, split := splitSetups(rows)
	b.SplitSetups = made
	duplicateVariants := sameSeedVariants(rows) // before selection picks one of them
	selected, choices := SelectVariants(rows)
	b.Selection, b.Unselected = choices, o.NoSelect
	variantOf := map[string]string{} // --no-select: a variant's label → the label it was made from
	if o.NoSelect {
		labelled := labelVariants(rows)
		for i := range rows {
			if labelled[i].Label != rows[i].Label {
				variantOf[labelled[i].Label] = rows[i].Label
			}
		}
		rows = labelled
	} else {
		rows = selected
	}
	sourceRows := map[string]storage.ResultRow{}
	var targets []storage.ResultRow
	for _, r := range rows {
		if !isSource(r) {
			targets = append(targets, r)
			continue
		}
		name, _ := r.Extra["artefact"].(string)
		if name == "" {
			name = strings.TrimPrefix(r.RunKey, "artefact.")
		}
		sourceRows[name] = r
		b.Sources = append(b.Sources, SourceRow{Artefact: name, Label: r.Label, Tasks: r.Task, Backbone: r.Backbone.Name,
			Status: r.Status, Steps: r.Steps, DevScore: r.DevScore, MeanStepSec: r.MeanStepSec, TotalTrainSec: r.MeanStepSec * float64(r.Steps)})
	}
	// sourceCost adds the training time of an artefact and of everything it was built from.
	var sourceCost func(name string, seen map[string]bool) float64
	sourceCost = func(name string, seen map[string]bool) float64 {
		if seen[name] {
			return 0
		}
		seen[name] = true
		r, ok := sourceRows[name]
		if !ok {
			return 0
		}
		cost := r.MeanStepSec * float64(r.Steps)
		for _, dep := range usedArtefacts(r) {
			cost += sourceCost(dep, seen)
		}
		return cost
	}
	b.SameSeedRows = append(sameSeedRows(targets), duplicateVariants...)
	slices.Sort(b.SameSeedRows)
	for _, r := range targets {
		if n := r.Train.TestLimit; n > 0 && r.Status == "ok" && !slices.Contains(b.TestLimits, n) {
			b.TestLimits = append(b.TestLimits, n)
		}
	}
	slices.Sort(b.TestLimits)
	rows = targets
	type key struct{ method, label, backbone string }
	byKey := map[key][]storage.ResultRow{}
	var order []key
	taskSet := map[string]string{}
	recorded := map[string]map[string]bool{} // task → metric names its ok rows recorded
	for _, r := range rows {
		k := key{r.Method, r.Label, r.Backbone.Name}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], r)
		if r.Status == "ok" {
			taskSet[r.Task] = r.Benchmark
			if recorded[r.Task] == nil {
				recorded[r.Task] = map[string]bool{}
			}
			for m := range r.Test {
				recorded[r.Task][m] = true
			}
		}
	}
	for t := range taskSet {
		b.Tasks = append(b.Tasks, t)
	}
	sort.Slice(b.Tasks, func(i, j int) bool {
		bi, bj := benchOrder(taskSet[b.Tasks[i]]), benchOrder(taskSet[b.Tasks[j]])
		if bi != bj {
			return bi < bj
		}
		return b.Tasks[i] < b.Tasks[j]
	})
	b.TaskMetrics = map[string]TaskMetric{}
	for _, t := range b.Tasks {
		var names []string
		for m := range recorded[t] {
			names = append(names, m)
		}
		b.TaskMetrics[t] = taskMetric(t, names)
	}
	b.Averages = averageColumns(b.Tasks, taskSet)
	b.SplitProtocol = splitProtocol(b.Tasks)
	for _, k := range order {
		mr := MethodRow{Method: k.method, Label: k.label, Backbone: k.backbone, Tasks: map[string]Cell{}}
		label := k.label
		if from, ok := variantOf[label]; ok { // a variant compares as the row it was made from
			label, mr.baseLabel = from, from
		}
		if made, ok := split[label]; ok {
			mr.baseLabel, mr.splitKeys = made.base, made.keys
		}
		if o.NoSelect && len(byKey[k]) > 0 {
			mr.Sweep, _ = rowSweep(byKey[k][0])
		}
		perTask := map[string][]float64{}
		invalid := map[string][]float64{}
		others := otherMetrics{}
		var stepTimes, medians []float64
		var packs []string
		seenSources := map[string]bool{}
		seenRuns := map[string]bool{} // a multi-task run writes a row per task: count its time once
		for _, r := range byKey[k] {
			if r.Status == "ok" {
				mr.setups = append(mr.setups, setupOf(r)) // what the row's numbers come from
			}
			for _, name := range usedArtefacts(r) {
				mr.SourceTrainSec += sourceCost(name, seenSources)
			}
			switch r.Status {
			case "diverged":
				mr.Diverged++
				continue
			case "failed":
				mr.Failed++
				continue
			}
			perTask[r.Task] = append(perTask[r.Task], r.TestScore)
			if r.Invalid != nil && r.Invalid.TestTotal > 0 {
				invalid[r.Task] = append(invalid[r.Task], r.Invalid.TestShare())
			}
			mr.RandomInit = mr.RandomInit || r.Backbone.RandomInit
			others.add(r)
			mr.Padding = mergePadding(mr.Padding, padding(r.Train))
			packs = append(packs, packing(r))
			mr.TrainableParams = r.TrainableParams
			mr.BackboneParams = max(mr.BackboneParams, r.Backbone.NumParams)
			stepTimes = append(stepTimes, r.MeanStepSec)
			medians = append(medians, r.MedianStepSec)
			mr.PeakRSSBytes = max(mr.PeakRSSBytes, r.PeakRSSBytes)
			run, _ := r.Extra["run"].(string)
			if run == "" {
				run = r.RunKey
			}
			if !seenRuns[run] {
				seenRuns[run] = true
				mr.TotalTrainSec += r.MeanStepSec * float64(r.Steps)
				mr.EvalSec += r.EvalSeconds
			}
		}
		for t, xs := range perTask {
			m, s := meanStd(xs)
			c := Cell{Mean: m, Std: s, Seeds: len(xs), Others: others.means(t)}
			if shares := invalid[t]; len(shares) > 0 {
				c.InvalidShare, _ = meanStd(shares)
				c.Flagged = b.InvalidThreshold >= 0 && c.InvalidShare > b.InvalidThreshold
			}
			mr.Tasks[t] = c
		}
		for _, col := range b.Averages {
			v, ok := rowAverage(mr, col)
			if !ok {
				continue
			}
			if mr.Averages == nil {
				mr.Averages = map[string]float64{}
			}
			mr.Averages[col.Name] = v
			if col.Complete && col.Benchmark == "GLUE" {
				mr.GLUEAvg = &v
			} else if col.Complete && col.Benchmark == "SuperGLUE" {
				mr.SuperGLUEAvg = &v
			}
		}
		if share, ok := paramShare(mr.TrainableParams, mr.BackboneParams); ok {
			mr.TrainableShare = &share
		}
		mr.MeanStepSec, _ = meanStd(stepTimes)
		mr.MedianStepSec, _ = meanStd(medians)
		mr.Packing = mergePacking(packs)
		b.Rows = append(b.Rows, mr)
	}
	// A method's rows on one backbone stand together (its setups, its sweep variants), in
	// order of their first row.
	first := map[string]int{}
	group := func(r MethodRow) string { return r.Method + "\x00" + r.Backbone }
	for i, r := range b.Rows {
		if _, ok := first[group(r)]; !ok {
			first[group(r)] = i
		}
	}
	sort.SliceStable(b.Rows, func(i, j int) bool { return first[group(b.Rows[i])] < first[group(b.Rows[j])] })
	relativeToPT(b.Rows)
	rankBoard(&b)
	return b
}

// padding names how a run padded its batches.
func padding(o core.TrainOptions) string {
	switch {
	case o.PadToMax:
		return "max"
	case o.GroupByLength:
		return "length-grouped"
	}
	return "dynamic"
}

func mergePadding(have, next string) string {
	if have == "" || have == next {
		return next
	}
	return "mixed"
}

// packing names how a run trained: "packed ×N" in a pack of N runs (extra.pack), "" alone.
func packing(r storage.ResultRow) string {
	if n, ok := r.Extra["pack"].(float64); ok && n > 1 {
		return fmt.Sprintf("packed ×%d", int(n))
	}
	if n, ok := r.Extra["pack"].(int); ok && n > 1 {
		return fmt.Sprintf("packed ×%d", n)
	}
	return ""
}

// mergePacking is the runs' common packing, or "mixed".
func mergePacking(packs []string) string {
	for _, p := range packs[min(1, len(packs)):] {
		if p != packs[0] {
			return "mixed"
		}
	}
	if len(packs) == 0 {
		return ""
	}
	return packs[0]
}

// relativeToPT sets each row's step time relative to the baseline's (PT, the method whose
// description says Baseline) on the same backbone with the same padding and packing: the
// papers compare step times at one input length, and a packed run's step time is its pack's
// divided by the runs in it. Where setups were split, the baseline row must share the row's
// value of every setting either split names (bf16 EPT against bf16 PT), settings of the
// methods' own configs aside. Of several baseline rows, the one whose label suffix after the
// baseline's label (a grid's " (k=16)") the row's label shares, longest first; a tie between
// split baseline rows compares with none.
func relativeToPT(rows []MethodRow) {
	baseline := core.BaselineMethod()
	d, _ := core.Describe(baseline)
	sameSetup := func(a, b MethodRow) bool {
		// How the backbone computes is always compared (a bf16 PT is no baseline for an fp32
		// EPT); other settings where a split names them.
		always := []string{"numerics.dtype", "numerics.quant", "numerics.device", "numerics.forms", "train.training_revision"}
		for _, k := range append(append(always, a.splitKeys...), b.splitKeys...) {
			if strings.HasPrefix(k, "config.") || len(a.setups) == 0 || len(b.setups) == 0 {
				continue // a method's own settings; rows built without their setups (tests)
			}
			va, oka := sharedValue(a.setups, k)
			vb, okb := sharedValue(b.setups, k)
			if !oka || !okb || va != vb {
				return false
			}
		}
		return true
	}
	for i := range rows {
		best, tie := -1, false
		for j, pt := range rows {
			suffix, isPT := strings.CutPrefix(pt.unsplitLabel(), d.Label)
			if pt.Method != baseline || !isPT || pt.Backbone != rows[i].Backbone || pt.Padding != rows[i].Padding || pt.Packing != rows[i].Packing ||
				pt.MeanStepSec <= 0 || !strings.HasSuffix(rows[i].unsplitLabel(), suffix) || !sameSetup(rows[i], pt) {
				continue
			}
			if i == j {
				best, tie = j, false
				break
			}
			switch bestSuffix := strings.TrimPrefix(rows[max(best, 0)].unsplitLabel(), d.Label); {
			case best < 0 || len(suffix) > len(bestSuffix):
				best, tie = j, false
			case len(suffix) == len(bestSuffix) && (pt.Sweep == nil || rows[best].Sweep == nil || pt.Label == rows[best].Label):
				tie = true // two setups of PT: no one baseline (sweep variants of one PT are one)
			}
		}
		if best >= 0 && !tie && rows[i].MeanStepSec > 0 {
			v := rows[i].MeanStepSec / rows[best].MeanStepSec
			rows[i].StepVsPT = &v
		}
	}
}

// unsplitLabel is the row's label before a setup split.
func (r MethodRow) unsplitLabel() string {
	if r.baseLabel == "" {
		return r.Label
	}
	return r.baseLabel
}

// paperStepClaim is a method's paper's training-time claim against PT, shown beside the
// measured ratio (its description's Published.StepTime: EPT's "training time decreased by
// 14%", DePT's over 20% less time than PT); "" when its paper makes none.
func paperStepClaim(method string) string {
	if d, ok := core.Describe(method); ok && d.Published != nil {
		return d.Published.StepTime
	}
	return ""
}

func benchOrder(b string) int {
	switch b {
	case "GLUE":
		return 0
	case "SuperGLUE":
		return 1
	}
	return 2
}

// meanStd is the mean and sample standard deviation (0 for one value).
func meanStd(xs []float64) (float64, float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	m := s / float64(len(xs))
	if len(xs) == 1 {
		return m, 0
	}
	var v float64
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, math.Sqrt(v / float64(len(xs)-1))
}
