// Package sharedfix finds the workplace's reference material (fixtures, official data files)
// for tests: the folder "shared" beside the repository root. The product never needs it; tests
// that use it as seeds or references call Read or Path.
//
// Outside CI a missing shared folder only loses those seeds (the test logs it and goes on);
// with CI=true it fails the test, so CI never silently runs with less.
package sharedfix

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir is the shared folder: ../shared relative to the repository root (found by walking up
// from the working directory to go.mod), or "" when there is no go.mod above.
func Dir() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Path returns the path of rel (slash-separated) under the shared folder, or "" when that file
// does not exist: logged outside CI, a test failure when $CI is "true".
func Path(tb testing.TB, rel string) string {
	tb.Helper()
	d := Dir()
	p := filepath.Join(d, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil || d == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("shared fixture %s missing under CI: %v", rel, err)
		}
		tb.Logf("shared fixture %s not available (%v); going on without it", rel, err)
		return ""
	}
	return p
}

// Read returns the contents of rel under the shared folder, or nil when it is absent (see
// Path for how absence is treated).
func Read(tb testing.TB, rel string) []byte {
	tb.Helper()
	p := Path(tb, rel)
	if p == "" {
		return nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatalf("shared fixture %s: %v", rel, err)
	}
	return b
}
