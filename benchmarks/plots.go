// Plots: `ptbench plot DIR` draws a results folder's figures into DIR/plots, each as PNG and
// SVG, with gonum.org/v1/plot, from the latest row of each run key in DIR/results.jsonl
// (source-artefact rows left out). The figures:
//
//   - score-vs-params: EPT's Figure 1 style. One labelled point per method (per method and
//     backbone when the folder holds several backbones): x is its trainable parameters on a
//     log scale, y its mean test score — the mean over the tasks it has ok runs for of the
//     mean over seeds (a method missing some of the board's tasks says "k/n tasks" in its
//     label). The Pareto front — the best score reachable with at most that many trainable
//     parameters — is drawn as a red step line and its points are ringed in red. Methods
//     with no trainable parameters cannot sit on a log axis and are left out (with a warning).
//   - step-time: one bar per method, the mean over its runs of a run's mean training-step
//     seconds; the whisker spans the fastest to the slowest run (seeds, tasks).
//   - peak-memory: the same for the process's peak resident memory (VmHWM, MiB) at the end of
//     each run. It is the process's high-water mark: runs of one `ptbench run` grid share a
//     process, so a run's value includes the runs before it in that process.
//   - loss-curves-<task>: one line per run (method, seed) of that task: the mean training
//     loss over windows of steps (the rows' curves.loss, at most 200 points a run). A
//     multi-task run's shared loss appears in each of its tasks' figures.
//   - dev-curves-<task>: one line per run of that task's primary dev score at every dev
//     evaluation (the rows' curves.dev); the best-dev checkpoint is the one tested.
//
// Only ok rows count for scores, times and memory; the curve figures also draw diverged and
// failed runs that recorded curves (marked so in the legend), leaving out non-finite points.
// Rows written before curves were recorded have none and are left out of the curve figures.

package benchmarks

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/ptbench/ptbench/core"
)

// PlotsDir is the subfolder of a results folder that holds the figures.
const PlotsDir = "plots"

// plotFigures are the figures' base names, in the order the leaderboard lists them.
var plotFigures = []string{"score-vs-params", "step-time", "peak-memory", "loss-curves", "dev-curves"}

// PlotReport says what WritePlots wrote.
type PlotReport struct {
	Files    []string `json:"files"`              // written files, DIR/plots/<name>[-<task>].{png,svg}
	Warnings []string `json:"warnings,omitempty"` // what was left out, and why
}

// ParetoPoint is one method's position in the score-vs-parameters plane.
type ParetoPoint struct {
	Params float64
	Score  float64
}

// ParetoFront returns the indices of the points on the front of "highest score for at most
// this many parameters", ordered by parameters: a point is on it when every point with no
// more parameters scores lower. Of identical points only the first is on it; points with a
// NaN coordinate never are.
func ParetoFront(pts []ParetoPoint) []int {
	var idx []int
	for i, p := range pts {
		if !math.IsNaN(p.Params) && !math.IsNaN(p.Score) {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool {
		pa, pb := pts[idx[a]], pts[idx[b]]
		if pa.Params != pb.Params {
			return pa.Params < pb.Params
		}
		return pa.Score > pb.Score
	})
	var front []int
	best := math.Inf(-1)
	for _, i := range idx {
		if pts[i].Score > best {
			front = append(front, i)
			best = pts[i].Score
		}
	}
	return front
}

// plotSeries is one method (per backbone when several) with its ok runs.
type plotSeries struct {
	name string
	rows []core.ResultRow // ok rows
}

// WritePlots reads dir/results.jsonl and writes the figures (see the top of this file) into
// dir/plots, replacing figures an earlier call wrote that no longer apply.
func WritePlots(dir string) (PlotReport, error) {
	var rep PlotReport
	path := filepath.Join(dir, core.ResultsFile)
	if _, err := os.Stat(path); err != nil {
		if os.IsNotExist(err) {
			return rep, fmt.Errorf("%s: no such file (is %s a results folder of `ptbench run`?)", path, dir)
		}
		return rep, err
	}
	rows, torn, err := core.ReadResultsLenient(path)
	if err != nil {
		return rep, err
	}
	if torn != nil {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s: skipped a last line cut short (%d bytes)", path, len(torn)))
	}
	var targets []core.ResultRow
	for _, r := range LatestPerKey(rows) {
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
		value             func(core.ResultRow) float64
	}{
		{"step-time", "Training step time per method (bar: mean over runs; whisker: min–max)", "seconds per step",
			func(r core.ResultRow) float64 { return r.MeanStepSec }},
		{"peak-memory", "Peak memory per method (bar: mean over runs; whisker: min–max)", "peak RSS of the process (MiB)",
			func(r core.ResultRow) float64 { return float64(r.PeakRSSBytes) / (1 << 20) }},
	} {
		p, err := barsWithWhiskers(series, m.title, m.unit, m.value)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", m.name, err)
		}
		figs = append(figs, figure{name: m.name, p: p, w: barW, h: 11 * vg.Centimeter})
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
func groupSeries(rows []core.ResultRow) ([]plotSeries, []string) {
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

func methodName(r core.ResultRow, withBackbone bool) string {
	name := r.Label
	if name == "" {
		name = r.Method
	}
	if withBackbone && r.Backbone.Name != "" {
		name += " (" + r.Backbone.Name + ")"
	}
	return name
}

// scoreVsParams draws the score-vs-trainable-parameters figure; nil when no method has
// trainable parameters.
func scoreVsParams(series []plotSeries, tasks []string) (*plot.Plot, []string, error) {
	var warn []string
	var pts []ParetoPoint
	var names []string
	for _, s := range series {
		perTask := map[string][]float64{}
		var params int64
		for _, r := range s.rows {
			perTask[r.Task] = append(perTask[r.Task], r.TestScore)
			params = max(params, r.TrainableParams)
		}
		if params <= 0 {
			warn = append(warn, fmt.Sprintf("score-vs-params: %s left out (no trainable parameters, not on a log axis)", s.name))
			continue
		}
		var means []float64
		for _, xs := range perTask {
			m, _ := meanStd(xs)
			means = append(means, m)
		}
		score, _ := meanStd(means)
		if math.IsNaN(score) || math.IsInf(score, 0) {
			warn = append(warn, fmt.Sprintf("score-vs-params: %s left out (its mean test score is not a number)", s.name))
			continue
		}
		name := s.name
		if len(perTask) < len(tasks) {
			name = fmt.Sprintf("%s (%d/%d tasks)", name, len(perTask), len(tasks))
		}
		pts = append(pts, ParetoPoint{Params: float64(params), Score: score})
		names = append(names, name)
	}
	if len(pts) == 0 {
		return nil, warn, nil
	}
	p := plot.New()
	p.Title.Text = "Test score vs trainable parameters (" + strings.Join(tasks, ", ") + "); red: Pareto front"
	if len(tasks) > 4 {
		p.Title.Text = fmt.Sprintf("Test score vs trainable parameters (mean over %d tasks); red: Pareto front", len(tasks))
	}
	p.X.Label.Text = "trainable parameters (log scale)"
	p.Y.Label.Text = "mean test score (over tasks and seeds)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = countLogTicks{}
	p.Add(plotter.NewGrid())

	xys := make(plotter.XYs, len(pts))
	labels := make([]string, len(pts))
	minX, maxX := math.Inf(1), math.Inf(-1)
	minY, maxY := math.Inf(1), math.Inf(-1)
	for i, pt := range pts {
		xys[i] = plotter.XY{X: pt.Params, Y: pt.Score}
		labels[i] = names[i]
		minX, maxX = math.Min(minX, pt.Params), math.Max(maxX, pt.Params)
		minY, maxY = math.Min(minY, pt.Score), math.Max(maxY, pt.Score)
	}
	// Pad the axes: a factor 3 on the log axis leaves room for the labels right of the
	// points; a single point or equal scores still get a range.
	p.X.Min, p.X.Max = minX/3, maxX*3
	padY := math.Max((maxY-minY)*0.12, 1)
	p.Y.Min, p.Y.Max = minY-padY, maxY+padY

	front := ParetoFront(pts)
	frontXYs := make(plotter.XYs, 0, len(front)+1)
	for _, i := range front {
		frontXYs = append(frontXYs, xys[i])
	}
	stepXYs := append(plotter.XYs{}, frontXYs...)
	if last := stepXYs[len(stepXYs)-1]; last.X < p.X.Max {
		stepXYs = append(stepXYs, plotter.XY{X: p.X.Max, Y: last.Y}) // the front holds to the right edge
	}
	red := color.RGBA{R: 200, G: 30, B: 30, A: 255}
	line, err := plotter.NewLine(stepXYs)
	if err != nil {
		return nil, nil, err
	}
	line.StepStyle = plotter.PostStep
	line.Color, line.Width, line.Dashes = red, vg.Points(1.5), []vg.Length{vg.Points(5), vg.Points(3)}

	all, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, nil, err
	}
	all.GlyphStyle = draw.GlyphStyle{Color: color.RGBA{R: 40, G: 40, B: 40, A: 255}, Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}
	ring, err := plotter.NewScatter(frontXYs)
	if err != nil {
		return nil, nil, err
	}
	ring.GlyphStyle = draw.GlyphStyle{Color: red, Radius: vg.Points(7), Shape: draw.RingGlyph{}}
	// Labels above right of their point (clear of the front's line); a point within a factor
	// 1.6 in parameters of its left neighbour labelled above gets its label below instead, so
	// close methods' names do not print over each other.
	order := make([]int, len(xys))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return xys[order[a]].X < xys[order[b]].X })
	var above, below plotter.XYLabels
	prevAbove, prevX := false, 0.0
	for _, i := range order {
		if prevAbove && xys[i].X < prevX*1.6 {
			below.XYs, below.Labels = append(below.XYs, xys[i]), append(below.Labels, labels[i])
			prevAbove = false
		} else {
			above.XYs, above.Labels = append(above.XYs, xys[i]), append(above.Labels, labels[i])
			prevAbove = true
		}
		prevX = xys[i].X
	}
	p.Add(line, all, ring)
	for k, set := range []plotter.XYLabels{above, below} {
		if len(set.XYs) == 0 {
			continue
		}
		lab, err := plotter.NewLabels(set)
		if err != nil {
			return nil, nil, err
		}
		lab.Offset = vg.Point{X: vg.Points(7), Y: vg.Points(3)}
		if k == 1 {
			for j := range lab.TextStyle {
				lab.TextStyle[j].YAlign = draw.YTop
			}
			lab.Offset.Y = -vg.Points(5)
		}
		p.Add(lab)
	}
	p.Legend.Add("method", all)
	p.Legend.Add("Pareto front", line, ring)
	return p, warn, nil
}

// countLogTicks are log-axis ticks labelled as counts (1k, 10k, 1M, …): the powers of ten,
// and on an axis spanning less than three decades also their 2× and 5× multiples.
type countLogTicks struct{}

func (countLogTicks) Ticks(lo, hi float64) []plot.Tick {
	narrow := hi/lo < 1000
	var ticks []plot.Tick
	seen := map[float64]bool{}
	for _, t := range (plot.LogTicks{Prec: -1}).Ticks(lo, hi) {
		if seen[t.Value] { // LogTicks gives each power of ten twice (labelled and not)
			continue
		}
		seen[t.Value] = true
		m := math.Round(t.Value / math.Pow10(int(math.Floor(math.Log10(t.Value)+1e-9))))
		t.Label = ""
		if m == 1 || (narrow && (m == 2 || m == 5)) {
			t.Label = humanCount(t.Value)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// humanCount writes a count with a k/M/B suffix: 1500 → "1.5k", 1e6 → "1M".
func humanCount(v float64) string {
	for _, u := range []struct {
		div    float64
		suffix string
	}{{1e9, "B"}, {1e6, "M"}, {1e3, "k"}} {
		if math.Abs(v) >= u.div {
			return fmt.Sprintf("%s%s", trimFloat(v/u.div), u.suffix)
		}
	}
	return trimFloat(v)
}

func trimFloat(v float64) string {
	return fmt.Sprintf("%.3g", v)
}

// whiskerPoints are bar tops with min–max whiskers (plotter.YErrorBars' input).
type whiskerPoints struct {
	plotter.XYs
	plotter.YErrors
}

func (w whiskerPoints) Len() int { return len(w.XYs) }

// barsWithWhiskers draws one bar per series: the mean of value over its runs (a multi-task
// run counted once), with a min–max whisker.
func barsWithWhiskers(series []plotSeries, title, unit string, value func(core.ResultRow) float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = unit
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	p.Add(grid)
	means := make(plotter.Values, len(series))
	wp := whiskerPoints{XYs: make(plotter.XYs, len(series)), YErrors: make(plotter.YErrors, len(series))}
	names := make([]string, len(series))
	tops, values, top := make(plotter.XYs, len(series)), make([]string, len(series)), 0.0
	for i, s := range series {
		var xs []float64
		seen := map[string]bool{}
		for _, r := range s.rows {
			run, _ := r.Extra["run"].(string)
			if run == "" {
				run = r.RunKey
			}
			if seen[run] {
				continue
			}
			seen[run] = true
			if v := value(r); !math.IsNaN(v) && !math.IsInf(v, 0) {
				xs = append(xs, v)
			}
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, x := range xs {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
		m, _ := meanStd(xs)
		if len(xs) == 0 {
			lo, hi = 0, 0
		}
		means[i] = m
		wp.XYs[i] = plotter.XY{X: float64(i), Y: m}
		wp.YErrors[i] = struct{ Low, High float64 }{m - lo, hi - m}
		names[i] = fmt.Sprintf("%s (n=%d)", s.name, len(xs))
		tops[i] = plotter.XY{X: float64(i), Y: hi}
		values[i] = fmt.Sprintf("%.3g", m)
		top = math.Max(top, hi)
	}
	bars, err := plotter.NewBarChart(means, vg.Points(28))
	if err != nil {
		return nil, err
	}
	bars.Color = color.RGBA{R: 90, G: 130, B: 190, A: 255}
	bars.LineStyle.Width = vg.Points(0.5)
	whiskers, err := plotter.NewYErrorBars(wp)
	if err != nil {
		return nil, err
	}
	whiskers.Width, whiskers.CapWidth = vg.Points(1.2), vg.Points(12)
	meanLabels, err := plotter.NewLabels(plotter.XYLabels{XYs: tops, Labels: values})
	if err != nil {
		return nil, err
	}
	for i := range meanLabels.TextStyle {
		meanLabels.TextStyle[i].XAlign = draw.XCenter
	}
	meanLabels.Offset = vg.Point{Y: vg.Points(4)}
	p.Add(bars, whiskers, meanLabels)
	p.NominalX(names...)
	if len(series) > 4 {
		p.X.Tick.Label.Rotation = math.Pi / 6
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
	p.Y.Min = 0
	if top > 0 {
		p.Y.Max = top * 1.12 // room for the mean written above each whisker
	}
	return p, nil
}

// curveTasks lists, sorted, the tasks of rows that carry curves.
func curveTasks(rows []core.ResultRow) []string {
	set := map[string]bool{}
	for _, r := range rows {
		if r.Curves != nil && (len(r.Curves.Loss) > 0 || len(r.Curves.Dev) > 0) {
			set[r.Task] = true
		}
	}
	var out []string
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// curvesFigure draws one task's loss ("loss") or dev ("dev") curves, a line per run (a
// colour per method, a dash pattern and glyph per seed), and says how many lines; nil when
// no run of the task has that curve.
func curvesFigure(rows []core.ResultRow, task, kind string) (*plot.Plot, int, error) {
	type run struct {
		method, name string
		seed         int64
		xys          plotter.XYs
	}
	var runs []run
	backbones := map[string]bool{}
	for _, r := range rows {
		backbones[r.Backbone.Name] = true
	}
	for _, r := range rows {
		if r.Task != task || r.Curves == nil {
			continue
		}
		pts := r.Curves.Loss
		if kind == "dev" {
			pts = r.Curves.Dev
		}
		var xys plotter.XYs
		for _, pt := range pts {
			if !math.IsNaN(pt.Value) && !math.IsInf(pt.Value, 0) {
				xys = append(xys, plotter.XY{X: float64(pt.Step), Y: pt.Value})
			}
		}
		if len(xys) == 0 {
			continue
		}
		method := methodName(r, len(backbones) > 1)
		name := fmt.Sprintf("%s seed %d", method, r.Seed)
		if r.KShot > 0 {
			name += fmt.Sprintf(" k=%d", r.KShot)
		}
		if r.Status != "ok" {
			name += " (" + r.Status + ")"
		}
		runs = append(runs, run{method, name, r.Seed, xys})
	}
	if len(runs) == 0 {
		return nil, 0, nil
	}
	sort.SliceStable(runs, func(i, j int) bool {
		if runs[i].method != runs[j].method {
			return runs[i].method < runs[j].method
		}
		return runs[i].seed < runs[j].seed
	})
	p := plot.New()
	p.X.Label.Text = "training step"
	p.X.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		ticks := plot.DefaultTicks{}.Ticks(lo, hi)
		for i := range ticks {
			if ticks[i].Label != "" { // steps: 25, not 25.00
				ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'f', -1, 64)
			}
		}
		return ticks
	})
	if kind == "loss" {
		p.Title.Text = task + ": training loss (mean over windows of steps)"
		p.Y.Label.Text = "training loss"
	} else {
		p.Title.Text = task + ": primary dev score at each evaluation"
		p.Y.Label.Text = "dev score"
	}
	p.Add(plotter.NewGrid())
	methodIdx, seedIdx := map[string]int{}, map[int64]int{}
	for _, r := range runs {
		if _, ok := methodIdx[r.method]; !ok {
			methodIdx[r.method] = len(methodIdx)
		}
		if _, ok := seedIdx[r.seed]; !ok {
			seedIdx[r.seed] = len(seedIdx)
		}
		line, err := plotter.NewLine(r.xys)
		if err != nil {
			return nil, 0, err
		}
		line.Color = plotutil.Color(methodIdx[r.method])
		line.Dashes = plotutil.Dashes(seedIdx[r.seed])
		line.Width = vg.Points(1.3)
		p.Add(line)
		thumbs := []plot.Thumbnailer{line}
		if kind == "dev" { // few points: mark them
			sc, err := plotter.NewScatter(r.xys)
			if err != nil {
				return nil, 0, err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: line.Color, Radius: vg.Points(2.5), Shape: plotutil.Shape(seedIdx[r.seed])}
			p.Add(sc)
			thumbs = append(thumbs, sc)
		}
		p.Legend.Add(r.name, thumbs...)
	}
	return p, len(runs), nil
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
	return core.WriteFileAtomic(file, buf.Bytes())
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
