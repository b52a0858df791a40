package host

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/benchmarks"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/storage"
	_ "github.com/ptbench/ptbench/tasks"
)

// TestGridRecordsFailedPluginRunAndGoesOn: through `ptbench run`'s machinery (RegisterPlugins +
// benchmarks.Grid), a crashing plugin's run is recorded as failed with the plugin's error, the
// next method still runs, a healthy plugin PT run gets the built-in PT's loss and scores, its
// state lands in the checkpoint, and no plugin process is left behind.
func TestGridRecordsFailedPluginRunAndGoesOn(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	spec := "plugin:" + testPlugin
	if err := RegisterPlugins([]string{spec, "pt"}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	grid := func(fault string) []storage.ResultRow {
		t.Setenv("PTBENCH_TESTPLUGIN_FAULT", fault)
		g := benchmarks.Grid{Methods: []string{spec, "pt"}, Tasks: []string{"syn-parity"}, Seeds: []int64{1},
			MethodConfigs: map[string]map[string]any{spec: {"length": 4}, "pt": {"length": 4}},
			Backbone:      "t5-tiny", Data: core.DataOptions{Offline: true, CacheDir: t.TempDir()},
			Train:  core.TrainOptions{Steps: 2, BatchSize: 2, EvalLimit: 2, TestLimit: 2, MaxNewTokens: 2},
			OutDir: filepath.Join(out, fault)}
		sum, err := g.Run()
		if err != nil {
			t.Fatal(err)
		}
		rows, err := (&storage.ResultStore{Path: filepath.Join(g.OutDir, "results.jsonl")}).Read()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("fault %q: %+v", fault, sum)
		return rows
	}

	rows := grid("crash")
	if len(rows) != 2 {
		t.Fatalf("%d result rows, want 2", len(rows))
	}
	if rows[0].Method != spec || rows[0].Status != "failed" || !strings.Contains(rows[0].Error, "crashed during Forward") {
		t.Errorf("plugin row: status %q error %q; want failed with the crash", rows[0].Status, rows[0].Error)
	}
	if rows[1].Method != "pt" || rows[1].Status != "ok" {
		t.Errorf("the run after the crash: %s %q %q, want pt ok", rows[1].Method, rows[1].Status, rows[1].Error)
	}
	assertNoChildren(t)

	rows = grid("")
	if rows[0].Status != "ok" || rows[0].TrainableParams != 4*64 || rows[0].Label != "testpt" || rows[0].Test == nil {
		t.Fatalf("healthy plugin row (want ok, 256 parameters, label testpt, a test score): %+v", rows[0])
	}
	// The whole trainer (evaluation, best-dev restore, test) gives the plugin PT the built-in's results.
	if rows[0].FinalLoss != rows[1].FinalLoss || rows[0].DevScore != rows[1].DevScore || rows[0].TestScore != rows[1].TestScore {
		t.Errorf("plugin PT vs built-in PT: final loss %v / %v, dev %v / %v, test %v / %v", rows[0].FinalLoss, rows[1].FinalLoss,
			rows[0].DevScore, rows[1].DevScore, rows[0].TestScore, rows[1].TestScore)
	}
	ckpt, err := core.LoadTorchFile(filepath.Join(out, rows[0].Checkpoint)) // OutDir of fault "" is out
	if err != nil {
		t.Fatalf("checkpoint %s: %v", rows[0].Checkpoint, err)
	}
	p, ok := ckpt["prompt"]
	if !ok || p.Numel() != 4*64 {
		t.Errorf("checkpoint tensors %v, want the plugin's prompt [4 64]", ckpt)
	}
	for _, v := range ckpt {
		v.MustDrop()
	}
	assertNoChildren(t)
}
