package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesOrKeepsTheOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "f.txt")
	if err := WriteBytes(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o600)
	boom := errors.New("boom")
	err := Write(path, func(w io.Writer) error {
		w.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("a failed write changed the file to %q", b)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Fatalf("temp file left behind: %v", entries)
	}
	if err := WriteBytes(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if b, _ := os.ReadFile(path); string(b) != "new" || st.Mode().Perm() != 0o600 {
		t.Fatalf("content %q mode %v", b, st.Mode().Perm())
	}
}

func TestRemoveOrphansRemovesOnlyWantedTemps(t *testing.T) {
	dir := t.TempDir()
	// A real temp of Write's making, as a killed writer leaves it.
	tmp, err := os.CreateTemp(dir, ".results.jsonl.tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	tmp.Close()
	for _, name := range []string{"results.jsonl", ".bench.jsonl.tmp-77", ".lock", ".tmp-5", ".x.tmp-", "a.tmp-3"} {
		os.WriteFile(filepath.Join(dir, name), nil, 0o644)
	}
	os.Mkdir(filepath.Join(dir, ".d.tmp-9"), 0o755) // not a regular file: kept
	removed, err := RemoveOrphans(dir, func(target string) bool { return target == "results.jsonl" })
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != tmp.Name() {
		t.Fatalf("removed %v, want only %s", removed, tmp.Name())
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 7 {
		t.Fatalf("left %v", left)
	}
	if removed, _ := RemoveOrphans(dir, nil); len(removed) != 1 || filepath.Base(removed[0]) != ".bench.jsonl.tmp-77" {
		t.Fatalf("removed %v, want the bench temp", removed)
	}
	if removed, err := RemoveOrphans(filepath.Join(dir, "missing"), nil); err != nil || removed != nil {
		t.Fatalf("missing dir: %v %v", removed, err)
	}
}

func TestTempTarget(t *testing.T) {
	cases := []struct {
		name, target string
		ok           bool
	}{
		{".results.jsonl.tmp-123", "results.jsonl", true},
		{".a.tmp-b.tmp-4", "a.tmp-b", true},
		{"results.jsonl", "", false},
		{".tmp-1", "", false},
		{".x.tmp-", "", false},
		{"x.tmp-1", "", false},
	}
	for _, c := range cases {
		if target, ok := TempTarget(c.name); target != c.target || ok != c.ok {
			t.Errorf("TempTarget(%q) = %q, %v; want %q, %v", c.name, target, ok, c.target, c.ok)
		}
	}
}
