package tasks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/data"
)

// dataDir is the repository's copy of the official task files (full validation files of the
// small tasks, slices of the large ones; testdata/README.md says which).
const dataDir = "../testdata/data"

// requireData returns the path of rel under dataDir; a file missing from the repository fails
// the test.
func requireData(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(dataDir, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test data %s missing from the repository: %v", p, err)
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
