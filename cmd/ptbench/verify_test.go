package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/ptbench/ptbench/internal/testfix"
)

// verify tokenizer -o json: the report as data, with the verdict.
func TestVerifyTokenizerJSON(t *testing.T) {
	dir := testfix.Path(t, "fixtures/tokenizers")
	out, err := execute("verify", "tokenizer", "--model", filepath.Join(dir, "t5style-unigram8k.model"),
		"--cases", filepath.Join(dir, "cases.jsonl"), "--field", "unigram8k", "-o", "json")
	if err != nil {
		t.Fatal(err, out)
	}
	var rep struct {
		Cases            int  `json:"cases"`
		EncodeMismatches int  `json:"encode_mismatches"`
		Passed           bool `json:"passed"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Cases == 0 || rep.EncodeMismatches != 0 || !rep.Passed {
		t.Fatalf("report %+v (%v):\n%s", rep, err, out)
	}
}
