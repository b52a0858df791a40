package storage

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
)

// FuzzReadResults: any bytes as results.jsonl either fail with an error naming file:line, or
// give at most one row per non-blank line, each of which re-encodes stably; the lenient
// reader agrees with the strict one on a file the strict one accepts, and sets apart only a
// last line without its newline.
func FuzzReadResults(f *testing.F) {
	row := ResultRow{RunKey: "k1", Method: "pt", Label: "PT", MethodConfig: map[string]any{"length": 4.0, "init": "vocab"},
		Task: "rte", Benchmark: "GLUE", Seed: 1, Status: "ok", Dev: core.Scores{"accuracy": 61.5}, Test: core.Scores{"accuracy": 60},
		DevScore: 61.5, TestScore: 60, TrainableParams: 256, Steps: 4, FinalLoss: 1.25, Extra: map[string]any{"x": []any{1.0, "y"}},
		FinishedAt: "2025-01-01T00:00:00Z"}
	good, err := json.Marshal(row)
	if err != nil {
		f.Fatal(err)
	}
	row.RunKey, row.Status, row.Error, row.FinalLoss = "k2", "diverged", "loss is NaN", math.NaN()
	diverged, err := json.Marshal(row)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(append(append(append(good, '\n'), diverged...), '\n'))
	f.Add(append(append(good, '\n'), diverged[:len(diverged)/2]...)) // torn last line
	f.Add(append(append([]byte("\n  \n"), good...), "\r\n"...))
	f.Add([]byte(`{"run_key": 5}` + "\n"))
	f.Add([]byte(`{"seed": 1e400}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "results.jsonl")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		rows, err := ReadResults(path)
		lenient, torn, lerr := ReadResultsLenient(path)
		if lerr == nil && len(torn) > 0 && bytes.IndexByte(torn, '\n') >= 0 {
			t.Fatalf("torn part %q spans lines", torn)
		}
		if err != nil {
			if !strings.Contains(err.Error(), path+":") {
				t.Fatalf("error does not name file:line: %v", err)
			}
			return
		}
		if lerr != nil || len(torn) != 0 || len(lenient) != len(rows) {
			t.Fatalf("strict reader: %d rows; lenient: %d rows, torn %q, %v", len(rows), len(lenient), torn, lerr)
		}
		lines := 0
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		if len(rows) > lines {
			t.Fatalf("%d rows from %d non-blank lines", len(rows), lines)
		}
		for i, r := range rows {
			b1, err := json.Marshal(r)
			if err != nil {
				t.Fatalf("row %d read but cannot be written back: %v", i, err)
			}
			var again ResultRow
			if err := json.Unmarshal(b1, &again); err != nil {
				t.Fatalf("row %d written as %s does not read back: %v", i, b1, err)
			}
			if b2, _ := json.Marshal(again); !bytes.Equal(b1, b2) {
				t.Fatalf("row %d changes in a round trip:\n%s\n%s", i, b1, b2)
			}
		}
	})
}
