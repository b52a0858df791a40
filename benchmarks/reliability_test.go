package benchmarks

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/storage"
)

// TestLibtorchErrorFailsOnlyItsRun: a prompt of 10^8 soft tokens makes libtorch fail to
// allocate its embeddings (10^8 x 64 floats = 25.6 GB, more than this machine's memory and
// swap, so the kernel refuses the mapping). gotch's Must* wrappers used to log.Fatal (the
// process exited, nothing was recorded); patched by scripts/setup-gotch.sh they panic with the
// torch error, which the grid records as the run's error; the next run completes.
func TestLibtorchErrorFailsOnlyItsRun(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	g := smallGrid(out, []string{"pt"}, []int64{1})
	g.MethodConfigs = map[string]map[string]any{"pt": {"length": 100000000}}
	sum, err := g.Run()
	if err != nil {
		t.Fatalf("the grid stopped: %v", err)
	}
	if sum.Failed != 1 {
		t.Fatalf("summary %+v, want 1 failed", sum)
	}
	g = smallGrid(out, []string{"pt"}, []int64{1}) // pt with length 4
	if sum, err = g.Run(); err != nil {
		t.Fatalf("the next grid stopped: %v", err)
	}
	rows, err := storage.ReadResults(filepath.Join(out, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2: %+v", len(rows), rows)
	}
	r := rows[0]
	t.Logf("failed row's error: %.300s", r.Error)
	if r.Status != "failed" || !strings.Contains(r.Error, "allocate") || !strings.Contains(r.Error, "DefaultCPUAllocator") {
		t.Errorf("huge prompt: status %q error %q; want failed with libtorch's allocation error", r.Status, r.Error)
	}
	if rows[1].Status != "ok" || rows[1].TrainableParams != 4*64 || rows[1].Test == nil {
		t.Errorf("the run after it: %+v; want ok", rows[1])
	}
}
