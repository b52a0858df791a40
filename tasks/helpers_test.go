package tasks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/data"
)

// sharedDataDir is the official files' copy beside the repository (tests run in the tasks
// folder; the shared test data sits next to the checkout).
const sharedDataDir = "../../shared/data"

// requireShared skips a test when the shared official files are not present (a checkout
// outside the workplace), except under CI=true, where they must be: there it fails.
func requireShared(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(sharedDataDir, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared data %s not available under CI=true: %v", p, err)
		}
		t.Skipf("shared data %s not available: %v", p, err)
	}
	return p
}

func taskByName(t *testing.T, name string) data.Task {
	t.Helper()
	task, err := data.NewTask(name)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// writeFiles creates files (slash-separated paths → contents) under a fresh temp dir.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for rel, body := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// lines joins rows with newlines and ends the file with one.
func lines(rows ...string) string { return strings.Join(rows, "\n") + "\n" }

func findExample(exs []data.Example, id string) (data.Example, bool) {
	for _, ex := range exs {
		if ex.ID == id {
			return ex, true
		}
	}
	return data.Example{}, false
}

func allSplits(ds *data.Dataset) []data.Example {
	var all []data.Example
	all = append(all, ds.Train...)
	all = append(all, ds.Dev...)
	return append(all, ds.Test...)
}
