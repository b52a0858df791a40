package engine

import (
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/data"
)

// predictionsOf pairs generations with their examples.
func predictionsOf(examples []core.Example, generations []string) []core.Prediction {
	out := make([]core.Prediction, len(examples))
	for i, ex := range examples {
		out[i] = core.Prediction{ID: ex.ID, Prediction: generations[i], Target: ex.Target}
	}
	return out
}

// countInvalid counts the predictions task rejects as ill-formed (data.CountInvalid).
func countInvalid(task core.Task, preds []core.Prediction) int {
	gens := make([]string, len(preds))
	for i, p := range preds {
		gens[i] = p.Prediction
	}
	return data.CountInvalid(task, gens)
}
