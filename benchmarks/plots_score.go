package benchmarks

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

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

// scoreVsParams draws the score-vs-trainable-parameters figure; nil when no method has
// trainable parameters. A point is the mean over its tasks of the mean over seeds; its
// whisker spans the seeds' task-means (the lowest and highest seed, each averaged over the
// method's tasks), drawn when two or more seeds ran every one of them.
func scoreVsParams(series []plotSeries, tasks []string) (*plot.Plot, []string, error) {
	var warn []string
	var pts []ParetoPoint
	var names []string
	var spread plotter.YErrors
	for _, s := range series {
		sc := summariseScores(s)
		if sc.params <= 0 {
			warn = append(warn, fmt.Sprintf("score-vs-params: %s left out (no trainable parameters, not on a log axis)", s.name))
			continue
		}
		score, lo, hi := sc.mean, sc.low, sc.high
		if math.IsNaN(score) || math.IsInf(score, 0) {
			warn = append(warn, fmt.Sprintf("score-vs-params: %s left out (its mean test score is not a number)", s.name))
			continue
		}
		perTask := sc.tasks
		name := s.name
		if perTask < len(tasks) {
			name = fmt.Sprintf("%s (%d/%d tasks)", name, perTask, len(tasks))
		}
		pts = append(pts, ParetoPoint{Params: float64(sc.params), Score: score})
		names = append(names, name)
		spread = append(spread, struct{ Low, High float64 }{score - lo, hi - score})
	}
	if len(pts) == 0 {
		return nil, warn, nil
	}
	p := plot.New()
	p.Title.Text = "Test score vs trainable parameters (" + strings.Join(tasks, ", ") + ")"
	if len(tasks) > 4 {
		p.Title.Text = fmt.Sprintf("Test score vs trainable parameters (mean over %d tasks)", len(tasks))
	}
	p.Title.Text += "\nwhiskers: min–max over seeds of the task mean; red: Pareto front"
	p.X.Label.Text = "trainable parameters (log scale)"
	p.Y.Label.Text = "mean test score (over tasks and seeds)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = countLogTicks{}, plainTicks
	p.Add(plotter.NewGrid())

	xys := make(plotter.XYs, len(pts))
	labels := make([]string, len(pts))
	minX, maxX := math.Inf(1), math.Inf(-1)
	minY, maxY := math.Inf(1), math.Inf(-1)
	for i, pt := range pts {
		xys[i] = plotter.XY{X: pt.Params, Y: pt.Score}
		labels[i] = names[i]
		minX, maxX = math.Min(minX, pt.Params), math.Max(maxX, pt.Params)
		minY, maxY = math.Min(minY, pt.Score-spread[i].Low), math.Max(maxY, pt.Score+spread[i].High)
	}
	// Pad the axes: a factor 3 on the log axis leaves room for the labels right of the
	// points; the score axis spans at least 10 points, so equal scores read as equal (a flat
	// row mid-axis) instead of as differences blown up to the axis' height.
	p.X.Min, p.X.Max = minX/3, maxX*3
	p.Y.Min, p.Y.Max = scoreAxis(minY, maxY)
	whiskers, err := plotter.NewYErrorBars(whiskerPoints{XYs: xys, YErrors: spread})
	if err != nil {
		return nil, nil, err
	}
	whiskers.Width, whiskers.CapWidth = vg.Points(1), vg.Points(8)
	whiskers.Color = color.RGBA{R: 90, G: 90, B: 90, A: 255}
	p.Add(whiskers)

	front := ParetoFront(pts)
	frontXYs := make(plotter.XYs, 0, len(front)+1)
	for _, i := range front {
		frontXYs = append(frontXYs, xys[i])
	}
	stepXYs := append(plotter.XYs{}, frontXYs...) // the front ends at its last point: beyond it no method was measured
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

// seriesScores is a method's place in the score-vs-parameters plane.
type seriesScores struct {
	params int64
	tasks  int     // tasks with ok runs
	mean   float64 // mean over tasks of the mean over seeds
	// low and high are the lowest and highest seed's mean over the tasks, among the seeds
	// that ran every task (a seed missing one would be a mean over other tasks); both equal
	// mean when fewer than two seeds did.
	low, high float64
}

func summariseScores(s plotSeries) seriesScores {
	perTask := map[string][]float64{}
	perSeed := map[int64]map[string]float64{}
	var out seriesScores
	for _, r := range s.rows {
		perTask[r.Task] = append(perTask[r.Task], r.TestScore)
		if perSeed[r.Seed] == nil {
			perSeed[r.Seed] = map[string]float64{}
		}
		perSeed[r.Seed][r.Task] = r.TestScore
		out.params = max(out.params, r.TrainableParams)
	}
	var means []float64
	for _, xs := range perTask {
		m, _ := meanStd(xs)
		means = append(means, m)
	}
	out.tasks = len(perTask)
	out.mean, _ = meanStd(means)
	out.low, out.high = out.mean, out.mean
	lo, hi, seeds := math.Inf(1), math.Inf(-1), 0
	for _, byTask := range perSeed {
		if len(byTask) < len(perTask) {
			continue
		}
		var xs []float64
		for _, v := range byTask {
			xs = append(xs, v)
		}
		if m, _ := meanStd(xs); !math.IsNaN(m) && !math.IsInf(m, 0) {
			lo, hi, seeds = math.Min(lo, m), math.Max(hi, m), seeds+1
		}
	}
	if seeds >= 2 {
		out.low, out.high = lo, hi
	}
	return out
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

// paddedRange is an axis range around [lo, hi] with 12% padding each side, at least minSpan
// wide and centred on the data when the data span less: equal values sit mid-axis.
func paddedRange(lo, hi, minSpan float64) (float64, float64) {
	pad := (hi - lo) * 0.12
	if span := hi - lo + 2*pad; span < minSpan {
		pad += (minSpan - span) / 2
	}
	return lo - pad, hi + pad
}

// scoreAxis is the range of an axis of scores ×100: paddedRange at least 10 points wide,
// shifted to stay within [−1, 101] when the scores do (no −5 on an axis of accuracies at 0).
func scoreAxis(lo, hi float64) (float64, float64) {
	a, b := paddedRange(lo, hi, 10)
	if lo >= 0 && a < -1 {
		b, a = b+(-1-a), -1
	}
	if hi <= 100 && b > 101 {
		a, b = a-(b-101), 101
	}
	if lo >= 0 && a < -1 { // wider than [−1, 101] after both shifts: clamp
		a = -1
	}
	return a, b
}
