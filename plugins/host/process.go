package host

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/ptbench/ptbench/internal/filehash"
	methodpb "github.com/ptbench/ptbench/plugins/proto"
	"github.com/ptbench/ptbench/plugins/wire"
)

// process is one running plugin binary.
type process struct {
	path   string
	client *plugin.Client
	cmd    *exec.Cmd
	stderr *tail
	exit   *exitWatcher
	once   sync.Once
}

// launch starts the plugin at path, completes the go-plugin handshake and returns its
// method client. On error no process is left running.
func launch(path string, opts Options) (*process, methodpb.MethodClient, error) {
	if err := checkBinary(path, opts.SHA256); err != nil {
		return nil, nil, err
	}
	p := &process{path: path, stderr: newTail(16 << 10), exit: &exitWatcher{}}
	var echo io.Writer = io.Discard
	if opts.Stderr != nil {
		echo = opts.Stderr
	}
	out := io.MultiWriter(p.stderr, echo)
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), opts.Env...) // opts.Env wins over ptbench's environment
	// Its own process group: a forced stop (see kill) also ends whatever the plugin started
	// (a wrapper script's child, say). Plugins never read the terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd = cmd
	p.client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  wire.Handshake,
		Plugins:          plugin.PluginSet{wire.PluginName: &wire.GRPCPlugin{}},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		SkipHostEnv:      true, // already in cmd.Env
		Logger: hclog.New(&hclog.LoggerOptions{Name: "plugin", Level: hclog.Info, JSONFormat: true,
			Output: p.exit}),
		Stderr:          out, // the raw stderr of the process (Go runtime panics land here)
		SyncStderr:      out, // what the plugin writes to os.Stderr
		SyncStdout:      echo,
		StartTimeout:    opts.timeout(),
		GRPCDialOptions: wire.DialOptions(),
	})
	rpc, err := p.client.Client()
	if err != nil {
		p.kill()
		return nil, nil, p.startError(err)
	}
	raw, err := rpc.Dispense(wire.PluginName)
	if err != nil {
		p.kill()
		return nil, nil, fmt.Errorf("plugin %s: %w", path, err)
	}
	mc, ok := raw.(methodpb.MethodClient)
	if !ok {
		p.kill()
		return nil, nil, fmt.Errorf("plugin %s: unexpected client type %T", path, raw)
	}
	return p, mc, nil
}

var pluginVersionRE = regexp.MustCompile(`Plugin version: (\d+)`)

// startError explains a failed start: a protocol version mismatch names both versions.
func (p *process) startError(err error) error {
	msg := err.Error()
	if m := pluginVersionRE.FindStringSubmatch(msg); m != nil && strings.Contains(msg, "incompatible API version") {
		return fmt.Errorf("plugin %s speaks method-plugin protocol version %s, but this ptbench speaks version %d: "+
			"rebuild the plugin against a matching github.com/ptbench/ptbench/plugins/sdk", p.path, m[1], wire.ProtocolVersion)
	}
	return fmt.Errorf("plugin %s failed to start: %v%s", p.path, err, p.stderrNote())
}

// crashed reports whether the process has ended, waiting up to wait for the exit to show.
func (p *process) crashed(wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for {
		if p.client.Exited() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exitStatus is how the process ended ("exit status 2"), if known.
func (p *process) exitStatus() string { return p.exit.status() }

func (p *process) stderrNote() string {
	var keep []string
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		if !strings.HasPrefix(line, `{"@level"`) { // go-plugin's own log lines
			keep = append(keep, line)
		}
	}
	s := strings.TrimSpace(strings.Join(keep, "\n"))
	if s == "" {
		return ""
	}
	return "\nplugin stderr (last lines):\n" + indent(lastLines(s, 20))
}

// Deadlines of kill's steps. gracefulStop bounds go-plugin's graceful shutdown (its Shutdown
// RPC has no deadline of its own, so a frozen plugin would hold it forever; a well-behaved
// plugin exits in milliseconds, one that ignores Shutdown is killed by go-plugin after 2 s);
// reapWait bounds the wait for the process to be reaped after SIGKILL.
var (
	gracefulStop = 5 * time.Second
	reapWait     = 5 * time.Second
)

// kill ends the process and waits for it (no zombie); safe to call twice. Every step has a
// deadline: a plugin that does not exit gracefully within gracefulStop (stopped with
// SIGSTOP, say) is sent SIGKILL, with its process group, and reaped.
func (p *process) kill() {
	p.once.Do(func() {
		pid := p.pid()
		done := make(chan struct{})
		go func() {
			defer close(done)
			p.client.Kill()
		}()
		select {
		case <-done:
			return
		case <-time.After(gracefulStop):
		}
		if pid > 0 {
			// The negative pid is the process group, which launch made; both are signalled
			// in case the plugin left the group. A stopped process dies of SIGKILL too.
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		// go-plugin's own goroutine reaps the process (cmd.Wait); Kill returns once it has,
		// its Shutdown RPC failing with the connection. Wait for both, within bounds.
		deadline := time.After(reapWait)
		select {
		case <-done:
		case <-deadline:
		}
		for !p.client.Exited() {
			select {
			case <-deadline:
				return // nothing more can be done without waiting forever
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
}

// pid is the process id, 0 if unknown.
func (p *process) pid() int {
	if rc := p.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	if p.cmd != nil && p.cmd.Process != nil { // started, but no handshake
		return p.cmd.Process.Pid
	}
	return 0
}

// checkBinary verifies that path is an executable file and, when pinned, its SHA-256.
func checkBinary(path, pin string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", path, err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("plugin %s is not an executable file", path)
	}
	if pin == "" {
		return nil
	}
	sum, err := filehash.SHA256(path)
	if err != nil {
		return err
	}
	if !strings.EqualFold(sum, pin) {
		return fmt.Errorf("plugin %s: SHA-256 mismatch: the file has %s, but %s was pinned (rebuilt or replaced binary?)", path, sum, strings.ToLower(pin))
	}
	return nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// exitWatcher reads go-plugin's JSON log lines and remembers how the process exited.
type exitWatcher struct {
	mu      sync.Mutex
	partial []byte
	exited  string
}

func (w *exitWatcher) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, b...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		var e struct {
			Msg   string `json:"@message"`
			Error string `json:"error"`
		}
		if json.Unmarshal(w.partial[:i], &e) == nil && e.Msg == "plugin process exited" {
			w.exited = e.Error
			if w.exited == "" {
				w.exited = "exit status 0"
			}
		}
		w.partial = w.partial[i+1:]
	}
	return len(b), nil
}

func (w *exitWatcher) status() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.exited
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }
