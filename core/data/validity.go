package data

// PredictionChecker is a task that can tell a well-formed generation (one of its labels, a
// number for a regression task) from one that is not; the trainer counts the latter so a row
// says how many of its predictions were invalid, and the leaderboard can flag a run whose
// score is mostly invalid outputs counted as wrong. Tasks without it count none invalid.
type PredictionChecker interface {
	ValidPrediction(prediction string) bool
}

// CountInvalid is how many predictions task does not accept as well-formed (0 when the task
// is no PredictionChecker).
func CountInvalid(task Task, predictions []string) int {
	pc, ok := task.(PredictionChecker)
	if !ok {
		return 0
	}
	n := 0
	for _, p := range predictions {
		if !pc.ValidPrediction(p) {
			n++
		}
	}
	return n
}
