package benchmarks

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"testing"

	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/engine"
	"github.com/ptbench/ptbench/core/storage"
)

// parallelGrid is the grid both the parent and its workers build (12 runs).
func parallelGrid(out string) *Grid {
	g := smallGrid(out, []string{"pt", "spot", "test-ft"}, []int64{1, 2})
	g.Tasks = []string{"syn-keyword", "syn-parity"}
	g.MethodConfigs["spot"] = map[string]any{"source": "syn-keyword", "length": 4, "source_steps": 3}
	return g
}

// TestMain lets the test binary act as a --jobs worker: the parent test re-executes it with
// PTBENCH_TEST_WORKER=i/N and the worker's folders in the environment.
func TestMain(m *testing.M) {
	if w := os.Getenv("PTBENCH_TEST_WORKER"); w != "" {
		runtime.LockOSThread()
		engine.InitTorch(1)
		g := parallelGrid(os.Getenv("PTBENCH_TEST_OUT"))
		fmt.Sscanf(w, "%d/%d", &g.Worker, &g.Workers)
		g.ArtefactDir, g.ResumeFrom = os.Getenv("PTBENCH_TEST_ARTEFACTS"), os.Getenv("PTBENCH_TEST_RESUME")
		g.Log = os.Stderr
		if _, err := g.Run(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A --jobs 2 grid gives the rows of the same grid in one process: the same run keys, the
// same final losses (bit for bit here: both single-threaded), checkpoints beside the results,
// sources trained once by the parent; a second invocation runs nothing.
func TestParallelGridMatchesSerial(t *testing.T) {
	coretest.LockThread(t)
	serialOut, parOut := t.TempDir(), t.TempDir()
	if _, err := parallelGrid(serialOut).Run(); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := func(i int, dir string) (*exec.Cmd, error) {
		c := exec.Command(exe, "-test.run", "^$")
		c.Env = append(os.Environ(), fmt.Sprintf("PTBENCH_TEST_WORKER=%d/2", i), "PTBENCH_TEST_OUT="+dir,
			"PTBENCH_TEST_ARTEFACTS="+filepath.Join(parOut, "artefacts"), "PTBENCH_TEST_RESUME="+filepath.Join(parOut, storage.ResultsFile))
		c.Stderr = &PrefixWriter{W: os.Stderr, Prefix: fmt.Sprintf("[worker %d] ", i)}
		return c, c.Start()
	}
	g := parallelGrid(parOut)
	sum, err := g.RunParallel(2, start)
	if err != nil || sum.Ran != 12 {
		t.Fatalf("parallel grid %+v, %v", sum, err)
	}
	byKey := func(dir string) map[string]storage.ResultRow {
		rows, err := storage.ReadResults(filepath.Join(dir, storage.ResultsFile))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]storage.ResultRow{}
		for _, r := range rows {
			if _, dup := out[r.RunKey]; dup {
				t.Errorf("%s recorded twice", r.RunKey)
			}
			out[r.RunKey] = r
		}
		return out
	}
	serial, par := byKey(serialOut), byKey(parOut)
	var keys []string
	for k := range serial {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(par) != len(serial) || len(serial) != 13 { // 12 runs + SPoT's source
		t.Fatalf("%d rows in parallel, %d serial", len(par), len(serial))
	}
	for _, k := range keys {
		s, p := serial[k], par[k]
		if p.Status != s.Status || p.FinalLoss != s.FinalLoss || p.TestScore != s.TestScore {
			t.Errorf("%s: serial %s %v %v, parallel %s %v %v", k, s.Status, s.FinalLoss, s.TestScore, p.Status, p.FinalLoss, p.TestScore)
		}
		if p.Checkpoint != "" {
			if _, err := os.Stat(filepath.Join(parOut, p.Checkpoint)); err != nil {
				t.Errorf("%s: checkpoint %v", k, err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(parOut, ".workers")); !os.IsNotExist(err) {
		t.Errorf("workers' folders left behind: %v", err)
	}
	if sum, err := parallelGrid(parOut).RunParallel(2, start); err != nil || sum.Ran != 0 {
		t.Fatalf("second invocation: %+v, %v", sum, err)
	}
}
