package core

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLinearSchedule(t *testing.T) {
	cases := []struct {
		step, warmup, total int
		want                float64
	}{
		{1, 4, 12, 0.25}, {4, 4, 12, 1}, {5, 4, 12, 1}, {12, 4, 12, 1.0 / 8}, {13, 4, 12, 0},
		{1, 0, 10, 1}, {10, 0, 10, 0.1},
	}
	for _, c := range cases {
		if got := LinearSchedule(c.step, c.warmup, c.total); got != c.want {
			t.Errorf("LinearSchedule(%d, %d, %d) = %v, want %v", c.step, c.warmup, c.total, got, c.want)
		}
	}
}

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

func TestDecodeConfigRejectsUnknownKeys(t *testing.T) {
	var cfg struct {
		Rank int `json:"rank"`
	}
	if err := DecodeConfig(map[string]any{"rank": 4}, &cfg); err != nil || cfg.Rank != 4 {
		t.Fatalf("rank %d, err %v", cfg.Rank, err)
	}
	err := DecodeConfig(map[string]any{"rnak": 4}, &cfg)
	if err == nil || !strings.Contains(err.Error(), `unknown field "rnak"`) {
		t.Fatalf("error %v", err)
	}
	err = DecodeConfig(map[string]any{"rank": "four"}, &cfg)
	if err == nil {
		t.Fatal("a string rank was accepted")
	}
}

func TestRegistryRejectsUnknownNames(t *testing.T) {
	_, err := NewMethod("no-such-method", nil)
	if err == nil || !strings.Contains(err.Error(), `unknown Method "no-such-method"`) {
		t.Fatalf("error %v", err)
	}
	_, err = NewTask("no-such-task")
	if err == nil {
		t.Fatal("unknown task accepted")
	}
}

func TestMeanMedian(t *testing.T) {
	m, med := MeanMedian([]float64{3, 1, 2, 10})
	if m != 4 || med != 2.5 {
		t.Fatalf("mean %v median %v", m, med)
	}
}
