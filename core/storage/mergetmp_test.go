package storage

import (
	"os"
	"path/filepath"
	"testing"
)

// The temp files a killed merge leaves in a results folder's checkpoints/, artefacts/ and
// predictions/ — named ".NAME.tmp-merge" now, ".NAME.merge-tmp" by older merges — are removed
// by the next OpenResults (run or merge); before, they stayed forever.
func TestOpenResultsRemovesLeftoverMergeTemps(t *testing.T) {
	dir := t.TempDir()
	var left, kept []string
	for _, sub := range []string{"checkpoints", "artefacts", PredictionsDir} {
		os.MkdirAll(filepath.Join(dir, sub), 0o755)
		left = append(left, filepath.Join(dir, sub, ".x.safetensors.tmp-merge"), filepath.Join(dir, sub, ".y.jsonl.merge-tmp"))
		kept = append(kept, filepath.Join(dir, sub, "x.safetensors"), filepath.Join(dir, sub, "merge-tmp-notes"))
	}
	for _, p := range append(append([]string{}, left...), kept...) {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := OpenResults(dir, ResultsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range left {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there", p)
		}
	}
	for _, p := range kept {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}
