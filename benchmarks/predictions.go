package benchmarks

import (
	"fmt"
	"path/filepath"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/engine"
	"github.com/ptbench/ptbench/core/storage"
)

// writePredictions stores a finished row's dev and test predictions as data
// (OUT/predictions/<row key>.<split>.jsonl, storage.PredictionsFile) and records the files and
// the invalid counts in the row. A file that cannot be written is logged and left out of the
// row; the row itself (the run's result) is never lost for it.
func (g *Grid) writePredictions(row *storage.ResultRow, per engine.TaskScores, prefix string) {
	inv := per.Invalid
	row.Invalid = &inv
	for split, preds := range map[string][]core.Prediction{"dev": per.DevPredictions, "test": per.TestPredictions} {
		if preds == nil {
			continue
		}
		rel := storage.PredictionsFile(row.RunKey, split)
		if err := storage.WritePredictions(filepath.Join(g.OutDir, rel), preds); err != nil {
			fmt.Fprintf(g.Log, "%s %s predictions not written: %v\n", prefix, split, err)
			continue
		}
		if row.Predictions == nil {
			row.Predictions = map[string]string{}
		}
		row.Predictions[split] = rel
	}
}
