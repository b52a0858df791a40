package tasks

import (
	"math"
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
	case scoreRegression: // "nan" and "inf" parse, but score as −1 like any non-number
		v, err := strconv.ParseFloat(p, 64)
		return err == nil && !math.IsNaN(v) && !math.IsInf(v, 0)
	}
	return true
}
