package storage

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func TestLossCurveWindows(t *testing.T) {
	for _, tc := range []struct {
		n, max, points, firstStep int
	}{{0, 200, 0, 0}, {3, 200, 3, 1}, {200, 200, 200, 1}, {201, 200, 101, 2}, {1000, 200, 200, 5}, {1001, 200, 167, 6}} {
		losses := make([]float64, tc.n)
		for i := range losses {
			losses[i] = float64(i + 1)
		}
		c := LossCurve(losses, tc.max)
		if len(c) != tc.points {
			t.Fatalf("%d losses: %d points, want %d", tc.n, len(c), tc.points)
		}
		if tc.n == 0 {
			continue
		}
		if c[0].Step != tc.firstStep || c[len(c)-1].Step != tc.n {
			t.Errorf("%d losses: steps %d..%d", tc.n, c[0].Step, c[len(c)-1].Step)
		}
		if want := float64(1+tc.firstStep) / 2; c[0].Value != want {
			t.Errorf("%d losses: first window mean %g, want %g", tc.n, c[0].Value, want)
		}
	}
	if c := LossCurve([]float64{1, math.NaN(), 2, 2}, 2); !math.IsNaN(c[0].Value) || c[1].Value != 2 {
		t.Errorf("NaN window: %v", c)
	}
}

// Curves round-trip through a results file: a non-finite value is written as null and read
// back as NaN; a row written before curves existed reads with none and writes none.
func TestCurvesInResults(t *testing.T) {
	path := filepath.Join(t.TempDir(), ResultsFile)
	store := &ResultStore{Path: path}
	row := ResultRow{RunKey: "k", Status: "diverged", FinalLoss: math.NaN(), Curves: &Curves{
		Loss: []CurvePoint{{Step: 2, Value: 1.5}, {Step: 4, Value: math.Inf(1)}, {Step: 5, Value: math.NaN()}},
		Dev:  []CurvePoint{{Step: 3, Value: 50}},
	}}
	if err := store.Append(row); err != nil {
		t.Fatal(err)
	}
	line, err := json.Marshal(row)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"loss":[{"step":2,"value":1.5},{"step":4,"value":null},{"step":5,"value":null}]`; !strings.Contains(string(line), want) {
		t.Fatalf("row %s lacks %s", line, want)
	}
	rows, err := ReadResults(path)
	if err != nil {
		t.Fatal(err)
	}
	c := rows[0].Curves
	if c == nil || len(c.Loss) != 3 || c.Loss[0] != (CurvePoint{2, 1.5}) || !math.IsNaN(c.Loss[1].Value) || !math.IsNaN(c.Loss[2].Value) ||
		len(c.Dev) != 1 || c.Dev[0] != (CurvePoint{3, 50}) {
		t.Fatalf("read back %+v", c)
	}
	var old ResultRow
	if err := json.Unmarshal([]byte(`{"run_key":"old","status":"ok","final_loss":1.2}`), &old); err != nil || old.Curves != nil {
		t.Fatalf("old row: %+v, %v", old, err)
	}
	if b, _ := json.Marshal(old); strings.Contains(string(b), "curves") {
		t.Fatalf("a row without curves writes %s", b)
	}
}
