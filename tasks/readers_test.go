package tasks

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/data"
)

// Every malformed row is an error that names file:line and what was expected; nothing is
// dropped silently (QQP's counted skips are tested in templates_inline_test.go).
func TestMalformedFilesNameFileAndLine(t *testing.T) {
	rteHeader := "index\tsentence1\tsentence2\tlabel"
	cases := []struct {
		name, task string
		files      map[string]string
		file       string // the file the error must name
		line       string // ":N:"
		expect     string // what the message must say was expected
	}{
		{"GLUE row with a missing field", "rte",
			map[string]string{"glue/RTE/dev.tsv": lines(rteHeader, "0\ta\tb\tentailment", "1\ta\tnot_entailment")},
			"glue/RTE/dev.tsv", ":3:", "expected 4 tab-separated fields"},
		{"GLUE unknown label", "rte",
			map[string]string{"glue/RTE/dev.tsv": lines(rteHeader, "0\ta\tb\tmaybe")},
			"glue/RTE/dev.tsv", ":2:", `expected one of "entailment", "not_entailment"`},
		{"GLUE blank line inside the file", "rte",
			map[string]string{"glue/RTE/dev.tsv": lines(rteHeader, "0\ta\tb\tentailment", "", "2\ta\tb\tentailment")},
			"glue/RTE/dev.tsv", ":3:", "expected 4 tab-separated fields"},
		{"GLUE header without the label column", "rte",
			map[string]string{"glue/RTE/dev.tsv": lines("index\tsentence1\tsentence2\tgold", "0\ta\tb\tentailment")},
			"glue/RTE/dev.tsv", ":1:", `no column "label"`},
		{"CoLA row with three fields", "cola",
			map[string]string{"glue/CoLA/dev.tsv": lines("gj04\t1\t\tFine.", "gj04\t1\tBroken.")},
			"glue/CoLA/dev.tsv", ":2:", "expected 4 tab-separated fields"},
		{"STS-B score out of range", "stsb",
			map[string]string{"glue/STS-B/dev.tsv": lines("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore",
				"0\tg\tf\ty\t0\tn\tn\tA.\tB.\t7.5")},
			"glue/STS-B/dev.tsv", ":2:", "a score between 0 and 5"},
		{"JSONL line that is not JSON", "cb",
			map[string]string{"superglue/CB/val.jsonl": lines(`{"premise": "p", "hypothesis": "h", "label": "neutral"}`, `{"premise": "p",`)},
			"superglue/CB/val.jsonl", ":2:", "invalid JSON"},
		{"JSONL record without its label", "boolq",
			map[string]string{"superglue/BoolQ/val.jsonl": lines(`{"question": "q", "passage": "p"}`)},
			"superglue/BoolQ/val.jsonl", ":1:", `missing required field "label"`},
		{"CB unknown label", "cb",
			map[string]string{"superglue/CB/val.jsonl": lines(`{"premise": "p", "hypothesis": "h", "label": "unsure"}`)},
			"superglue/CB/val.jsonl", ":1:", `expected one of "contradiction", "entailment", "neutral"`},
		{"WSC span not in the text", "wsc",
			map[string]string{"superglue/WSC/val.jsonl": lines(`{"text": "A b c.", "target": {"span1_index": 0, "span1_text": "zebra", "span2_index": 1, "span2_text": "b"}, "label": true}`)},
			"superglue/WSC/val.jsonl", ":1:", `span "zebra" (word 0) not found`},
		{"MultiRC label not 0/1", "multirc",
			map[string]string{"superglue/MultiRC/val.jsonl": lines(`{"idx": 0, "passage": {"text": "t", "questions": [{"question": "q", "idx": 0, "answers": [{"text": "a", "idx": 0, "label": 2}]}]}}`)},
			"superglue/MultiRC/val.jsonl", ":1:", "expected 0 or 1"},
		{"SQuAD syntax error", "squad",
			map[string]string{"squad/dev-v1.1.json": "{\"data\": [\n  {\"paragraphs\": [\n    {\"context\": \"c\" \"qas\": []}]}]}\n"},
			"squad/dev-v1.1.json", ":3:", "invalid JSON"},
		{"SQuAD question without answers", "squad",
			map[string]string{"squad/dev-v1.1.json": "{\"data\": [{\"paragraphs\": [{\"context\": \"c\",\n \"qas\": [{\"id\": \"x1\", \"question\": \"q\", \"answers\": []}]}]}]}\n"},
			"squad/dev-v1.1.json", ":2:", "no answers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := writeFiles(t, c.files)
			_, err := LoadEval(taskByName(t, c.task), data.DataOptions{DataDir: root})
			if err == nil {
				t.Fatal("malformed file loaded without error")
			}
			want := filepath.Join(root, filepath.FromSlash(c.file)) + c.line
			if msg := err.Error(); !strings.Contains(msg, want) || !strings.Contains(msg, c.expect) {
				t.Errorf("error %q\nshould contain %q and %q", msg, want, c.expect)
			}
		})
	}
}

func TestMissingFileSaysWhereToGetIt(t *testing.T) {
	root := t.TempDir()
	_, err := taskByName(t, "cola").Load(data.DataOptions{DataDir: root})
	var missing *MissingDataError
	if !errors.As(err, &missing) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want a *MissingDataError that is fs.ErrNotExist", err)
	}
	msg := err.Error()
	for _, want := range []string{filepath.Join(root, "glue", "CoLA", "dev.tsv"), "https://dl.fbaipublicfiles.com/glue/data/CoLA.zip", "ptbench data --task cola"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
}

func TestNoDataLocationIsAnError(t *testing.T) {
	_, err := taskByName(t, "rte").Load(data.DataOptions{})
	if err == nil || !strings.Contains(err.Error(), "--data-dir") || !strings.Contains(err.Error(), "--cache-dir") {
		t.Errorf("err = %v, want one naming --data-dir and --cache-dir", err)
	}
}

// The BOM of MRPC's header and CR line ends must not leak into columns or text.
func TestTSVStripsBOMAndCR(t *testing.T) {
	root := writeFiles(t, map[string]string{
		"glue/MRPC/dev.tsv": "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n1\t1\t2\tHe said \"yes.\tShe said no\"\r\n",
	})
	ds, err := LoadEval(taskByName(t, "mrpc"), data.DataOptions{DataDir: root})
	if err != nil {
		t.Fatal(err)
	}
	ex := allSplits(ds)[0]
	if ex.Source != `sentence1: He said "yes. sentence2: She said no"` || ex.Target != "1" {
		t.Errorf("example = %+v", ex)
	}
}
