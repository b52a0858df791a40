package storage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// The helper process: a child of the tests below (the test binary re-executed), one writer.
//
//	grid:    open the store with the lock (waiting), append a row for every key not yet in
//	         the file, close: what a grid does.
//	per-row: the same, but take the lock for each row separately (the most interleaving).
//	hold:    open without waiting, say "locked" on stdout, then hold the lock until killed.
func TestResultsLockHelperProcess(t *testing.T) {
	mode := os.Getenv("PTBENCH_LOCK_CHILD")
	if mode == "" {
		t.Skip("helper process for the results-lock tests")
	}
	dir := os.Getenv("PTBENCH_LOCK_DIR")
	keys := strings.Split(os.Getenv("PTBENCH_LOCK_KEYS"), ",")
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	appendMissing := func(s *ResultStore, keys []string) {
		rows, err := s.Read()
		if err != nil {
			fail(err)
		}
		done := map[string]bool{}
		for _, r := range rows {
			done[r.RunKey] = true
		}
		for _, k := range keys {
			if !done[k] {
				if err := s.Append(ResultRow{RunKey: k, Status: "ok", Label: mode}); err != nil {
					fail(err)
				}
			}
		}
	}
	switch mode {
	case "grid":
		s, err := OpenResults(dir, ResultsOptions{Wait: true, Log: os.Stderr})
		if err != nil {
			fail(err)
		}
		appendMissing(s, keys)
		s.Close()
	case "per-row":
		for _, k := range keys {
			s, err := OpenResults(dir, ResultsOptions{Wait: true, Log: os.Stderr})
			if err != nil {
				fail(err)
			}
			appendMissing(s, []string{k})
			s.Close()
		}
	case "hold":
		if _, err := OpenResults(dir, ResultsOptions{}); err != nil {
			fail(err)
		}
		fmt.Println("locked")
		select {} // until SIGKILL
	}
	os.Exit(0)
}

func helper(t *testing.T, mode, dir string, keys []string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestResultsLockHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PTBENCH_LOCK_CHILD="+mode, "PTBENCH_LOCK_DIR="+dir,
		"PTBENCH_LOCK_KEYS="+strings.Join(keys, ","))
	return cmd
}

func keyRange(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func TestConcurrentWritersKeepOneRowPerKey(t *testing.T) {
	const n = 25
	cases := []struct {
		name, mode string
		a, b       []string
	}{
		{"same keys, lock per grid", "grid", keyRange("k", n), keyRange("k", n)},
		{"different keys, lock per grid", "grid", keyRange("a", n), keyRange("b", n)},
		{"same keys, lock per row", "per-row", keyRange("k", n), keyRange("k", n)},
		{"different keys, lock per row", "per-row", keyRange("a", n), keyRange("b", n)},
		{"overlapping keys, lock per row", "per-row", keyRange("k", n), append(keyRange("k", n/2), keyRange("b", n)...)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "runs")
			var stderr [2]bytes.Buffer
			children := []*exec.Cmd{helper(t, c.mode, dir, c.a), helper(t, c.mode, dir, c.b)}
			for i, ch := range children {
				ch.Stderr = &stderr[i]
				if err := ch.Start(); err != nil {
					t.Fatal(err)
				}
			}
			for i, ch := range children {
				if err := ch.Wait(); err != nil {
					t.Fatalf("child %d: %v\n%s", i, err, stderr[i].String())
				}
			}
			rows, err := ReadResults(filepath.Join(dir, ResultsFile))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for _, k := range append(append([]string{}, c.a...), c.b...) {
				want[k] = true
			}
			seen := map[string]int{}
			for _, r := range rows {
				seen[r.RunKey]++
			}
			for k := range want {
				if seen[k] != 1 {
					t.Errorf("key %s: %d rows, want exactly 1", k, seen[k])
				}
			}
			if len(rows) != len(want) {
				t.Errorf("%d rows for %d keys", len(rows), len(want))
			}
		})
	}
}

func TestLockHeldByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	child := helper(t, "hold", dir, nil)
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	child.Stderr = &stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("child said %q, %v\n%s", line, err, stderr.String())
	}

	// A second writer with NoWait fails at once, naming the holder.
	_, err = OpenResults(dir, ResultsOptions{})
	var le *LockedError
	if !errors.As(err, &le) || le.PID != child.Process.Pid {
		t.Fatalf("error %v, want a LockedError naming pid %d", err, child.Process.Pid)
	}
	wantMsg := fmt.Sprintf("%s is locked by pid %d (started ", filepath.Join(dir, ResultsFile), child.Process.Pid)
	if !strings.Contains(err.Error(), wantMsg) {
		t.Fatalf("message %q, want it to contain %q", err, wantMsg)
	}

	// Killed while holding the lock: the kernel drops it, nothing stale blocks.
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	s, err := OpenResults(dir, ResultsOptions{})
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	defer s.Close()
	if err := s.Append(ResultRow{RunKey: "x", Status: "ok"}); err != nil {
		t.Fatal(err)
	}
}

// signalWriter reports the first write containing want.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	hit  chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.hit) })
	}
	return len(p), nil
}

func TestSecondOpenerWaitsOrFailsFast(t *testing.T) {
	dir := t.TempDir()
	first, err := OpenResults(dir, ResultsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// NoWait: fails fast, naming this process.
	_, err = OpenResults(dir, ResultsOptions{})
	var le *LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() || !strings.Contains(err.Error(), fmt.Sprintf("locked by pid %d", os.Getpid())) {
		t.Fatalf("error %v, want one naming pid %d", err, os.Getpid())
	}

	// Wait: says so, then proceeds once the first store is closed.
	log := &signalWriter{want: "waiting — pass --no-wait to fail instead", hit: make(chan struct{})}
	var firstClosed atomic.Bool
	type opened struct {
		s                *ResultStore
		err              error
		afterFirstClosed bool
	}
	got := make(chan opened, 1)
	go func() {
		s, err := OpenResults(dir, ResultsOptions{Wait: true, Log: log})
		got <- opened{s, err, firstClosed.Load()}
	}()
	<-log.hit
	if err := first.Append(ResultRow{RunKey: "first", Status: "ok"}); err != nil {
		t.Fatal(err)
	}
	firstClosed.Store(true)
	first.Close()
	second := <-got
	if second.err != nil {
		t.Fatal(second.err)
	}
	defer second.s.Close()
	if !second.afterFirstClosed {
		t.Fatal("the waiting opener got the lock while the first store was open")
	}
	if !strings.Contains(log.buf.String(), fmt.Sprintf("results.jsonl is locked by pid %d (started ", os.Getpid())) {
		t.Fatalf("waiting message %q", log.buf.String())
	}
	rows, err := second.s.Read()
	if err != nil || len(rows) != 1 || rows[0].RunKey != "first" {
		t.Fatalf("rows %v, err %v", rows, err)
	}
	if err := first.Append(ResultRow{RunKey: "late"}); err == nil {
		t.Fatal("append through a closed store succeeded")
	}
	if err := first.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestOpenResultsMovesATornLastLineAside(t *testing.T) {
	ok := func(k string) string { return fmt.Sprintf(`{"run_key":%q,"status":"ok"}`, k) }
	cases := []struct {
		name, content string
		keys          []string // rows kept
		moved         string   // appended to .corrupt ("" = nothing)
		errLine       string   // OpenResults fails naming this file:line
	}{
		{"torn last line", ok("a") + "\n" + ok("b") + "\n" + `{"run_key":"c","sta`, []string{"a", "b"}, `{"run_key":"c","sta`, ""},
		{"torn only line", `{"run_`, nil, `{"run_`, ""},
		{"complete last line without newline", ok("a") + "\n" + ok("b"), []string{"a", "b"}, "", ""},
		{"clean file", ok("a") + "\n", []string{"a"}, "", ""},
		{"damage in the middle", ok("a") + "\n{oops\n" + ok("b") + "\n", nil, "", "results.jsonl:2"},
		{"damage before a torn line", ok("a") + "\n{oops\n" + `{"run_key":"c"`, nil, "", "results.jsonl:2"},
		{"bad last line with its newline", ok("a") + "\n{oops\n", nil, "", "results.jsonl:2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, ResultsFile)
			os.WriteFile(path, []byte(c.content), 0o644)
			os.WriteFile(path+".corrupt", []byte("earlier\n"), 0o644)
			var log bytes.Buffer
			s, err := OpenResults(dir, ResultsOptions{Log: &log})
			if c.errLine != "" {
				if err == nil || !strings.Contains(err.Error(), c.errLine) {
					t.Fatalf("error %v, want one naming %s", err, c.errLine)
				}
				if raw, _ := os.ReadFile(path); string(raw) != c.content {
					t.Fatal("a damaged file was changed")
				}
				// The failed open released the lock.
				if _, err := OpenResults(dir, ResultsOptions{}); errors.As(err, new(*LockedError)) {
					t.Fatal("a failed open kept the lock")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			rows, err := s.Read()
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, r := range rows {
				keys = append(keys, r.RunKey)
			}
			if strings.Join(keys, ",") != strings.Join(c.keys, ",") {
				t.Fatalf("rows %v, want %v", keys, c.keys)
			}
			corrupt, _ := os.ReadFile(path + ".corrupt")
			wantCorrupt := "earlier\n"
			if c.moved != "" {
				wantCorrupt += c.moved + "\n"
				if !strings.Contains(log.String(), "warning: "+path+": the last line was cut short") {
					t.Errorf("log %q, want a warning", log.String())
				}
			}
			if string(corrupt) != wantCorrupt {
				t.Fatalf(".corrupt holds %q, want %q", corrupt, wantCorrupt)
			}
			// And the store appends after the repaired file.
			if err := s.Append(ResultRow{RunKey: "z", Status: "ok"}); err != nil {
				t.Fatal(err)
			}
			if rows, err := s.Read(); err != nil || rows[len(rows)-1].RunKey != "z" || len(rows) != len(c.keys)+1 {
				t.Fatalf("after append: %v rows, err %v", len(rows), err)
			}
		})
	}
}

func TestReadResultsLenientReturnsTheTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), ResultsFile)
	os.WriteFile(path, []byte(`{"run_key":"a","status":"ok"}`+"\n"+`{"run_key":"b`), 0o644)
	if _, err := ReadResults(path); err == nil || !strings.Contains(err.Error(), "results.jsonl:2") {
		t.Fatalf("strict read: %v", err)
	}
	rows, torn, err := ReadResultsLenient(path)
	if err != nil || len(rows) != 1 || string(torn) != `{"run_key":"b` {
		t.Fatalf("rows %v torn %q err %v", rows, torn, err)
	}
	os.WriteFile(path, []byte(`{"run_key":"a","status":"ok"}`+"\n{x\n"+`{"run_key":"b`), 0o644)
	if _, _, err := ReadResultsLenient(path); err == nil || !strings.Contains(err.Error(), "results.jsonl:2") {
		t.Fatalf("middle damage: %v", err)
	}
	if rows, torn, err := ReadResultsLenient(filepath.Join(t.TempDir(), "none")); rows != nil || torn != nil || err != nil {
		t.Fatal("a missing file is not empty")
	}
}

func TestOpenResultsRemovesOrphanTempFiles(t *testing.T) {
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "checkpoints")
	os.MkdirAll(ckpt, 0o755)
	os.MkdirAll(filepath.Join(dir, "artefacts"), 0o755)
	orphans := []string{
		filepath.Join(dir, ".results.jsonl.tmp-123456"),
		filepath.Join(dir, ".leaderboard.md.tmp-42"),
		filepath.Join(ckpt, ".pt.syn-keyword.s1.abc.safetensors.tmp-777"),
		filepath.Join(dir, "artefacts", ".pt-src.safetensors.tmp-5"),
	}
	kept := []string{
		filepath.Join(dir, ".bench.jsonl.tmp-9"), // bench takes no lock: not ours to remove
		filepath.Join(dir, "leaderboard.md"),
		filepath.Join(ckpt, "pt.syn-keyword.s1.abc.safetensors"),
	}
	for _, p := range append(append([]string{}, orphans...), kept...) {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	s, err := OpenResults(dir, ResultsOptions{Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range orphans {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there", p)
		}
	}
	for _, p := range kept {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	if !strings.Contains(log.String(), "removed 4 temp files") {
		t.Errorf("log %q", log.String())
	}
}

var _ io.Writer = (*signalWriter)(nil)
