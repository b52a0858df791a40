package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// verify tokenizer -o json: the report as data, with the verdict.
func TestVerifyTokenizerJSON(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "fixtures", "tokenizers")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared fixtures %s missing under CI=true: %v", dir, err)
		}
		t.Skipf("shared fixtures %s not available: %v", dir, err)
	}
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
