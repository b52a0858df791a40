package tasks

import (
	"slices"
	"strconv"
	"strings"
)

// ValidPrediction reports whether a generation is well-formed for the task (data.PredictionChecker):
// one of its labels (classification, MultiRC), a finite number (STS-B); span and exact-match tasks
// accept any text. The scorers treat what this rejects as the reference code does (scoring.go).
func (t *info) ValidPrediction(prediction string) bool {
	p := strings.TrimSpace(prediction)
	switch t.scoring {
	case scoreClassification, scoreMultiRC:
		return len(t.labels) == 0 || slices.Contains(t.labels, p)
	case scoreRegression:
		_, err := strconv.ParseFloat(p, 64)
		return err == nil
	}
	return true
}
