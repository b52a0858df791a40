package benchmarks

import (
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// RenderMarkdown writes the score table and the training-time/memory table, each with the
// footnotes a reader needs to read it (what a cell is, the averages, the split protocol).
func RenderMarkdown(w io.Writer, b Board) error {
	multiSeed, flagged, randomInit := false, false, false
	for _, r := range b.Rows {
		randomInit = randomInit || r.RandomInit
		for _, c := range r.Tasks {
			multiSeed = multiSeed || c.Seeds > 1
		}
	}
	if multiSeed {
		fmt.Fprintln(w, "### Test scores (mean ± std over seeds; best dev checkpoint)")
	} else {
		fmt.Fprintln(w, "### Test scores (one seed; best dev checkpoint)")
	}
	fmt.Fprintln(w)
	cols := []column{{header: "Method"}, {header: "Backbone"}}
	for _, t := range b.Tasks {
		cols = append(cols, column{header: columnHeader(t, b.TaskMetrics[t])})
	}
	for _, a := range b.Averages {
		cols = append(cols, column{header: a.Name})
	}
	cols = append(cols, column{header: "n"}, column{header: "Trainable params (share of backbone)"})
	for _, r := range b.Rows {
		lo, hi := seedRange(r)
		line := []string{mdCell(r.Label), backboneLabel(r)}
		for _, t := range b.Tasks {
			c, ok := r.Tasks[t]
			if !ok {
				line = append(line, "–")
				continue
			}
			cell := markRank(fmt.Sprintf("%.1f", c.Mean), c.Rank)
			if c.Seeds > 1 {
				cell += fmt.Sprintf(" ± %.1f", c.Std)
			}
			cell += formatOthers(c.Others)
			if c.Seeds < hi {
				cell += fmt.Sprintf(" (n=%d)", c.Seeds)
			}
			if c.Flagged {
				cell += fmt.Sprintf(" ⚠ %.0f%% invalid", 100*c.InvalidShare)
				flagged = true
			}
			line = append(line, cell)
		}
		for _, a := range b.Averages {
			if v, ok := r.Averages[a.Name]; ok {
				line = append(line, markRank(fmt.Sprintf("%.1f", v), r.AverageRanks[a.Name]))
			} else {
				line = append(line, "–")
			}
		}
		n := fmt.Sprint(hi)
		if lo != hi {
			n = fmt.Sprintf("%d–%d", lo, hi)
		}
		line = append(line, n, formatParams(r.TrainableParams, r.BackboneParams))
		addRow(cols, line)
	}
	if err := renderColumns(w, cols); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if multiSeed {
		fmt.Fprint(w, "- Cells: test score ×100, mean ± sample std over the row's n seeds (a cell over fewer seeds says n=…)")
	} else {
		fmt.Fprint(w, "- Cells: test score ×100 of one seed (no spread to show)")
	}
	if hasOthers(b) {
		fmt.Fprint(w, "; a task's first metric is the one ranked, averaged and compared with papers, the others follow in brackets")
	}
	fmt.Fprintln(w, ".")
	if ranked(b) {
		fmt.Fprintln(w, "- **Bold**: best of its column, <u>underlined</u>: second, among the rows on the same backbone (and k-shot size); equal shown values share a rank.")
	}
	for _, a := range b.Averages {
		if a.Complete {
			fmt.Fprintf(w, "- %s: mean over all %d %s tasks of the per-task means.\n", a.Name, len(a.Tasks), a.Benchmark)
		} else {
			fmt.Fprintf(w, "- %s: mean over these %d %s tasks only, not the %s average (all %d of its tasks); a row lacking one shows –.\n",
				a.Name, len(a.Tasks), a.Benchmark, a.Benchmark, len(benchmarkTaskSets[a.Benchmark]))
		}
	}
	if b.SplitProtocol != "" {
		fmt.Fprintln(w, "- "+b.SplitProtocol)
	}
	if len(b.TestLimits) > 0 {
		fmt.Fprintf(w, "- ⚠ test scores over the first %s test examples only (`--test-limit`), not the whole test split: not comparable with published numbers.\n", joinInts(b.TestLimits, " or "))
	}
	if len(b.SameSeedRows) > 0 {
		fmt.Fprintf(w, "- ⚠ averaged over rows of the same seed from runs with different run keys (other data, method revision or plugin binary, which rows do not record): %s. Their n counts rows, not seeds; results from before such a change belong in another folder.\n", strings.Join(b.SameSeedRows, "; "))
	}
	if len(b.SplitSetups) > 0 {
		fmt.Fprintln(w, "- [setting=value] after a label: this folder holds runs of the method in more than one setup for one task (another --dtype, --adam-eps, setting, training revision, …); each setup is a row of its own (on any task), never averaged with the others. \"swept\": the value a learning-rate sweep selected per seed; \"(unset)\": a row from before the setting was recorded. A per-task setting (a step budget, its warm-up, DePT's and EPT's max_len) names only the rows of the task where it differs.")
	}
	if flagged {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "⚠: more than %.0f%% of the runs' test predictions were not a valid answer (scored as the reference code scores them, mostly as wrong): the score says more about the output format than about the method (`leaderboard --invalid-threshold` sets the share).\n", 100*b.InvalidThreshold)
	}
	if randomInit {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "(random init): a preset backbone — the released model's shape with seeded random weights, not its trained checkpoint; its scores are not comparable with published numbers.")
	}
	if err := renderTimes(w, b); err != nil {
		return err
	}
	if err := renderSelection(w, b); err != nil {
		return err
	}
	if len(b.Sources) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### Source artefacts (trained once, reused by SPoT / ATTEMPT / MPT runs)")
	fmt.Fprintln(w)
	return table(w, []any{"Artefact", "Method", "Tasks", "Backbone", "Status", "Steps", "Dev score", "Mean step (s)", "Train (s)"},
		func(add func(...any)) {
			for _, s := range b.Sources {
				add(s.Artefact, s.Label, s.Tasks, s.Backbone, s.Status, fmt.Sprint(s.Steps), fmt.Sprintf("%.1f", s.DevScore),
					fmt.Sprintf("%.4f", s.MeanStepSec), fmt.Sprintf("%.1f", s.TotalTrainSec))
			}
		})
}

// hasOthers tells whether any task column has metrics beside its table score.
func hasOthers(b Board) bool {
	for _, m := range b.TaskMetrics {
		if len(m.Also) > 0 {
			return true
		}
	}
	return false
}

// ranked tells whether any cell or average of the board is marked best or second.
func ranked(b Board) bool {
	for _, r := range b.Rows {
		for _, c := range r.Tasks {
			if c.Rank > 0 {
				return true
			}
		}
		if len(r.AverageRanks) > 0 {
			return true
		}
	}
	return false
}

// seedRange is the fewest and most seeds of a row's cells.
func seedRange(r MethodRow) (lo, hi int) {
	for _, c := range r.Tasks {
		if lo == 0 || c.Seeds < lo {
			lo = c.Seeds
		}
		hi = max(hi, c.Seeds)
	}
	return lo, hi
}

// renderTimes writes the training-time and memory table: step times (relative to PT's when
// PT is on the board), the papers' time claims, totals and peak memory.
func renderTimes(w io.Writer, b Board) error {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### Training time and memory")
	fmt.Fprintln(w)
	cols := []column{{header: "Method"}, {header: "Backbone"}, {header: "Padding"}, {header: "Mean step (s)"}, {header: "Median step (s)"},
		{header: "Step time vs PT"}, {header: "Paper claim"}, {header: "Total train (s)"}, {header: "Eval (s)"}, {header: "Source train (s)"},
		{header: "Peak RSS (MiB)"}, {header: "Diverged"}, {header: "Failed"}}
	relative, packed := false, false
	for _, r := range b.Rows {
		vsPT := "n/a"
		if r.StepVsPT != nil {
			vsPT, relative = formatVsPT(*r.StepVsPT), true
		}
		claim := paperStepClaim(r.Method)
		if claim == "" {
			claim = "–"
		}
		pad := r.Padding
		if r.Packing != "" {
			pad, packed = pad+", "+r.Packing, true
		}
		addRow(cols, []string{mdCell(r.Label), backboneLabel(r), pad, fmt.Sprintf("%.4f", r.MeanStepSec), fmt.Sprintf("%.4f", r.MedianStepSec),
			vsPT, claim, fmt.Sprintf("%.1f", r.TotalTrainSec), secondsOrDash(r.EvalSec), secondsOrDash(r.SourceTrainSec),
			fmt.Sprintf("%.0f", float64(r.PeakRSSBytes)/(1<<20)), fmt.Sprint(r.Diverged), fmt.Sprint(r.Failed)})
	}
	if err := renderColumns(w, cols); err != nil {
		return err
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "- Step times: mean over the runs of each run's mean (and median) seconds per training step; peak RSS: the process's high-water mark at the end of a run (runs sharing a process include the ones before).")
	if relative {
		fmt.Fprintln(w, "- Step time vs PT: mean step time over PT's on the same backbone with the same padding and packing (0.86× PT = 14% faster).")
	}
	if packed {
		fmt.Fprintln(w, "- Packed runs (`--pack`; \"packed ×N\" beside the padding): a step's time is the pack's divided by the N runs in it, so it is compared only with PT packed alike; \"mixed\": some of the method's runs were packed, some alone.")
	}
	return nil
}

func secondsOrDash(s float64) string {
	if s == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", s)
}

// column is one table column being filled; renderColumns leaves out a column whose every
// cell is empty ("n/a" or "–"), so no column says nothing.
type column struct {
	header string
	cells  []string
}

func addRow(cols []column, line []string) {
	for i := range cols {
		cols[i].cells = append(cols[i].cells, line[i])
	}
}

func renderColumns(w io.Writer, cols []column) error {
	var keep []column
	for _, c := range cols {
		empty := len(c.cells) > 0
		for _, s := range c.cells {
			if s != "n/a" && s != "–" {
				empty = false
				break
			}
		}
		if !empty {
			keep = append(keep, c)
		}
	}
	header := make([]any, len(keep))
	for i, c := range keep {
		header[i] = c.header
	}
	return table(w, header, func(add func(...any)) {
		if len(keep) == 0 {
			return
		}
		for row := range keep[0].cells {
			line := make([]any, len(keep))
			for i, c := range keep {
				line[i] = c.cells[row]
			}
			add(line...)
		}
	})
}

// renderSelection writes which sweep variant each (method, task, seed) reports.
func renderSelection(w io.Writer, b Board) error {
	if len(b.Selection) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	if b.Unselected {
		fmt.Fprintln(w, "### Sweep: the variant the selected view reports (best dev score; ties: first in sweep order); above, every variant")
	} else {
		fmt.Fprintln(w, "### Sweep: selected variants (best dev score per method, task and seed; ties: first in sweep order)")
	}
	fmt.Fprintln(w)
	return table(w, []any{"Method", "Backbone", "Task", "Seed", "Selected settings", "Dev", "Variants finished"}, func(add func(...any)) {
		for _, c := range b.Selection {
			add(mdCell(c.Label), c.Backbone, c.Task, fmt.Sprint(c.Seed), mdCell(formatSettings(c.Settings)), fmt.Sprintf("%.1f", c.DevScore),
				fmt.Sprintf("%d of %d", c.Variants, c.Swept))
		}
	})
}

func optional(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", *v)
}

// table renders one markdown table with tablewriter.
func table(w io.Writer, header []any, fill func(add func(...any))) error {
	t := tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewMarkdown()),
		tablewriter.WithHeaderAutoFormat(tw.Off),
	)
	t.Header(header...)
	var err error
	fill(func(cells ...any) {
		if e := t.Append(cells...); e != nil && err == nil {
			err = e
		}
	})
	if err != nil {
		return err
	}
	return t.Render()
}

// backboneLabel is a row's backbone as a reader sees it: a preset is marked random init.
func backboneLabel(r MethodRow) string {
	if r.RandomInit {
		return r.Backbone + " (random init)"
	}
	return r.Backbone
}

// joinInts writes 20, 50 as "20 or 50".
func joinInts(xs []int, sep string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, sep)
}

// mdCell keeps a cell one cell: a label carries setting values ("[init_text=yes | no]"),
// which may hold a pipe; the table writer escapes backslashes, so the pipe becomes the HTML
// entity, which GitHub's markdown shows as a pipe.
func mdCell(s string) string { return strings.ReplaceAll(s, "|", "&#124;") }
