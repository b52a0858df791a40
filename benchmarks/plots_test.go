package benchmarks

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/storage"
)

func TestParetoFront(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		pts  []ParetoPoint
		want []int
	}{
		{"empty", nil, nil},
		{"one", []ParetoPoint{{10, 50}}, []int{0}},
		{"more params, better score: all on it", []ParetoPoint{{1000, 70}, {10, 50}, {100, 60}}, []int{1, 2, 0}},
		{"more params, worse score: off it", []ParetoPoint{{10, 60}, {100, 50}, {1000, 70}}, []int{0, 2}},
		{"equal params: the better one", []ParetoPoint{{100, 50}, {100, 60}, {10, 40}}, []int{2, 1}},
		{"equal score, more params: off it", []ParetoPoint{{10, 60}, {100, 60}}, []int{0}},
		{"identical points: the first", []ParetoPoint{{10, 60}, {10, 60}}, []int{0}},
		{"NaN never on it", []ParetoPoint{{10, nan}, {nan, 90}, {100, 50}}, []int{2}},
		{"EPT-like", []ParetoPoint{{76800, 85.2}, {9216, 84.1}, {294912, 84.7}, {7680, 84.9}, {1200000, 86.0}},
			[]int{3, 0, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParetoFront(tc.pts); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParetoFront(%v) = %v, want %v", tc.pts, got, tc.want)
			}
		})
	}
}

func TestHumanCount(t *testing.T) {
	for v, want := range map[float64]string{1: "1", 100: "100", 1000: "1k", 1500: "1.5k", 1e5: "100k", 1e6: "1M", 2.5e9: "2.5B"} {
		if got := humanCount(v); got != want {
			t.Errorf("humanCount(%g) = %q, want %q", v, got, want)
		}
	}
}

func TestCountLogTicks(t *testing.T) {
	labels := func(lo, hi float64) []string {
		var out []string
		seen := map[float64]bool{}
		for _, tk := range (countLogTicks{}).Ticks(lo, hi) {
			if seen[tk.Value] {
				t.Fatalf("[%g, %g]: tick %g twice", lo, hi, tk.Value)
			}
			seen[tk.Value] = true
			if tk.Label != "" && tk.Value >= lo && tk.Value <= hi {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	if got, want := labels(2000, 60000), []string{"2k", "5k", "10k", "20k", "50k"}; !reflect.DeepEqual(got, want) {
		t.Errorf("narrow axis: %v, want %v", got, want)
	}
	if got, want := labels(300, 3e8), []string{"1k", "10k", "100k", "1M", "10M", "100M"}; !reflect.DeepEqual(got, want) {
		t.Errorf("wide axis: %v, want %v", got, want)
	}
}

// syntheticRows is a results folder's rows without training: three methods on two tasks
// over two seeds, with curves, plus a diverged run, a failed run, an old row without
// curves, a zero-parameter method and a source artefact (never plotted).
func syntheticRows() []storage.ResultRow {
	var rows []storage.ResultRow
	methods := []struct {
		method, label string
		params        int64
		score, step   float64
	}{{"pt", "PT", 400, 60, 0.020}, {"lora", "LoRA", 40000, 70, 0.035}, {"ept", "EPT", 1500, 72, 0.025}}
	for _, m := range methods {
		for _, task := range []string{"rte", "syn-keyword"} {
			for seed := int64(1); seed <= 2; seed++ {
				c := &storage.Curves{}
				for s := 1; s <= 50; s++ {
					c.Loss = append(c.Loss, storage.CurvePoint{Step: s * 2, Value: 3/float64(s) + 0.1*float64(seed)})
				}
				for s := 20; s <= 100; s += 20 {
					c.Dev = append(c.Dev, storage.CurvePoint{Step: s, Value: m.score - 20 + float64(s)/5})
				}
				rows = append(rows, storage.ResultRow{RunKey: fmt.Sprintf("%s.%s.%d", m.method, task, seed), Method: m.method, Label: m.label,
					Task: task, Benchmark: map[string]string{"rte": "GLUE"}[task], Seed: seed, Backbone: core.BackboneInfo{Name: "t5-tiny"},
					Status: "ok", TestScore: m.score + float64(seed), DevScore: m.score, TrainableParams: m.params,
					MeanStepSec: m.step * float64(seed), PeakRSSBytes: int64(500+100*seed) << 20, Steps: 100, Curves: c})
			}
		}
	}
	nanCurve := &storage.Curves{Loss: []storage.CurvePoint{{Step: 1, Value: 2}, {Step: 2, Value: 5}, {Step: 3, Value: math.NaN()}}}
	rows = append(rows,
		storage.ResultRow{RunKey: "pt.rte.3", Method: "pt", Label: "PT", Task: "rte", Seed: 3, Status: "diverged", TrainableParams: 400,
			FinalLoss: math.NaN(), Curves: nanCurve},
		storage.ResultRow{RunKey: "lora.rte.4", Method: "lora", Label: "LoRA", Task: "rte", Seed: 4, Status: "failed", Error: "boom"},
		storage.ResultRow{RunKey: "old.rte.1", Method: "bitfit", Label: "BitFit", Task: "rte", Seed: 1, Status: "ok", TestScore: 55,
			TrainableParams: 20000, MeanStepSec: 0.03, PeakRSSBytes: 700 << 20},
		storage.ResultRow{RunKey: "zs.rte.1", Method: "zeroshot", Label: "Zero-shot", Task: "rte", Seed: 1, Status: "ok", TestScore: 40},
		storage.ResultRow{RunKey: "artefact.spot-source", Method: "pt", Label: "PT", Task: "mnli", Status: "ok", TestScore: 99,
			TrainableParams: 1, Extra: map[string]any{"source": true}},
	)
	return rows
}

func writeRows(t *testing.T, dir string, rows []storage.ResultRow) {
	t.Helper()
	store := &storage.ResultStore{Path: filepath.Join(dir, storage.ResultsFile)}
	for _, r := range rows {
		if err := store.Append(r); err != nil {
			t.Fatal(err)
		}
	}
}

// checkFigure checks a written PNG decodes to a non-trivial image and an SVG parses as XML
// with an <svg> root.
func checkFigure(t *testing.T, file string) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	switch filepath.Ext(file) {
	case ".png":
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if b := img.Bounds(); b.Dx() < 600 || b.Dy() < 400 || len(raw) < 10000 {
			t.Fatalf("%s: %dx%d, %d bytes: too small to be a drawn figure", file, b.Dx(), b.Dy(), len(raw))
		}
	case ".svg":
		dec := xml.NewDecoder(bytes.NewReader(raw))
		root := ""
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: not XML: %v", file, err)
			}
			if se, ok := tok.(xml.StartElement); ok && root == "" {
				root = se.Name.Local
			}
		}
		if root != "svg" || len(raw) < 5000 {
			t.Fatalf("%s: root <%s>, %d bytes", file, root, len(raw))
		}
	default:
		t.Fatalf("unexpected file %s", file)
	}
}

func TestWritePlotsFromSyntheticResults(t *testing.T) {
	dir := t.TempDir()
	writeRows(t, dir, syntheticRows())
	plots := filepath.Join(dir, PlotsDir)
	if err := os.MkdirAll(plots, 0o755); err != nil {
		t.Fatal(err)
	}
	// A figure of a task no longer there goes; a file that is not a figure stays.
	for _, f := range []string{"loss-curves-gone.png", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(plots, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := WritePlots(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range rep.Files {
		rel, _ := filepath.Rel(plots, f)
		names = append(names, rel)
		checkFigure(t, f)
	}
	var want []string
	for _, n := range []string{"score-vs-params", "step-time", "step-time-vs-pt", "peak-memory", "loss-curves-rte", "loss-curves-syn-keyword", "dev-curves-rte", "dev-curves-syn-keyword"} {
		want = append(want, n+".png", n+".svg")
	}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("wrote %v, want %v", names, want)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "Zero-shot") {
		t.Errorf("warnings %q, want one about the zero-parameter method", rep.Warnings)
	}
	if _, err := os.Stat(filepath.Join(plots, "loss-curves-gone.png")); !os.IsNotExist(err) {
		t.Errorf("stale figure kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(plots, "notes.txt")); err != nil {
		t.Errorf("a file not a figure was removed: %v", err)
	}
	links := PlotLinks(dir)
	if len(links) != 8 || links[0] != "plots/score-vs-params.png" || links[2] != "plots/step-time-vs-pt.png" || links[7] != "plots/dev-curves-syn-keyword.png" {
		t.Fatalf("links %v", links)
	}
	var md bytes.Buffer
	if err := RenderPlotLinks(&md, dir); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"### Plots", "![score-vs-params](plots/score-vs-params.png)", "([SVG](plots/step-time.svg))", "![loss-curves-rte](plots/loss-curves-rte.png)"} {
		if !strings.Contains(md.String(), s) {
			t.Errorf("plots section lacks %q:\n%s", s, md.String())
		}
	}
	// The same rows draw the same files.
	before, _ := os.ReadFile(filepath.Join(plots, "score-vs-params.png"))
	if _, err := WritePlots(dir); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(filepath.Join(plots, "score-vs-params.png")); !bytes.Equal(before, after) {
		t.Errorf("score-vs-params.png differs between two calls on the same rows")
	}
	// No plots folder: no section.
	md.Reset()
	if err := RenderPlotLinks(&md, t.TempDir()); err != nil || md.Len() != 0 {
		t.Errorf("section without plots: %q, %v", md.String(), err)
	}
}

func TestWritePlotsErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := WritePlots(dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, storage.ResultsFile)) {
		t.Fatalf("missing results.jsonl: %v, want an error naming it", err)
	}
	writeRows(t, dir, []storage.ResultRow{{RunKey: "a", Method: "pt", Task: "rte", Status: "failed"}, {RunKey: "b", Method: "pt", Task: "rte", Status: "diverged"}})
	if _, err = WritePlots(dir); err == nil || !strings.Contains(err.Error(), "no run with status ok") {
		t.Fatalf("no ok rows: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, PlotsDir)); !os.IsNotExist(err) {
		t.Errorf("plots folder made for nothing: %v", err)
	}
}

// A tiny real grid's rows carry curves: dev points in increasing step order ending at the
// last step, a loss curve of at most MaxLossPoints points; a multi-task run's rows share the
// loss curve and each has its own task's dev curve.
func TestGridRowsCarryCurves(t *testing.T) {
	coretest.LockThread(t)
	check := func(t *testing.T, rows []storage.ResultRow, steps int) {
		t.Helper()
		for _, r := range rows {
			if r.Status != "ok" || r.Curves == nil {
				t.Fatalf("row %s: status %s, curves %v", r.RunKey, r.Status, r.Curves)
			}
			c := r.Curves
			if len(c.Loss) == 0 || len(c.Loss) > storage.MaxLossPoints || c.Loss[len(c.Loss)-1].Step != steps {
				t.Errorf("%s: loss curve of %d points ending at %v", r.RunKey, len(c.Loss), c.Loss[len(c.Loss)-1])
			}
			if len(c.Dev) < 2 || c.Dev[len(c.Dev)-1].Step != steps {
				t.Fatalf("%s: dev curve %v", r.RunKey, c.Dev)
			}
			for i := 1; i < len(c.Dev); i++ {
				if c.Dev[i].Step <= c.Dev[i-1].Step {
					t.Errorf("%s: dev steps not increasing: %v", r.RunKey, c.Dev)
				}
			}
			found := false
			for _, p := range c.Dev {
				found = found || (p.Step == r.BestStep && p.Value == r.DevScore)
			}
			if !found {
				t.Errorf("%s: best step %d (dev %g) not on the dev curve %v", r.RunKey, r.BestStep, r.DevScore, c.Dev)
			}
		}
	}
	t.Run("single", func(t *testing.T) {
		coretest.LockThread(t)
		out := t.TempDir()
		g := smallGrid(out, []string{"pt"}, []int64{1})
		g.Train.Steps, g.Train.EvalEvery = 205, 100 // 205 losses: windows of 2 steps
		if _, err := g.Run(); err != nil {
			t.Fatal(err)
		}
		rows, err := storage.ReadResults(filepath.Join(out, storage.ResultsFile))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 {
			t.Fatalf("%d rows", len(rows))
		}
		check(t, rows, 205)
		if n := len(rows[0].Curves.Loss); n != 103 {
			t.Errorf("loss curve: %d points, want 103 (205 steps in windows of 2)", n)
		}
		if got := len(rows[0].Curves.Dev); got != 3 { // steps 100, 200, 205
			t.Errorf("dev curve %v, want 3 points", rows[0].Curves.Dev)
		}
	})
	t.Run("multi-task", func(t *testing.T) {
		coretest.LockThread(t)
		out := t.TempDir()
		g := smallGrid(out, []string{"pt"}, []int64{1})
		g.Tasks, g.MultiTask = []string{"syn-keyword", "syn-parity"}, true
		g.Train.Steps, g.Train.EvalEvery = 6, 3
		if _, err := g.Run(); err != nil {
			t.Fatal(err)
		}
		rows, err := storage.ReadResults(filepath.Join(out, storage.ResultsFile))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 {
			t.Fatalf("%d rows, want one per task", len(rows))
		}
		check(t, rows, 6)
		if !reflect.DeepEqual(rows[0].Curves.Loss, rows[1].Curves.Loss) {
			t.Errorf("tasks' loss curves differ: %v vs %v", rows[0].Curves.Loss, rows[1].Curves.Loss)
		}
		// And the figures draw from them.
		rep, err := WritePlots(out)
		if err != nil {
			t.Fatal(err)
		}
		// score-vs-params, step time, step time vs PT, peak memory, loss and dev curves per task.
		if len(rep.Files) != 2*(4+2+2) {
			t.Errorf("wrote %v", rep.Files)
		}
	})
}
