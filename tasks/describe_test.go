package tasks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/data"
)

func TestDescribe(t *testing.T) {
	ds := &data.Dataset{
		Train:   []data.Example{{ID: "1", Target: "0"}, {ID: "2", Target: "1"}, {ID: "3", Target: "1"}},
		Dev:     []data.Example{{ID: "4", Target: "1", Group: "q1"}, {ID: "5", Target: "0", Group: "q1"}},
		Test:    nil,
		Skipped: map[string]int{"glue/QQP/train.tsv": 2},
	}
	d := Describe(taskByName(t, "multirc"), ds)
	splits := d["splits"].(map[string]any)
	train := splits["train"].(map[string]any)
	dev := splits["dev"].(map[string]any)
	test := splits["test"].(map[string]any)
	if train["size"] != 3 || train["targets"].(map[string]int)["1"] != 2 {
		t.Errorf("train = %v", train)
	}
	if dev["groups"] != 1 || test["size"] != 0 {
		t.Errorf("dev = %v, test = %v", dev, test)
	}
	if d["task"] != "multirc" || d["benchmark"] != "SuperGLUE" || d["skipped"].(map[string]int)["glue/QQP/train.tsv"] != 2 {
		t.Errorf("header = %v", d)
	}
	if cb := Describe(taskByName(t, "cb"), &data.Dataset{}); cb["table_score"] != "accuracy" || cb["selection_metric"] != "f1_macro" {
		t.Errorf("cb: table score %v, selection metric %v; want accuracy and f1_macro", cb["table_score"], cb["selection_metric"])
	}
	// Free-text targets are counted, not listed.
	var many []data.Example
	for i := range 100 {
		many = append(many, data.Example{ID: string(rune(i)), Target: strings.Repeat("x", i)})
	}
	if got := Describe(taskByName(t, "squad"), &data.Dataset{Test: many})["splits"].(map[string]any)["test"].(map[string]any); got["distinct_targets"] != 100 || got["targets"] != nil {
		t.Errorf("squad test = %v", got)
	}
}

func TestScoreFile(t *testing.T) {
	gold := []data.Example{{ID: "rte/val/1", Target: "0"}, {ID: "rte/val/2", Target: "1"}, {ID: "rte/val/3", Target: "1"}}
	rte := taskByName(t, "rte")
	write := func(body string) string {
		p := filepath.Join(t.TempDir(), "preds.jsonl")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := write(lines(`{"id": "rte/val/3", "prediction": "1"}`, `{"id": "rte/val/1", "prediction": "0"}`, ``, `{"id": "rte/val/2", "prediction": "entailment"}`))
	s, err := ScoreFile(rte, gold, ok)
	if err != nil || !near(s["accuracy"], 200.0/3) {
		t.Errorf("ScoreFile = %v, %v; want accuracy 66.67 (order-independent)", s, err)
	}
	cases := []struct{ name, body, want string }{
		{"bad JSON", lines(`{"id": "rte/val/1", "prediction": "0"}`, `{"id": `), "preds.jsonl:2: invalid JSON"},
		{"no prediction field", lines(`{"id": "rte/val/1"}`), `preds.jsonl:1: missing required field "prediction"`},
		{"unknown id", lines(`{"id": "rte/val/9", "prediction": "0"}`), `preds.jsonl:1: id "rte/val/9" is not among the 3 rte examples scored`},
		{"duplicate id", lines(`{"id": "rte/val/1", "prediction": "0"}`, `{"id": "rte/val/1", "prediction": "1"}`), `preds.jsonl:2: id "rte/val/1" has a second prediction`},
		{"missing ids", lines(`{"id": "rte/val/1", "prediction": "0"}`), "2 of 3 gold examples have no prediction (e.g. rte/val/2, rte/val/3)"},
	}
	for _, c := range cases {
		if _, err := ScoreFile(rte, gold, write(c.body)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", c.name, err, c.want)
		}
	}
	if _, err := ScoreFile(rte, gold, filepath.Join(t.TempDir(), "absent.jsonl")); err == nil || !strings.Contains(err.Error(), "absent.jsonl") {
		t.Errorf("missing file: err = %v", err)
	}
}
