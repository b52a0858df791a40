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
