package host

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ptbench/ptbench/benchmarks"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/storage"
)

// TestFrozenPluginDoesNotHangTheHost: a plugin stopped with SIGSTOP mid-run (it can answer
// nothing, not even go-plugin's graceful Shutdown) fails its run within its call deadline plus
// the bounded shutdown, and is killed and reaped: no child process remains.
func TestFrozenPluginDoesNotHangTheHost(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	bb := openTiny(t)
	srcs, tgts := fixedBatches(2, 2, bb.Info().Vocab)
	const deadline = 2 * time.Second
	m, err := Open("testpt", testPlugin, map[string]any{"length": 4}, Options{CallTimeout: deadline})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, MaxSourceLen: 64}); err != nil {
		t.Fatal(err)
	}
	opt := core.NewAdamW(nil)
	defer opt.Close()
	if _, err := core.TrainStep(bb, m, opt, srcs[0], tgts[0], 0, 1, 1); err != nil {
		t.Fatal(err)
	}
	pid := m.PID()
	if pid == 0 {
		t.Fatal("no pid")
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGKILL) // if the test fails, do not leave it stopped
	waitStopped(t, pid)

	start := time.Now()
	finished := make(chan error, 1)
	go func() {
		_, err := core.TrainStep(bb, m, opt, srcs[1], tgts[1], 0, 1, 1)
		m.Close() // the shutdown must be bounded too
		finished <- err
	}()
	// Generous: the call deadline, the graceful-stop deadline, the reap deadline, and slack.
	limit := deadline + gracefulStop + reapWait + 10*time.Second
	select {
	case err = <-finished:
	case <-time.After(limit):
		t.Fatalf("the run with a stopped plugin did not end within %v", limit)
	}
	t.Logf("ended after %v: %v", time.Since(start).Round(time.Millisecond), err)
	wantErr(t, err, "plugin testpt", "Forward did not answer within 2s")
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("kill(%d, 0) = %v after the run; want ESRCH (process gone and reaped)", pid, err)
	}
	assertNoChildren(t)
}

// TestGridPluginThatFailsToStartFailsItsRunOnly: plugins that exit at once (/bin/true) or
// print garbage instead of the handshake fail their own runs, recorded with a clear error;
// the grid goes on and the next run completes; no process is left.
func TestGridPluginThatFailsToStartFailsItsRunOnly(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	garbage := filepath.Join(t.TempDir(), "ptbench-method-garbage")
	if err := os.WriteFile(garbage, []byte("#!/bin/sh\necho 'this is not a handshake'\necho oops >&2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	specs := []string{"plugin:/bin/true", "plugin:" + garbage}
	if err := RegisterPlugins(append(specs, "pt")); err != nil {
		t.Fatal(err)
	}
	g := benchmarks.Grid{Methods: append(specs, "pt"), Tasks: []string{"syn-parity"}, Seeds: []int64{1},
		MethodConfigs: map[string]map[string]any{specs[0]: {"plugin_timeout": 5}, specs[1]: {"plugin_timeout": 5}, "pt": {"length": 4}},
		Backbone:      "t5-tiny", Data: core.DataOptions{Offline: true, CacheDir: t.TempDir()},
		Train:  core.TrainOptions{Steps: 2, BatchSize: 2, EvalLimit: 2, TestLimit: 2, MaxNewTokens: 2},
		OutDir: t.TempDir()}
	sum, err := g.Run()
	if err != nil {
		t.Fatalf("the grid stopped: %v", err)
	}
	rows, err := (&storage.ResultStore{Path: filepath.Join(g.OutDir, "results.jsonl")}).Read()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d result rows, want 3 (%+v)", len(rows), sum)
	}
	for i, want := range [][]string{
		{"plugin /bin/true failed to start"},
		{"plugin " + garbage + " failed to start", "this is not a handshake"},
	} {
		r := rows[i]
		if r.Method != specs[i] || r.Status != "failed" {
			t.Errorf("row %d: method %s status %q; want %s failed", i, r.Method, r.Status, specs[i])
		}
		for _, w := range want {
			if !strings.Contains(r.Error, w) {
				t.Errorf("row %d error %q does not mention %q", i, r.Error, w)
			}
		}
	}
	if rows[2].Method != "pt" || rows[2].Status != "ok" || rows[2].Test == nil {
		t.Errorf("the run after the failed starts: %s %q %q, want pt ok with a test score", rows[2].Method, rows[2].Status, rows[2].Error)
	}
	assertNoChildren(t)

	// A configuration the plugin rejects still stops the grid before anything runs: every
	// run with it would fail the same way.
	spec := "plugin:" + testPlugin
	if err := RegisterPlugins([]string{spec}); err != nil {
		t.Fatal(err)
	}
	g.Methods, g.OutDir = []string{spec}, t.TempDir()
	g.MethodConfigs = map[string]map[string]any{spec: {"lenght": 4}}
	_, err = g.Run()
	wantErr(t, err, `unknown field "lenght"`)
	assertNoChildren(t)
}

// waitStopped waits until every thread of pid is in the stopped state: kill(SIGSTOP) returns
// before a thread running on another core has stopped, and such a thread could still answer
// the next call (the test would then see a later call time out instead of Forward).
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		tasks, _ := filepath.Glob("/proc/" + itoa(pid) + "/task/*/stat")
		stopped := len(tasks) > 0
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			// The state follows the parenthesised command name: "pid (comm) T ...".
			if i := strings.LastIndexByte(string(b), ')'); err != nil || i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
				stopped = false
				break
			}
		}
		if stopped {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin process %d did not stop within 5s of SIGSTOP", pid)
		}
		time.Sleep(time.Millisecond)
	}
}
