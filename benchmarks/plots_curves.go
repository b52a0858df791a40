package benchmarks

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/ptbench/ptbench/core/storage"
)

// curveTasks lists, sorted, the tasks of rows that carry curves.
func curveTasks(rows []storage.ResultRow) []string {
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

// curveRun is one run's curve of a task, its non-finite points left out.
type curveRun struct {
	method string // method label (with the backbone when the folder holds several; k-shot)
	seed   int64
	status string
	xys    plotter.XYs
}

// curvesFigure draws one task's loss ("loss") or dev ("dev") curves: per method, the mean over
// its ok runs (seeds) at each step as a line, and the band from the lowest to the highest run
// at that step shaded behind it (one colour per method). A diverged or failed run that
// recorded a curve is drawn on its own, dotted, and named in the legend. It says how many
// legend entries it made; nil when no run of the task has that curve.
func curvesFigure(rows []storage.ResultRow, task, kind string) (*plot.Plot, int, error) {
	runs := taskCurves(rows, task, kind)
	if len(runs) == 0 {
		return nil, 0, nil
	}
	p := plot.New()
	p.X.Label.Text = "training step"
	p.X.Tick.Marker, p.Y.Tick.Marker = plainTicks, plainTicks
	if kind == "loss" {
		p.Title.Text = task + ": training loss (mean over windows of steps)\nline: mean over seeds; band: lowest to highest seed"
		p.Y.Label.Text = "training loss"
	} else {
		p.Title.Text = task + ": primary dev score at each evaluation\nline: mean over seeds; band: lowest to highest seed"
		p.Y.Label.Text = "dev score"
	}
	p.Add(plotter.NewGrid())
	var methods []string
	byMethod := map[string][]curveRun{}
	var others []curveRun
	for _, r := range runs {
		if r.status != "ok" {
			others = append(others, r)
			continue
		}
		if _, ok := byMethod[r.method]; !ok {
			methods = append(methods, r.method)
		}
		byMethod[r.method] = append(byMethod[r.method], r)
	}
	colour := map[string]int{}
	for _, r := range runs {
		if _, ok := colour[r.method]; !ok {
			colour[r.method] = len(colour)
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	entries := 0
	for _, m := range methods {
		mean, low, high := seedBand(byMethod[m])
		c := plotutil.Color(colour[m])
		if len(byMethod[m]) > 1 {
			band, err := plotter.NewPolygon(bandOutline(low, high))
			if err != nil {
				return nil, 0, err
			}
			band.Color = fade(c)
			band.LineStyle.Width = 0
			p.Add(band)
		}
		line, err := plotter.NewLine(mean)
		if err != nil {
			return nil, 0, err
		}
		line.Color, line.Width = c, vg.Points(1.6)
		p.Add(line)
		thumbs := []plot.Thumbnailer{line}
		if kind == "dev" { // few points: mark them
			sc, err := plotter.NewScatter(mean)
			if err != nil {
				return nil, 0, err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(2.5), Shape: plotutil.Shape(colour[m])}
			p.Add(sc)
			thumbs = append(thumbs, sc)
		}
		p.Legend.Add(fmt.Sprintf("%s (n=%d)", m, len(byMethod[m])), thumbs...)
		entries++
		for _, xy := range append(low, high...) {
			lo, hi = math.Min(lo, xy.Y), math.Max(hi, xy.Y)
		}
	}
	for _, r := range others {
		line, err := plotter.NewLine(r.xys)
		if err != nil {
			return nil, 0, err
		}
		line.Color, line.Width, line.Dashes = plotutil.Color(colour[r.method]), vg.Points(1), []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("%s seed %d (%s)", r.method, r.seed, r.status), line)
		entries++
		for _, xy := range r.xys {
			lo, hi = math.Min(lo, xy.Y), math.Max(hi, xy.Y)
		}
	}
	// Flat curves (every dev score equal, a constant loss) still get an axis around them.
	if kind == "dev" {
		p.Y.Min, p.Y.Max = scoreAxis(lo, hi)
	} else {
		p.Y.Min, p.Y.Max = paddedRange(lo, hi, 0.1*math.Max(math.Abs(hi), 1))
	}
	return p, entries, nil
}

// taskCurves reads the task's curves of kind from the rows, sorted by method then seed.
func taskCurves(rows []storage.ResultRow, task, kind string) []curveRun {
	backbones := map[string]bool{}
	for _, r := range rows {
		backbones[r.Backbone.Name] = true
	}
	var runs []curveRun
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
		if r.KShot > 0 {
			method += fmt.Sprintf(" k=%d", r.KShot)
		}
		runs = append(runs, curveRun{method: method, seed: r.Seed, status: r.Status, xys: xys})
	}
	sort.SliceStable(runs, func(i, j int) bool {
		if runs[i].method != runs[j].method {
			return runs[i].method < runs[j].method
		}
		return runs[i].seed < runs[j].seed
	})
	return runs
}

// seedBand is, at every step any of the runs has a point at, the mean of the runs' values
// there and their lowest and highest; runs recorded at other steps (another eval schedule)
// simply contribute at theirs.
func seedBand(runs []curveRun) (mean, low, high plotter.XYs) {
	at := map[float64][]float64{}
	var steps []float64
	for _, r := range runs {
		for _, xy := range r.xys {
			if _, ok := at[xy.X]; !ok {
				steps = append(steps, xy.X)
			}
			at[xy.X] = append(at[xy.X], xy.Y)
		}
	}
	sort.Float64s(steps)
	for _, x := range steps {
		m, _ := meanStd(at[x])
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range at[x] {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		mean = append(mean, plotter.XY{X: x, Y: m})
		low = append(low, plotter.XY{X: x, Y: lo})
		high = append(high, plotter.XY{X: x, Y: hi})
	}
	return mean, low, high
}

// bandOutline is the polygon along high, then back along low.
func bandOutline(low, high plotter.XYs) plotter.XYs {
	out := append(plotter.XYs{}, high...)
	for i := len(low) - 1; i >= 0; i-- {
		out = append(out, low[i])
	}
	return out
}

// fade is c at a fifth of its opacity, for a band behind its line.
func fade(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 55}
}

// plainTicks are gonum's default ticks labelled as short as the value allows: steps 25, not
// 25.00; a score 47.5, not 47.50.
var plainTicks = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			v, _ := strconv.ParseFloat(strconv.FormatFloat(ticks[i].Value, 'g', 10, 64), 64) // 0.30000000000000004 → 0.3
			ticks[i].Label = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return ticks
})
