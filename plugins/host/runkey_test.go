package host

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ptbench/ptbench/benchmarks"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/storage"
)

// A plugin that failed to start (here: it speaks another protocol version) records its row
// under the key its successful retry gets, so the retry supersedes the failure; before, the
// failed row was keyed by "(not started)" and counted as a failure of that run forever.
func TestPluginFailedStartSharesItsRetrysKey(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	spec := "plugin:" + testPlugin
	if err := RegisterPlugins([]string{spec}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	grid := func(fault string) {
		t.Setenv("PTBENCH_TESTPLUGIN_FAULT", fault)
		g := benchmarks.Grid{Methods: []string{spec}, Tasks: []string{"syn-parity"}, Seeds: []int64{1},
			MethodConfigs: map[string]map[string]any{spec: {"length": 4, "plugin_timeout": 20}},
			Backbone:      "t5-tiny", Data: core.DataOptions{Offline: true, CacheDir: t.TempDir()},
			Train:  core.TrainOptions{Steps: 2, BatchSize: 2, EvalLimit: 2, TestLimit: 2, MaxNewTokens: 2},
			OutDir: out}
		if _, err := g.Run(); err != nil {
			t.Fatal(err)
		}
	}
	grid("version")
	grid("")
	rows, err := storage.ReadResults(filepath.Join(out, storage.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Status != "failed" || rows[1].Status != "ok" {
		t.Fatalf("rows %+v, want a failed start then an ok retry", rows)
	}
	if rows[0].RunKey != rows[1].RunKey {
		t.Fatalf("the failed start is keyed %s, its retry %s: the failure would count forever", rows[0].RunKey, rows[1].RunKey)
	}
	if latest := benchmarks.LatestPerKey(rows); len(latest) != 1 || latest[0].Status != "ok" {
		t.Fatalf("latest per key %+v, want the ok retry only", latest)
	}
	assertNoChildren(t)
}
