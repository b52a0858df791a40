package core

import (
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
