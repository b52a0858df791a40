package llama

import (
	"path/filepath"
	"testing"

	"github.com/ptbench/ptbench/internal/sharedfix"
)

// TestVerifyStories260K runs the llama2.c reference (every forced logit, final hidden state,
// argmax, greedy ids through the KV cache) on the .bin and on the same weights written as an
// HF directory.
func TestVerifyStories260K(t *testing.T) {
	lockThread(t)
	bin := sharedfix.Path(t, "models/stories260K/stories260K.bin")
	cases := sharedfix.Path(t, "fixtures/llama/stories260K-reference.json")
	if bin == "" || cases == "" {
		return
	}
	run := func(path string) {
		checks, err := VerifyCases(path, cases, DefaultTolerances)
		if err != nil {
			t.Fatal(err)
		}
		if len(checks) != 7 {
			t.Fatalf("%d checks, want 7 (2 forced cases × 3 + greedy)", len(checks))
		}
		for _, c := range checks {
			t.Logf("%s %-14s %-28s %.3g (tol %.0e)", filepath.Base(path), c.Case, c.Output, c.Error, c.Tol)
			if !c.Pass {
				t.Errorf("%s: %s %s: error %g > %g", path, c.Case, c.Output, c.Error, c.Tol)
			}
		}
	}
	run(bin)
	m, err := OpenBin(bin, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	err = WriteHFDir(m, dir)
	m.Close()
	if err != nil {
		t.Fatal(err)
	}
	run(dir)
}
