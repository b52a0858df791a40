package tokenizers

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeCases(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cases.jsonl")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerifyCasesReportsMismatches(t *testing.T) {
	// Byte ids: "a" → 100, "b" → 101. Line 3 is wrong; line 2 is blank.
	path := writeCases(t, `{"text": "a", "bytes": [100]}

{"text": "b", "bytes": [7]}
{"text": "ab", "bytes": [100, 101]}`)
	report, err := VerifyCases(NewByteLevel(), path, "bytes")
	if err != nil {
		t.Fatal(err)
	}
	if report.Passed() {
		t.Fatal("report passed despite a wrong line")
	}
	if report.Cases != 3 || report.EncodeMismatches != 1 {
		t.Errorf("cases %d, encode mismatches %d; want 3, 1", report.Cases, report.EncodeMismatches)
	}
	// Decoding the wrong reference id 7 gives "" instead of "b".
	if report.DecodeChecked != 3 || report.DecodeMismatches != 1 {
		t.Errorf("decode checked %d, mismatches %d; want 3, 1", report.DecodeChecked, report.DecodeMismatches)
	}
	if len(report.Mismatches) != 2 {
		t.Fatalf("recorded mismatches %v", report.Mismatches)
	}
	first := report.Mismatches[0]
	if first.Line != 3 || first.Kind != "encode" || first.Text != "b" ||
		!reflect.DeepEqual(first.WantIDs, []int{7}) || !reflect.DeepEqual(first.GotIDs, []int{101}) {
		t.Errorf("first mismatch %+v", first)
	}
	if !strings.Contains(report.String(), "line 3") || !strings.HasPrefix(report.String(), "FAIL") {
		t.Errorf("summary does not point at line 3:\n%s", report)
	}

	good := writeCases(t, `{"text": "ab", "bytes": [100, 101]}`+"\n")
	report, err = VerifyCases(NewByteLevel(), good, "bytes")
	if err != nil || !report.Passed() {
		t.Errorf("correct file did not pass: %v\n%s", err, report)
	}
}

func TestVerifyCasesBadInput(t *testing.T) {
	tok := NewByteLevel()
	for name, content := range map[string]string{
		"missing field": `{"text": "a", "other": [100]}`,
		"not json":      `text a`,
		"ids not ints":  `{"text": "a", "bytes": ["x"]}`,
		"empty":         ``,
	} {
		path := writeCases(t, content)
		if _, err := VerifyCases(tok, path, "bytes"); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: want an error naming %s, got %v", name, path, err)
		}
	}
	if _, err := VerifyCases(tok, filepath.Join(t.TempDir(), "absent.jsonl"), "bytes"); err == nil {
		t.Error("missing cases file accepted")
	}
}
