package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMethodConfigsFromFileAndSet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ept.yaml")
	os.WriteFile(path, []byte("ept:\n  spaces: 2\n  gate: token\n"), 0o644)
	cfgs, err := loadMethodConfigs(path, []string{"ept.proj_rank=4", "ept.spaces=3"}, []string{"ept", "pt"})
	if err != nil {
		t.Fatal(err)
	}
	e := cfgs["ept"]
	if e["spaces"] != 3 || e["gate"] != "token" || e["proj_rank"] != 4 {
		t.Fatalf("ept config %v", e)
	}
	for _, bad := range [][]string{{"ept"}, {"ept.=3"}, {"dept.rank=3"}} {
		if _, err := loadMethodConfigs("", bad, []string{"ept"}); err == nil {
			t.Errorf("--set %v accepted", bad)
		}
	}
}

func TestRunRejectsBadConfigBeforeTraining(t *testing.T) {
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"run", "--methods", "dept", "--preset", "smoke", "--set", "dept.rank=999", "--out", t.TempDir()})
	err := root.Execute()
	if err == nil || !strings.Contains(err.Error(), "method dept on syn-keyword: rank r = 999 exceeds the run's max source length s = 64") {
		t.Fatalf("error %v", err)
	}
}
