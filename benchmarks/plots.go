// Plots: `ptbench plot DIR` draws a results folder's figures into DIR/plots, each as PNG and
// SVG, with gonum.org/v1/plot, from the latest row of each run key in DIR/results.jsonl
// (source-artefact rows left out). The figures:
//
//   - score-vs-params: EPT's Figure 1 style. One labelled point per method (per method and
//     backbone when the folder holds several backbones): x is its trainable parameters on a
//     log scale, y its mean test score — the mean over the tasks it has ok runs for of the
//     mean over seeds (a method missing some of the board's tasks says "k/n tasks" in its
//     label) — with a whisker from its lowest to its highest seed, each seed averaged over
//     the tasks (seeds that ran them all). The Pareto front — the best score reachable with
//     at most that many trainable parameters — is drawn as a red step line ending at its
//     last point, its points ringed in red. Methods with no trainable parameters cannot sit
//     on a log axis and are left out (with a warning). The score axis spans at least 10
//     points, so equal scores sit mid-axis and read as equal.
//   - step-time: one bar per method, the mean over its runs of a run's mean training-step
//     seconds; the whisker spans the fastest to the slowest run (seeds, tasks).
//   - step-time-vs-pt: the same relative to PT's mean step on the same backbone with the same
//     padding and packing (the leaderboard's "× PT"), a dashed line at PT = 1×; only when PT ran.
//   - peak-memory: the same for the process's peak resident memory (VmHWM, MiB) at the end of
//     each run. It is the process's high-water mark: runs of one `ptbench run` grid share a
//     process, so a run's value includes the runs before it in that process.
//   - loss-curves-<task>: one line per method, the mean over its seeds of the training loss
//     over windows of steps (the rows' curves.loss, at most 200 points a run), with a band
//     from the lowest to the highest seed. A multi-task run's shared loss appears in each of
//     its tasks' figures.
//   - dev-curves-<task>: the same for the task's primary dev score at every dev evaluation
//     (the rows' curves.dev); the best-dev checkpoint is the one tested.
//
// Only ok rows count for scores, times, memory and the curves' means; diverged and failed
// runs that recorded curves are drawn on their own (dotted, named in the legend), leaving
// out non-finite points. Rows written before curves were recorded have none and are left out
// of the curve figures.

package benchmarks

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/ptbench/ptbench/core/storage"
)

// PlotsDir is the subfolder of a results folder that holds the figures.
const PlotsDir = "plots"

// plotFigures are the figures' base names, in the order the leaderboard lists them.
var plotFigures = []string{"score-vs-params", "step-time", "step-time-vs-pt", "peak-memory", "loss-curves", "dev-curves"}

// PlotReport says what WritePlots wrote.
type PlotReport struct {
	Files    []string `json:"files"`              // written files, DIR/plots/<name>[-<task>].{png,svg}
	Warnings []string `json:"warnings,omitempty"` // what was left out, and why
}

// plotSeries is one method (per backbone when several) with its ok runs.
type plotSeries struct {
	name string
	rows []storage.ResultRow // ok rows
}

// WritePlots reads dir/results.jsonl and writes the figures (see the top of this file) into
// dir/plots, replacing figures an earlier call wrote that no longer apply.
func WritePlots(dir string) (PlotReport, error) {
	var rep PlotReport
	path := filepath.Join(dir, storage.ResultsFile)
	if _, err := os.Stat(path); err != nil {
		if os.IsNotExist(err) {
			return rep, fmt.Errorf("%s: no such file (is %s a results folder of `ptbench run`?)", path, dir)
		}
		return rep, err
	}
	rows, torn, err := storage.ReadResultsLenient(path)
	if err != nil {
		return rep, err
	}
	if torn != nil {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s: skipped a last line cut short (%d bytes)", path, len(torn)))
	}
	var targets []storage.ResultRow
	// As the leaderboard: setups apart, and of a sweep the variants it reports.
	split, _, _ := splitSetups(adoptSweepVariants(LatestPerKey(rows)))
	selected, _ := SelectVariants(split)
	for _, r := range selected {
		if !isSource(r) {
			targets = append(targets, r)
		}
	}
	series, tasks := groupSeries(targets)
	if len(series) == 0 {
		return rep, fmt.Errorf("%s: no run with status ok (%d rows), nothing to plot", path, len(rows))
	}
	out := filepath.Join(dir, PlotsDir)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return rep, err
	}
	var figs []figure
	p, warn, err := scoreVsParams(series, tasks)
	if err != nil {
		return rep, err
	}
	rep.Warnings = append(rep.Warnings, warn...)
	if p != nil {
		figs = append(figs, figure{name: "score-vs-params", p: p, w: 20 * vg.Centimeter, h: 12 * vg.Centimeter, legendOutside: true})
	}
	barW := vg.Length(max(14, 2.2*float64(len(series))+6)) * vg.Centimeter
	for _, m := range []struct {
		name, title, unit string
		value             func(storage.ResultRow) float64
	}{
		{"step-time", "Training step time per method\nbar: mean over runs; whisker: fastest to slowest run", "seconds per step",
			func(r storage.ResultRow) float64 { return r.MeanStepSec }},
		{"peak-memory", "Peak memory per method\nbar: mean over runs; whisker: min–max", "peak RSS of the process (MiB)",
			func(r storage.ResultRow) float64 { return float64(r.PeakRSSBytes) / (1 << 20) }},
	} {
		p, err := barsWithWhiskers(series, m.title, m.unit, m.value, nil)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", m.name, err)
		}
		figs = append(figs, figure{name: m.name, p: p, w: barW, h: 11 * vg.Centimeter})
		if m.name != "step-time" {
			continue
		}
		rel, err := stepVsPTFigure(series, BuildBoard(rows))
		if err != nil {
			return rep, fmt.Errorf("step-time-vs-pt: %w", err)
		}
		if rel != nil {
			figs = append(figs, figure{name: "step-time-vs-pt", p: rel, w: barW, h: 11 * vg.Centimeter})
		}
	}
	for _, kind := range []string{"loss", "dev"} {
		for _, task := range curveTasks(targets) {
			p, lines, err := curvesFigure(targets, task, kind)
			if err != nil {
				return rep, fmt.Errorf("%s curves of %s: %w", kind, task, err)
			}
			if p != nil {
				// The legend (a line per run) goes right of the plot; the figure grows
				// with it.
				h := vg.Length(max(11, 0.5*float64(lines)+2.5)) * vg.Centimeter
				figs = append(figs, figure{name: kind + "-curves-" + fileSafe(task), p: p, w: 20 * vg.Centimeter, h: h, legendOutside: true})
			}
		}
	}
	keep := map[string]bool{}
	for _, f := range figs {
		for _, ext := range []string{".png", ".svg"} {
			file := filepath.Join(out, f.name+ext)
			if err := savePlot(f, file); err != nil {
				return rep, fmt.Errorf("%s: %w", file, err)
			}
			rep.Files = append(rep.Files, file)
			keep[f.name+ext] = true
		}
	}
	// Figures an earlier call wrote for runs or tasks no longer there would be linked stale.
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if _, ok := plotFigure(e.Name()); ok && !keep[e.Name()] {
			os.Remove(filepath.Join(out, e.Name()))
		}
	}
	return rep, nil
}

// figure is one plot to save, at its size.
type figure struct {
	name          string
	p             *plot.Plot
	w, h          vg.Length
	legendOutside bool // draw the legend in a strip right of the plot
}

// groupSeries gathers the ok rows by method label (and backbone when there are several) in
// order of first appearance, and lists the tasks with ok rows.
func groupSeries(rows []storage.ResultRow) ([]plotSeries, []string) {
	backbones := map[string]bool{}
	for _, r := range rows {
		if r.Status == "ok" {
			backbones[r.Backbone.Name] = true
		}
	}
	var series []plotSeries
	at := map[string]int{}
	taskSet := map[string]bool{}
	var tasks []string
	for _, r := range rows {
		if r.Status != "ok" {
			continue
		}
		name := methodName(r, len(backbones) > 1)
		i, ok := at[name]
		if !ok {
			i = len(series)
			at[name] = i
			series = append(series, plotSeries{name: name})
		}
		series[i].rows = append(series[i].rows, r)
		if !taskSet[r.Task] {
			taskSet[r.Task] = true
			tasks = append(tasks, r.Task)
		}
	}
	sort.Strings(tasks)
	return series, tasks
}

func methodName(r storage.ResultRow, withBackbone bool) string {
	name := r.Label
	if name == "" {
		name = r.Method
	}
	if withBackbone && r.Backbone.Name != "" {
		name += " (" + r.Backbone.Name + ")"
	}
	return name
}

// savePlot renders f to file (PNG at 150 dpi or SVG, by extension) atomically.
func savePlot(f figure, file string) error {
	var wt io.WriterTo
	var c vg.CanvasSizer
	switch filepath.Ext(file) {
	case ".png":
		png := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(f.w, f.h), vgimg.UseDPI(150))}
		c, wt = png, png
	case ".svg":
		svg := vgsvg.New(f.w, f.h)
		c, wt = svg, svg
	default:
		return fmt.Errorf("unknown plot format %q", filepath.Ext(file))
	}
	// A white background over the whole canvas: an SVG's margin and legend strip would
	// otherwise be transparent.
	full := draw.New(c)
	full.FillPolygon(color.White, []vg.Point{full.Min, {X: full.Max.X, Y: full.Min.Y}, full.Max, {X: full.Min.X, Y: full.Max.Y}})
	pad := vg.Points(6) // a margin, so the title does not touch the edge
	dc := draw.Crop(full, pad, -pad, pad, -pad)
	if f.legendOutside {
		legend := f.p.Legend
		f.p.Legend = plot.NewLegend()
		legend.Top, legend.Left = true, true
		legend.Padding = vg.Points(2) // room between entries: a line per entry without overlap
		strip := legend.Rectangle(dc).Size().X + vg.Points(12)
		f.p.Draw(draw.Crop(dc, 0, -strip, 0, 0))
		legend.Draw(draw.Crop(dc, dc.Max.X-dc.Min.X-strip+vg.Points(6), 0, 0, -vg.Points(20)))
		f.p.Legend = legend
	} else {
		f.p.Draw(dc)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return err
	}
	return storage.WriteFileAtomic(file, buf.Bytes())
}

// fileSafe makes a task name usable in a file name.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

// plotFigure tells whether name is one of WritePlots' files, and its figure's rank.
func plotFigure(name string) (int, bool) {
	ext := filepath.Ext(name)
	if ext != ".png" && ext != ".svg" {
		return 0, false
	}
	base := strings.TrimSuffix(name, ext)
	for i, f := range plotFigures {
		if base == f || (strings.HasSuffix(f, "-curves") && strings.HasPrefix(base, f+"-")) {
			return i, true
		}
	}
	return 0, false
}

// PlotLinks lists the PNG figures in dir/plots (paths relative to dir, slash-separated), in
// figure order then by name; nil when there are none.
func PlotLinks(dir string) []string {
	entries, err := os.ReadDir(filepath.Join(dir, PlotsDir))
	if err != nil {
		return nil
	}
	type fig struct {
		rank int
		name string
	}
	var figs []fig
	for _, e := range entries {
		if rank, ok := plotFigure(e.Name()); ok && filepath.Ext(e.Name()) == ".png" && e.Type().IsRegular() {
			figs = append(figs, fig{rank, e.Name()})
		}
	}
	sort.Slice(figs, func(i, j int) bool {
		if figs[i].rank != figs[j].rank {
			return figs[i].rank < figs[j].rank
		}
		return figs[i].name < figs[j].name
	})
	var out []string
	for _, f := range figs {
		out = append(out, PlotsDir+"/"+f.name)
	}
	return out
}

// RenderPlotLinks writes the leaderboard's "Plots" section: an image link per figure in
// dir/plots (relative paths, so leaderboard.md shows them where it lies), with its SVG
// beside it. It writes nothing when there are no figures.
func RenderPlotLinks(w io.Writer, dir string) error {
	links := PlotLinks(dir)
	if len(links) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("\n### Plots (`ptbench plot`)\n\n")
	for _, l := range links {
		name := strings.TrimSuffix(strings.TrimPrefix(l, PlotsDir+"/"), ".png")
		svg := strings.TrimSuffix(l, ".png") + ".svg"
		fmt.Fprintf(&b, "**%s**", name)
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(svg))); err == nil {
			fmt.Fprintf(&b, " ([SVG](%s))", svg)
		}
		fmt.Fprintf(&b, "\n\n![%s](%s)\n\n", name, l)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
