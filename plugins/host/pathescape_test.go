package host

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ptbench/ptbench/benchmarks"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/storage"
)

// A plugin named by a relative path with "../" (the plugin:../../../../tmp/x/…) keeps
// its checkpoint inside --out: the run key holds the path, and its file name is the key made
// a plain file name. Before, OUT/checkpoints/plugin:../../../../evil/… resolved to
// OUT/../evil/… ("plugin:.." is a folder name, each further ".." climbs one level).
func TestPluginPathWithDotDotCannotLeaveOut(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	base := t.TempDir()
	evil := filepath.Join(base, "evil", "ptbench-method-evil")
	copyFile(t, testPlugin, evil)
	cwd := filepath.Join(base, "a", "b", "c", "d")
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(cwd)
	spec := "plugin:../../../../evil/ptbench-method-evil"
	if err := RegisterPlugins([]string{spec}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(base, "runs", "x")
	g := benchmarks.Grid{Methods: []string{spec}, Tasks: []string{"syn-parity"}, Seeds: []int64{1},
		MethodConfigs: map[string]map[string]any{spec: {"length": 4}},
		Backbone:      "t5-tiny", Data: core.DataOptions{Offline: true, CacheDir: t.TempDir()},
		Train:  core.TrainOptions{Steps: 2, BatchSize: 2, EvalLimit: 2, TestLimit: 2, MaxNewTokens: 2},
		OutDir: out}
	if _, err := g.Run(); err != nil {
		t.Fatal(err)
	}
	rows, err := (&storage.ResultStore{Path: filepath.Join(out, storage.ResultsFile)}).Read()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Status != "ok" {
		t.Fatalf("rows %+v, want one ok row", rows)
	}
	if !filepath.IsLocal(rows[0].Checkpoint) {
		t.Fatalf("checkpoint %q is not inside --out", rows[0].Checkpoint)
	}
	if _, err := os.Stat(filepath.Join(out, rows[0].Checkpoint)); err != nil {
		t.Fatalf("checkpoint not under --out: %v", err)
	}
	// Nothing was written beside --out (runs/evil is where the old path landed).
	ents, err := os.ReadDir(filepath.Join(base, "runs"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "x" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("runs/ holds %v, want only x", names)
	}
	assertNoChildren(t)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
