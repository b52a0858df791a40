package benchmarks

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/ptbench/ptbench/core"
)

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
