package benchmarks

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/storage"
)

// An unreadable artefact is moved aside and trained again under its own name, with a warning;
// before, it failed every run that needed it while `sources train` found it "present".
func TestCorruptArtefactIsRetrained(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	g := smallGrid(out, nil, []int64{1})
	var log bytes.Buffer
	g.Log = &log
	spec := MethodSpec{Name: "spot", Config: map[string]any{"source": "syn-parity", "length": 3, "source_steps": 3}}
	names, err := g.TrainSources([]MethodSpec{spec})
	if err != nil || len(names) != 1 {
		t.Fatalf("trained %v, %v", names, err)
	}
	path := filepath.Join(out, artefactDir, storage.SafeFileName(names[0])+".safetensors")
	if err := os.WriteFile(path, []byte("not a safetensors file"), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := g.TrainSources([]MethodSpec{spec})
	if err != nil || len(again) != 1 || again[0] != names[0] {
		t.Fatalf("after corrupting it: %v, %v", again, err)
	}
	if _, err := loadArtefact(names[0], path); err != nil {
		t.Fatalf("the retrained artefact does not load: %v", err)
	}
	if b, err := os.ReadFile(path + ".corrupt"); err != nil || string(b) != "not a safetensors file" {
		t.Fatalf("the corrupt file was not kept aside: %q %v", b, err)
	}
	if !strings.Contains(log.String(), "unreadable") {
		t.Fatalf("no warning in the log:\n%s", log.String())
	}
	rows, _ := storage.ReadResults(filepath.Join(out, storage.ResultsFile))
	if s, _ := countSources(rows); s != 2 {
		t.Fatalf("%d source rows, want 2 (trained, then trained again)", s)
	}
}
