package filehash

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSHA256(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		want          string // hex digest; empty: an error naming the path
	}{
		{"empty", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"missing", "", ""},
	} {
		path := filepath.Join(dir, tc.name)
		if tc.want != "" {
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := SHA256(path)
		switch {
		case tc.want == "" && (err == nil || !strings.Contains(err.Error(), path)):
			t.Errorf("%s: got %q, %v; want an error naming %s", tc.name, got, err, path)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("%s: got %q, %v; want %s", tc.name, got, err, tc.want)
		}
	}
	// A directory opens but cannot be read: the error names it too.
	if _, err := SHA256(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("directory: error %v, want one naming %s", err, dir)
	}
}
