// Package testfix finds the repository's own test data: the folder testdata/ at the
// repository root (see its README.md for where each file comes from and its licence).
//
// The fixtures are part of the repository, so a missing file is a test failure, never a
// skip: a fresh clone tests exactly as much as CI does.
package testfix

import (
	"os"
	"path/filepath"
	"testing"
)

// Root is the repository's testdata folder, found by walking up from the working directory
// to go.mod ("" when there is no go.mod above, e.g. a copied test binary).
func Root() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Path returns the path of rel (slash-separated) under the repository's testdata folder; a
// file that is not there fails the test at once.
func Path(tb testing.TB, rel string) string {
	tb.Helper()
	root := Root()
	if root == "" {
		tb.Fatalf("test fixture %s: no go.mod above the working directory", rel)
	}
	p := filepath.Join(root, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("test fixture %s missing from the repository's testdata: %v", rel, err)
	}
	return p
}

// Read returns the contents of rel under the testdata folder (a missing or unreadable file
// fails the test).
func Read(tb testing.TB, rel string) []byte {
	tb.Helper()
	b, err := os.ReadFile(Path(tb, rel))
	if err != nil {
		tb.Fatalf("test fixture %s: %v", rel, err)
	}
	return b
}
