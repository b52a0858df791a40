package benchmarks

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/core/storage"
)

func TestFinishedKeys(t *testing.T) {
	rows := []storage.ResultRow{
		{RunKey: "ok", Status: "ok"},
		{RunKey: "div", Status: "diverged"},
		{RunKey: "fail", Status: "failed"},
		{RunKey: "fail-then-ok", Status: "failed"}, {RunKey: "fail-then-ok", Status: "ok"},
		{RunKey: "fail-twice", Status: "failed"}, {RunKey: "fail-twice", Status: "failed"},
	}
	cases := []struct {
		retry bool
		want  string // finished keys, sorted
	}{
		{true, "div,fail-then-ok,ok"},
		{false, "div,fail,fail-then-ok,fail-twice,ok"},
	}
	for _, c := range cases {
		done := FinishedKeys(rows, c.retry)
		var got []string
		for _, k := range []string{"div", "fail", "fail-then-ok", "fail-twice", "ok"} {
			if done[k] {
				got = append(got, k)
			}
		}
		if len(done) != len(got) || strings.Join(got, ",") != c.want {
			t.Errorf("retryFailed=%v: finished %v, want %s", c.retry, done, c.want)
		}
	}
}

func TestBoardUsesTheLatestRowPerRunKey(t *testing.T) {
	row := func(key, status string, score float64) storage.ResultRow {
		return storage.ResultRow{RunKey: key, Method: "pt", Label: "pt", Task: "rte", Benchmark: "GLUE", Status: status, TestScore: score}
	}
	rows := []storage.ResultRow{
		row("s1", "ok", 60), row("s1", "ok", 60), // the same run recorded twice: one seed
		row("s2", "failed", 0), row("s2", "ok", 70), // retried: the failure is history
		row("s3", "failed", 0), // failed, not retried yet
		row("", "ok", 80),      // no key (old rows): kept
	}
	latest := LatestPerKey(rows)
	var keys []string
	for _, r := range latest {
		keys = append(keys, r.RunKey+":"+r.Status)
	}
	if strings.Join(keys, ",") != "s1:ok,s2:ok,s3:failed,:ok" {
		t.Fatalf("latest rows %v", keys)
	}
	b := BuildBoard(rows)
	if len(b.Rows) != 1 {
		t.Fatalf("board %+v", b)
	}
	cell := b.Rows[0].Tasks["rte"]
	if cell.Seeds != 3 || cell.Mean != 70 || b.Rows[0].Failed != 1 {
		t.Fatalf("cell %+v failed %d; want 3 seeds (60, 70, 80), mean 70, 1 failed", cell, b.Rows[0].Failed)
	}
}

// flakyMethod is PT (length 4) that fails at Setup while flakyBroken is set: a cause outside
// its configuration (a missing file, a full disk), so its run key is the same either way.
type flakyMethod struct{ core.InputMethod }

var flakyBroken bool

func (m flakyMethod) Setup(env core.SetupEnv) error {
	if flakyBroken {
		return errors.New("flaky: the cause is not fixed yet")
	}
	return m.InputMethod.Setup(env)
}

func init() {
	core.RegisterMethod("test-flaky", "test only", func(map[string]any) (core.Method, error) {
		m, err := core.NewMethod("pt", map[string]any{"length": 4})
		if err != nil {
			return nil, err
		}
		return flakyMethod{m.(core.InputMethod)}, nil
	})
}

func TestFailedRunIsRetriedOnTheNextInvocation(t *testing.T) {
	defer func() { flakyBroken = false }()
	cases := []struct {
		name       string
		keepFailed bool
		want       Summary  // of the second invocation
		statuses   []string // rows after it
	}{
		{"retried by default", false, Summary{Ran: 1}, []string{"failed", "ok"}},
		{"kept with KeepFailed", true, Summary{Skipped: 1}, []string{"failed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			coretest.LockThread(t) // a subtest is a new goroutine; grad mode is per thread
			out := t.TempDir()
			flakyBroken = true
			sum, err := smallGrid(out, []string{"test-flaky"}, []int64{1}).Run()
			if err != nil || sum.Failed != 1 {
				t.Fatalf("first invocation: %+v, %v; want 1 failed", sum, err)
			}
			flakyBroken = false // the cause is fixed
			g := smallGrid(out, []string{"test-flaky"}, []int64{1})
			g.KeepFailed = c.keepFailed
			var log bytes.Buffer
			g.Log = &log
			if sum, err = g.Run(); err != nil {
				t.Fatal(err)
			}
			if sum != c.want {
				t.Fatalf("second invocation: %+v, want %+v\n%s", sum, c.want, log.String())
			}
			rows, err := storage.ReadResults(filepath.Join(out, storage.ResultsFile))
			if err != nil {
				t.Fatal(err)
			}
			var statuses []string
			for _, r := range rows {
				statuses = append(statuses, r.Status)
				if r.RunKey != rows[0].RunKey {
					t.Errorf("run keys differ: %s, %s", r.RunKey, rows[0].RunKey)
				}
			}
			if strings.Join(statuses, ",") != strings.Join(c.statuses, ",") {
				t.Fatalf("rows %v, want %v", statuses, c.statuses)
			}
			if !c.keepFailed {
				if !strings.Contains(rows[0].Error, "not fixed yet") || !strings.Contains(log.String(), "1 failed runs in results.jsonl are not done") {
					t.Errorf("failed row %q, log %q", rows[0].Error, log.String())
				}
				b := BuildBoard(rows)
				if b.Rows[0].Failed != 0 || b.Rows[0].Tasks["syn-keyword"].Seeds != 1 {
					t.Errorf("leaderboard counts the old failure: %+v", b.Rows[0])
				}
				// Done now: a third invocation skips it.
				if sum, err := smallGrid(out, []string{"test-flaky"}, []int64{1}).Run(); err != nil || sum != (Summary{Skipped: 1}) {
					t.Errorf("third invocation: %+v, %v", sum, err)
				}
			}
		})
	}
}

func TestTornLastLineIsMovedAsideAndResumeContinues(t *testing.T) {
	coretest.LockThread(t)
	out := t.TempDir()
	if sum, err := smallGrid(out, []string{"pt"}, []int64{1}).Run(); err != nil || sum.Ran != 1 {
		t.Fatalf("first grid: %+v, %v", sum, err)
	}
	results := filepath.Join(out, storage.ResultsFile)
	f, err := os.OpenFile(results, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	torn := `{"run_key":"pt.syn-keyword.s2.0123456789","status":"o`
	f.WriteString(torn) // a write cut short
	f.Close()
	orphan := filepath.Join(out, "checkpoints", ".pt.syn-keyword.s2.x.safetensors.tmp-99")
	os.WriteFile(orphan, []byte("half a checkpoint"), 0o644)

	g := smallGrid(out, []string{"pt"}, []int64{1, 2})
	var log bytes.Buffer
	g.Log = &log
	sum, err := g.Run()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Ran != 1 || sum.Skipped != 1 {
		t.Fatalf("resumed grid: %+v, want 1 ran and 1 skipped", sum)
	}
	rows, err := storage.ReadResults(results)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Seed != 1 || rows[1].Seed != 2 {
		t.Fatalf("rows %+v", rows)
	}
	if corrupt, _ := os.ReadFile(results + ".corrupt"); string(corrupt) != torn+"\n" {
		t.Fatalf(".corrupt holds %q", corrupt)
	}
	if !strings.Contains(log.String(), "warning: "+results+": the last line was cut short") {
		t.Errorf("no warning in %q", log.String())
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan temp checkpoint still there")
	}
}

func TestGridNoWaitFailsWhileAnotherWrites(t *testing.T) {
	out := t.TempDir()
	other, err := storage.OpenResults(out, storage.ResultsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	g := smallGrid(out, []string{"pt"}, []int64{1})
	g.Backbone = filepath.Join(out, "no-such-backbone") // never reached: the lock comes first
	g.NoWait = true
	_, err = g.Run()
	var le *storage.LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() {
		t.Fatalf("error %v, want the folder's lock naming pid %d", err, os.Getpid())
	}
}
