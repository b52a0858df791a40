package core

// Prediction is one evaluated example: its id (as `ptbench data` and `ptbench score` name it),
// the decoded generation and the gold target. A run's predictions are data: the engine
// produces them, storage writes them next to results.jsonl (storage.PredictionsDir) so a
// score can be recomputed or audited — so the record lives here, where both can name it.
type Prediction struct {
	ID         string `json:"id"`
	Prediction string `json:"prediction"`
	Target     string `json:"target"`
}

// InvalidCounts are how many of a row's predictions were not well-formed for its task
// (data.PredictionChecker) — scored as the reference code scores them, usually as wrong.
type InvalidCounts struct {
	Dev       int `json:"dev"`
	DevTotal  int `json:"dev_total"`
	Test      int `json:"test"`
	TestTotal int `json:"test_total"`
}

// TestShare is the invalid share of the test predictions (0 without any).
func (c InvalidCounts) TestShare() float64 {
	if c.TestTotal == 0 {
		return 0
	}
	return float64(c.Test) / float64(c.TestTotal)
}
