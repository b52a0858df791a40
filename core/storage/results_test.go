package storage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResultStoreAppendsAndNamesBadLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs", "results.jsonl")
	s := &ResultStore{Path: path}
	for i := 0; i < 3; i++ {
		if err := s.Append(ResultRow{RunKey: string(rune('a' + i)), Status: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := s.Read()
	if err != nil || len(rows) != 3 || rows[2].RunKey != "c" {
		t.Fatalf("rows %v, err %v", rows, err)
	}
	raw, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(raw, []byte("{not json\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = s.Read()
	if err == nil || !strings.Contains(err.Error(), "results.jsonl:4") {
		t.Fatalf("error %v, want it to name line 4", err)
	}
	// A failed append never loses what was written.
	if err := os.Chmod(filepath.Dir(path), 0o500); err == nil && os.Getuid() != 0 {
		defer os.Chmod(filepath.Dir(path), 0o755)
		if s.Append(ResultRow{RunKey: "d"}) == nil {
			t.Fatal("append into a read-only folder succeeded")
		}
		after, _ := os.ReadFile(path)
		if len(after) < len(raw) {
			t.Fatal("results shrank after a failed append")
		}
	}
}
