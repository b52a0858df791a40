package tasks

import (
	"math"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/data"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// Expected values below are worked out by hand in the comments.
func TestLabelMetrics(t *testing.T) {
	cases := []struct {
		name       string
		got, want  float64
		derivation string
	}{
		{"accuracy", Accuracy([]string{"1", "0", "1", "1"}, []string{"1", "1", "1", "0"}), 0.5, "2 of 4"},
		{"accuracy all wrong", Accuracy([]string{"0", "1"}, []string{"1", "0"}), 0, "0 of 2"},
		{"accuracy empty", Accuracy(nil, nil), 0, "no examples"},
		{"binary f1", BinaryF1([]string{"1", "0", "1", "1"}, []string{"1", "1", "1", "0"}, "1"), 4.0 / 6, "tp 2 fp 1 fn 1: 2·2/(4+1+1)"},
		{"binary f1 no positives", BinaryF1([]string{"0", "0"}, []string{"0", "0"}, "1"), 0, "undefined → 0"},
		{"macro f1 with an invalid output",
			MacroF1([]string{"0", "1", "1", "2", "0", invalidPrediction}, []string{"0", "0", "1", "2", "2", "2"}, []string{"0", "1", "2"}),
			(0.5 + 2.0/3 + 0.5) / 3, "class 0: tp1 fp1 fn1 = .5; class 1: tp1 fp1 = 2/3; class 2: tp1 fn2 = .5"},
		{"matthews binary", Matthews([]string{"1", "1", "0", "0", "0", "1"}, []string{"1", "1", "1", "0", "0", "0"}), 1.0 / 3, "tp2 tn2 fp1 fn1: (4−1)/√(3·3·3·3)"},
		{"matthews all wrong", Matthews([]string{"0", "1", "0", "1"}, []string{"1", "0", "1", "0"}), -1, "perfectly anti-correlated"},
		{"matthews constant prediction", Matthews([]string{"1", "1", "1"}, []string{"1", "0", "1"}), 0, "zero variance → 0, not NaN"},
		{"matthews invalid as its own class", Matthews([]string{invalidPrediction, "0"}, []string{"1", "0"}), 0.5, "c1 s2: (1·2 − 1)/√((4−2)(4−2))"},
	}
	for _, c := range cases {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v (%s)", c.name, c.got, c.want, c.derivation)
		}
	}
}

func TestCorrelations(t *testing.T) {
	cases := []struct {
		name       string
		got, want  float64
		derivation string
	}{
		{"pearson perfect", Pearson([]float64{1, 2, 3, 4}, []float64{2, 4, 6, 8}), 1, "linear"},
		{"pearson negative", Pearson([]float64{1, 2, 3}, []float64{3, 2, 1}), -1, "reversed"},
		{"pearson partial", Pearson([]float64{1, 2, 3, 4}, []float64{1, 3, 2, 4}), 0.8, "sxy 4, sxx 5, syy 5"},
		{"pearson constant", Pearson([]float64{2, 2, 2}, []float64{1, 2, 3}), 0, "zero variance → 0"},
		{"pearson single", Pearson([]float64{1}, []float64{1}), 0, "n < 2"},
		{"spearman with ties", Spearman([]float64{1, 2, 2, 3}, []float64{1, 2, 3, 4}), 4.5 / math.Sqrt(4.5*5), "ranks 1 2.5 2.5 4 vs 1 2 3 4"},
		{"spearman monotone", Spearman([]float64{1, 10, 100}, []float64{0.1, 0.2, 0.3}), 1, "same order"},
		{"spearman constant", Spearman([]float64{3, 3, 3}, []float64{1, 2, 3}), 0, "all tied"},
	}
	for _, c := range cases {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v (%s)", c.name, c.got, c.want, c.derivation)
		}
	}
	if r := averageRanks([]float64{10, 30, 20, 30, 30}); r[0] != 1 || r[2] != 2 || r[1] != 4 || r[3] != 4 || r[4] != 4 {
		t.Errorf("averageRanks = %v, want [1 4 2 4 4]", r)
	}
}

func TestSQuADNormalisationAndScores(t *testing.T) {
	for in, want := range map[string]string{
		"The Denver Broncos!":       "denver broncos",
		"an apple a day, the theme": "apple day theme",
		"  Super   Bowl 50 ":        "super bowl 50",
		"A":                         "",
		"thé":                       "thé",
	} {
		if got := NormalizeAnswer(in); got != want {
			t.Errorf("NormalizeAnswer(%q) = %q, want %q", in, got, want)
		}
	}
	if em := AnswerExactMatch("the denver broncos", []string{"Denver Broncos"}); em != 1 {
		t.Errorf("EM after normalisation = %v, want 1", em)
	}
	if f1 := AnswerF1("Denver", []string{"Denver Broncos"}); !near(f1, 2.0/3) {
		t.Errorf("F1 = %v, want 2/3 (precision 1, recall 1/2)", f1)
	}
	if f1 := AnswerF1("Denver", []string{"Broncos of Denver", "Denver"}); f1 != 1 {
		t.Errorf("F1 max over answers = %v, want 1", f1)
	}
	if f1 := AnswerF1("", []string{"Denver"}); f1 != 0 {
		t.Errorf("empty prediction F1 = %v, want 0", f1)
	}
}

func score(t *testing.T, task string, preds []string, gold []data.Example) data.Scores {
	t.Helper()
	s, err := taskByName(t, task).Score(preds, gold)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func golds(targets ...string) []data.Example {
	out := make([]data.Example, len(targets))
	for i, tg := range targets {
		out[i] = data.Example{ID: string(rune('a' + i)), Target: tg}
	}
	return out
}

func TestTaskScores(t *testing.T) {
	// Invalid generations are wrong; white space around a label is not.
	if s := score(t, "rte", []string{"0", "yes", " 1\n"}, golds("0", "1", "1")); !near(s["accuracy"], 200.0/3) || len(s) != 1 {
		t.Errorf("rte = %v, want accuracy 66.67 only", s)
	}
	if s := score(t, "mrpc", []string{"1", "0", "1", "1"}, golds("1", "1", "1", "0")); !near(s["f1"], 400.0/6) || !near(s["accuracy"], 50) {
		t.Errorf("mrpc = %v, want f1 66.67, accuracy 50", s)
	}
	if s := score(t, "cola", []string{"1", "1", "1"}, golds("1", "0", "1")); s["matthews"] != 0 {
		t.Errorf("cola constant predictions = %v, want matthews 0", s)
	}
	if s := score(t, "cb", []string{"0", "1", "1", "2", "0", "maybe"}, golds("0", "0", "1", "2", "2", "2")); !near(s["f1_macro"], 100*(0.5+2.0/3+0.5)/3) || !near(s["accuracy"], 50) {
		t.Errorf("cb = %v, want f1_macro 55.56, accuracy 50", s)
	}
	// STS-B: "bad" is −1. x = 5 −1 2, y = 5 1 2: sxy 12, sxx 18, syy 78/9.
	s := score(t, "stsb", []string{"5.0", "bad", "2.0"}, golds("5.0", "1.0", "2.0"))
	if !near(s["pearson"], 100*12/math.Sqrt(18*78.0/9)) || !near(s["spearman"], 100) {
		t.Errorf("stsb = %v, want pearson 96.08, spearman 100", s)
	}
	if s := score(t, "stsb", []string{"3.0", "3.0", "3.0"}, golds("5.0", "1.0", "2.0")); s["pearson"] != 0 || s["spearman"] != 0 {
		t.Errorf("stsb constant predictions = %v, want 0, not NaN", s)
	}
	// MultiRC: question A all right, question B one of two wrong.
	mrc := []data.Example{
		{ID: "1", Target: "1", Group: "A"}, {ID: "2", Target: "0", Group: "A"}, {ID: "3", Target: "1", Group: "A"},
		{ID: "4", Target: "0", Group: "B"}, {ID: "5", Target: "0", Group: "B"},
	}
	if s := score(t, "multirc", []string{"1", "0", "1", "1", "0"}, mrc); !near(s["em"], 50) || !near(s["f1a"], 80) {
		t.Errorf("multirc = %v, want em 50 (1 of 2 questions), f1a 80 (tp 2, fp 1)", s)
	}
	qa := []data.Example{{ID: "q1", Target: "Denver Broncos", Answers: []string{"Denver Broncos", "Broncos"}}, {ID: "q2", Target: "1990"}}
	if s := score(t, "squad", []string{"the Broncos", "in 1991"}, qa); !near(s["em"], 50) || !near(s["f1"], 50) {
		t.Errorf("squad = %v, want em 50, f1 50", s)
	}
	if s := score(t, "syn-copy", []string{"moon", "cat "}, golds("moon", "dog")); !near(s["accuracy"], 50) {
		t.Errorf("syn-copy = %v, want accuracy 50", s)
	}
}

func TestScoreRejectsMismatchedInput(t *testing.T) {
	if _, err := taskByName(t, "rte").Score([]string{"0"}, golds("0", "1")); err == nil {
		t.Error("1 prediction for 2 gold examples should be an error")
	}
	if _, err := taskByName(t, "rte").Score([]string{"0"}, golds("entailment")); err == nil || !strings.Contains(err.Error(), "not a label") {
		t.Errorf("a gold target outside the label set: err = %v", err)
	}
}
