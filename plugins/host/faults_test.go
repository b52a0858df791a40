package host

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/internal/filehash"
	"github.com/ptbench/ptbench/plugins/wire"
)

// faultRun opens the test plugin with a fault injected at the fault-at-th Forward, trains
// until an error and returns it (nil if every step passed).
func faultRun(t *testing.T, fault string, at string, timeout time.Duration) (error, *Method) {
	t.Helper()
	bb := openTiny(t)
	srcs, tgts := fixedBatches(3, 2, bb.Info().Vocab)
	m, err := Open("testpt", testPlugin, map[string]any{"length": 4},
		Options{CallTimeout: timeout, Env: []string{"PTBENCH_TESTPLUGIN_FAULT=" + fault, "PTBENCH_TESTPLUGIN_FAULT_AT=" + at}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, MaxSourceLen: 64}); err != nil {
		m.Close()
		t.Fatal(err)
	}
	opt := core.NewAdamW(nil)
	defer opt.Close()
	for s := range srcs {
		if _, err := core.TrainStep(bb, m, opt, srcs[s], tgts[s], 0, 1, 1); err != nil {
			return err, m
		}
	}
	return nil, m
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

// TestPluginFaultsGiveClearErrors: a plugin that crashes, hangs past the deadline, returns a
// tensor of the wrong shape, returns NaN or returns an error fails its run with an error that
// says which and why; the process is gone after Close (no zombie).
func TestPluginFaultsGiveClearErrors(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cases := []struct {
		fault   string
		timeout time.Duration
		want    []string
	}{
		{"crash", 0, []string{"plugin testpt", "crashed during Forward", "exit status 2", "panic: testplugin: simulated crash"}},
		{"hang", time.Second, []string{"plugin testpt", "Forward did not answer within 1s", "hung?"}},
		{"shape", 0, []string{"plugin testpt", "prefix of shape [4 65]", "want [4 64] or [2 4 64]"}},
		{"nan", 0, []string{"plugin testpt", "non-finite value (NaN) in its prefix (element 3"}},
		{"error", 0, []string{"plugin testpt: Forward:", "simulated failure at Forward 2"}},
	}
	for _, c := range cases {
		t.Run(c.fault, func(t *testing.T) {
			// A subtest runs on its own goroutine: pin it too (grad mode is per OS thread).
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			start := time.Now()
			err, m := faultRun(t, c.fault, "2", c.timeout) // step 1 passes, step 2 fails
			wantErr(t, err, c.want...)
			t.Logf("%s: %v (after %v)", c.fault, err, time.Since(start).Round(time.Millisecond))
			pid := m.PID()
			if pid == 0 {
				t.Fatal("no pid")
			}
			switch c.fault {
			case "crash", "hang": // the plugin is stopped; later calls repeat the error
				_, err2 := m.Transform(core.Input{}, false)
				if err2 == nil || err2.Error() != err.Error() {
					t.Errorf("after the failure, a call returned %v; want the same error again", err2)
				}
			}
			m.Close()
			if _, err := os.Stat("/proc/" + itoa(pid)); err == nil {
				t.Errorf("plugin process %d still exists after Close", pid)
			}
			assertNoChildren(t)
		})
	}
}

// TestPluginVersionMismatch: a plugin built for another protocol version is refused at start
// with an error naming both versions.
func TestPluginVersionMismatch(t *testing.T) {
	_, err := Open("testpt", testPlugin, nil, Options{Env: []string{"PTBENCH_TESTPLUGIN_FAULT=version"}})
	wantErr(t, err, "protocol version 99", "ptbench speaks version "+itoa(wire.ProtocolVersion))
	assertNoChildren(t)
}

// TestPluginConfigErrors: unknown keys and bad values are the plugin's own clear errors;
// host settings are validated by the host.
func TestPluginConfigErrors(t *testing.T) {
	_, err := Open("testpt", testPlugin, map[string]any{"lenght": 4}, Options{})
	wantErr(t, err, "plugin testpt: Configure", `unknown field "lenght"`)
	_, err = Open("testpt", testPlugin, map[string]any{"length": -1}, Options{})
	wantErr(t, err, "length must be > 0")
	_, err = Open("testpt", testPlugin, map[string]any{"plugin_timeout": "soon"}, Options{})
	wantErr(t, err, "plugin_timeout")
	assertNoChildren(t)
}

// TestPluginSHA256Pinning: a pinned digest must match the binary.
func TestPluginSHA256Pinning(t *testing.T) {
	sum, err := filehash.SHA256(testPlugin)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open("testpt", testPlugin, nil, Options{SHA256: sum})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	bad := strings.Repeat("0", 64)
	_, err = Open("testpt", testPlugin, nil, Options{SHA256: bad})
	wantErr(t, err, "SHA-256 mismatch", sum, bad)
	assertNoChildren(t)
}

func itoa(i int) string { return strconv.Itoa(i) }
