package benchmarks

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/ptbench/ptbench/core/storage"
)

// whiskerPoints are bar tops with min–max whiskers (plotter.YErrorBars' input).
type whiskerPoints struct {
	plotter.XYs
	plotter.YErrors
}

func (w whiskerPoints) Len() int { return len(w.XYs) }

// barsWithWhiskers draws one bar per series: the mean of value over its runs (a multi-task
// run counted once), with a min–max whisker, the mean written above it (format; nil: 3
// significant digits).
func barsWithWhiskers(series []plotSeries, title, unit string, value func(storage.ResultRow) float64, format func(float64) string) (*plot.Plot, error) {
	if format == nil {
		format = func(v float64) string { return fmt.Sprintf("%.3g", v) }
	}
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = unit
	p.Y.Tick.Marker = plainTicks
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
		values[i] = format(m)
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
	p.Y.Min, p.Y.Max = 0, 1 // all zero: still an axis from 0
	if top > 0 {
		p.Y.Max = top * 1.12 // room for the mean written above each whisker
	}
	return p, nil
}

// stepVsPTFigure draws each method's training-step time relative to PT's on the same
// backbone with the same padding and packing (the leaderboard's "× PT", from BuildBoard): the bar is the
// mean over the method's runs of a run's mean step time over PT's mean, the whisker spans the
// fastest to the slowest run, and a dashed line marks PT (1×). Methods with no PT to compare
// with are left out; nil when none has one.
func stepVsPTFigure(series []plotSeries, board Board) (*plot.Plot, error) {
	type key struct{ label, backbone string }
	ptStep := map[key]float64{}
	for _, r := range board.Rows {
		if r.StepVsPT != nil && *r.StepVsPT > 0 {
			ptStep[key{r.Label, r.Backbone}] = r.MeanStepSec / *r.StepVsPT
		}
	}
	var compared []plotSeries
	for _, s := range series {
		if _, ok := ptStep[key{s.rows[0].Label, s.rows[0].Backbone.Name}]; ok {
			compared = append(compared, s)
		}
	}
	if len(compared) == 0 {
		return nil, nil
	}
	p, err := barsWithWhiskers(compared, "Training step time relative to PT (same backbone, padding and packing)\nbar: mean over runs; whisker: fastest to slowest run",
		"step time ÷ PT's mean step time", func(r storage.ResultRow) float64 {
			return r.MeanStepSec / ptStep[key{r.Label, r.Backbone.Name}]
		}, func(v float64) string { return fmt.Sprintf("%.2f×", v) })
	if err != nil {
		return nil, err
	}
	pt, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 1}, {X: float64(len(compared)) - 0.5, Y: 1}})
	if err != nil {
		return nil, err
	}
	pt.Color, pt.Width, pt.Dashes = color.RGBA{R: 200, G: 30, B: 30, A: 255}, vg.Points(1.2), []vg.Length{vg.Points(5), vg.Points(3)}
	p.Add(pt)
	p.Legend.Add("PT = 1×", pt)
	p.Legend.Top = true
	p.Y.Max = math.Max(p.Y.Max, 1.15)
	return p, nil
}
