package tasks

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/ptbench/ptbench/core/data"
)

// scoring selects how a task's generations are compared with its gold examples.
type scoring int

const (
	// scoreClassification: the generation must be one of the task's labels; accuracy,
	// f1 (positive "1"), f1_macro and matthews as the task lists them.
	scoreClassification scoring = iota
	// scoreRegression: STS-B; the generation is parsed as a number (invalid → −1).
	scoreRegression
	// scoreMultiRC: f1a over all answer options, em per question (Example.Group).
	scoreMultiRC
	// scoreSpans: SQuAD / ReCoRD em and f1 against Example.Answers.
	scoreSpans
	// scoreExact: accuracy of exact string match (synthetic copy task).
	scoreExact
)

// invalidPrediction replaces a generation that is not a valid label where the reference
// metric pools invalid outputs into one wrong answer (accuracy, macro-F1). Binary F1 and
// Matthews correlation count invalid outputs as the reference code does instead (see
// scoreLabels).
const invalidPrediction = "<invalid>"

// invalidScore is what an STS-B generation that is not a number counts as.
const invalidScore = -1.0

// Score compares generations with gold examples index by index. Generations are trimmed of
// surrounding white space; one that is not a valid label counts as wrong. The result holds
// exactly the task's Metrics, ×100.
func (t *info) Score(predictions []string, gold []data.Example) (data.Scores, error) {
	if len(predictions) != len(gold) {
		return nil, fmt.Errorf("%s: %d predictions for %d gold examples", t.name, len(predictions), len(gold))
	}
	pred := make([]string, len(predictions))
	for i, p := range predictions {
		pred[i] = strings.TrimSpace(p)
	}
	targets := make([]string, len(gold))
	for i, g := range gold {
		targets[i] = g.Target
	}
	var s data.Scores
	var err error
	switch t.scoring {
	case scoreClassification:
		s, err = t.scoreLabels(pred, targets)
	case scoreRegression:
		s, err = scoreSimilarity(pred, targets)
	case scoreMultiRC:
		s, err = t.scoreMultiRC(pred, gold)
	case scoreSpans:
		s = scoreAnswers(pred, gold)
	case scoreExact:
		s = data.Scores{"accuracy": 100 * Accuracy(pred, targets)}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.name, err)
	}
	for _, m := range t.metrics {
		if _, ok := s[m]; !ok {
			return nil, fmt.Errorf("%s: metric %q is not computed by this task's scorer", t.name, m)
		}
	}
	return s, nil
}

// validLabels maps generations outside the label set to invalidPrediction and checks that
// every gold target is a label.
func (t *info) validLabels(pred, gold []string) ([]string, error) {
	out := make([]string, len(pred))
	for i := range pred {
		if !slices.Contains(t.labels, gold[i]) {
			return nil, fmt.Errorf("gold target %q of example %d is not a label %v", gold[i], i, t.labels)
		}
		out[i] = pred[i]
		if !slices.Contains(t.labels, pred[i]) {
			out[i] = invalidPrediction
		}
	}
	return out, nil
}

// scoreLabels computes the task's label metrics the way DePT's src/metrics.py computes them
// (scikit-learn underneath), which matters only for generations that are not a label:
//   - accuracy: an invalid output is wrong;
//   - f1 (positive class "1"): an invalid output counts as the label opposite to the gold one
//     (f1_score_with_invalid), so it is a false negative on a positive example and a false
//     positive on a negative one;
//   - f1_macro (CB): per-class F1 over the task's labels only (fbeta_score with labels =
//     range(3), average "macro"), so an invalid output costs its gold class a false negative
//     and adds no class;
//   - matthews (CoLA): sklearn's matthews_corrcoef on the raw strings, where every distinct
//     invalid string is a class of its own.
func (t *info) scoreLabels(pred, gold []string) (data.Scores, error) {
	pooled, err := t.validLabels(pred, gold)
	if err != nil {
		return nil, err
	}
	s := data.Scores{}
	for _, m := range t.metrics {
		switch m {
		case "accuracy":
			s[m] = 100 * Accuracy(pooled, gold)
		case "f1":
			s[m] = 100 * BinaryF1(invalidAsWrongLabel(pooled, gold), gold, "1")
		case "f1_macro":
			s[m] = 100 * MacroF1(pooled, gold, t.labels)
		case "matthews":
			s[m] = 100 * Matthews(pred, gold)
		}
	}
	return s, nil
}

// invalidAsWrongLabel replaces each invalid prediction of a binary task by the label its
// gold is not ("1" for gold "0", else "0"), as DePT's f1_score_with_invalid does.
func invalidAsWrongLabel(pooled, gold []string) []string {
	out := make([]string, len(pooled))
	for i, p := range pooled {
		out[i] = p
		if p == invalidPrediction {
			out[i] = "1"
			if gold[i] == "1" {
				out[i] = "0"
			}
		}
	}
	return out
}

// parseScore reads an STS-B generation; anything but a finite number is invalidScore.
func parseScore(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return invalidScore
	}
	return v
}

func scoreSimilarity(pred, gold []string) (data.Scores, error) {
	x := make([]float64, len(pred))
	y := make([]float64, len(gold))
	for i := range pred {
		x[i] = parseScore(pred[i])
		v, err := strconv.ParseFloat(gold[i], 64)
		if err != nil {
			return nil, fmt.Errorf("gold target %q of example %d is not a number", gold[i], i)
		}
		y[i] = v
	}
	return data.Scores{"pearson": 100 * Pearson(x, y), "spearman": 100 * Spearman(x, y)}, nil
}

// scoreMultiRC: f1a is the binary F1 over every answer option, an invalid output counted as
// the wrong label (DePT's f1_score_with_invalid, its only MultiRC metric); em is the fraction
// of questions whose options in the split are all predicted correctly. The split is cut by
// answer row, so em is over the options of each question that fall in the split; the
// reference code reports no em.
func (t *info) scoreMultiRC(pred []string, gold []data.Example) (data.Scores, error) {
	targets := make([]string, len(gold))
	for i, g := range gold {
		targets[i] = g.Target
	}
	pred, err := t.validLabels(pred, targets)
	if err != nil {
		return nil, err
	}
	allRight := map[string]bool{}
	for i, g := range gold {
		key := groupKey(g)
		right, seen := allRight[key]
		allRight[key] = (right || !seen) && pred[i] == targets[i]
	}
	exact := 0
	for _, ok := range allRight {
		if ok {
			exact++
		}
	}
	em := 0.0
	if len(allRight) > 0 {
		em = float64(exact) / float64(len(allRight))
	}
	return data.Scores{"f1a": 100 * BinaryF1(invalidAsWrongLabel(pred, targets), targets, "1"), "em": 100 * em}, nil
}

func scoreAnswers(pred []string, gold []data.Example) data.Scores {
	if len(gold) == 0 {
		return data.Scores{"em": 0, "f1": 0}
	}
	var em, f1 float64
	for i, g := range gold {
		answers := g.Answers
		if len(answers) == 0 {
			answers = []string{g.Target}
		}
		em += AnswerExactMatch(pred[i], answers)
		f1 += AnswerF1(pred[i], answers)
	}
	n := float64(len(gold))
	return data.Scores{"em": 100 * em / n, "f1": 100 * f1 / n}
}
