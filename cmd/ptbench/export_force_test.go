package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// export refuses an OUT folder that already holds files unless --force (before, an earlier
// adapter there was replaced silently); an empty or missing folder is fine.
func TestExportRefusesAFolderWithFilesWithoutForce(t *testing.T) {
	res := t.TempDir()
	full := filepath.Join(t.TempDir(), "adapter")
	os.MkdirAll(full, 0o755)
	os.WriteFile(filepath.Join(full, "adapter_config.json"), []byte("{}"), 0o644)
	_, err := execute("export", "nope.rte.s1.0", "--results", res, "--out", full)
	if err == nil || !strings.Contains(err.Error(), "already holds files (adapter_config.json)") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("export into a folder with files: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(full, "adapter_config.json")); string(b) != "{}" {
		t.Fatal("the existing file changed")
	}
	// With --force (or into an empty or new folder) export goes on to look up the run.
	empty := t.TempDir()
	for _, args := range [][]string{{"--out", full, "--force"}, {"--out", empty}, {"--out", filepath.Join(empty, "new")}} {
		_, err := execute(append([]string{"export", "nope.rte.s1.0", "--results", res}, args...)...)
		if err == nil || !strings.Contains(err.Error(), `run "nope.rte.s1.0" is not in`) {
			t.Fatalf("%v: %v, want the run lookup's error", args, err)
		}
	}
	file := filepath.Join(empty, "a-file")
	os.WriteFile(file, nil, 0o644)
	if _, err := execute("export", "nope.rte.s1.0", "--results", res, "--out", file); err == nil || !strings.Contains(err.Error(), "is a file") {
		t.Fatalf("--out a file: %v", err)
	}
}
