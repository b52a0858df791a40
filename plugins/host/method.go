// Package host runs method plugins inside ptbench: Method is a core.Method (an InputMethod
// whose parameters live in the plugin, so also an ExternalOptimizer, a ParamCounter and a
// StateSaver) that talks to a plugin process over gRPC (hashicorp/go-plugin), or to an SDK
// method compiled into the binary. Discovery finds plugin binaries by name or path.
//
// Per training step: Transform sends the batch's mask (and the input embeddings the plugin
// declared it needs), turns the plugin's outputs into leaf tensors that require grad, and
// builds the backbone's input from them (core.AddOffset, core.PrependPrompt); the trainer's
// backward pass fills their gradients; AfterBackward sends those gradients back and the plugin
// updates its parameters.
package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sugarme/gotch/ts"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ptbench/ptbench/core"
	methodpb "github.com/ptbench/ptbench/plugins/proto"
	"github.com/ptbench/ptbench/plugins/sdk"
	"github.com/ptbench/ptbench/plugins/wire"
)

// DefaultCallTimeout bounds each call to a plugin (and its start) unless configured.
const DefaultCallTimeout = 60 * time.Second

// Host-side settings, taken out of a method's settings before the rest goes to the plugin.
const (
	keyTimeout = "plugin_timeout"    // seconds (number) or a Go duration string
	keyWire    = "plugin_wire_dtype" // "float32" or "bfloat16"
)

// Method is a plugin (or an SDK method compiled in) as a core.Method.
type Method struct {
	name   string // as the user named it ("residual", "plugin:./bin/x")
	source string // the binary's path, or "in-process"
	opts   Options
	wire   methodpb.DType
	rpc    methodpb.MethodClient
	proc   *process // nil in process
	info   *methodpb.DescribeResponse
	config map[string]any
	runKey any // runkey.go: what run keys hash (set by openForRun; nil: Config)

	dModel, prefixLen, trainable int64
	dev                          core.Device // the backbone's: where the plugin's outputs and state go
	gradNorm                     float64
	pending                      [2]*ts.Tensor // prefix and offset leaves of the latest training Transform
	broken                       error

	// mirror is a copy of the plugin's state that ParamGroups hands to the trainer, so that its
	// best-dev snapshot and restore work: refreshed from the plugin before an evaluation that
	// follows training, pushed back when the trainer restored it. synced holds the values last
	// exchanged; dirty says the plugin trained since.
	mirror []core.NamedTensor
	synced [][]float32
	dirty  bool
}

var (
	_ core.InputMethod       = (*Method)(nil)
	_ core.ExternalOptimizer = (*Method)(nil)
	_ core.ParamCounter      = (*Method)(nil)
	_ core.StateSaver        = (*Method)(nil)
	_ core.Labeler           = (*Method)(nil)
)

// Open starts the plugin binary at path and configures it with raw (the method's settings;
// plugin_timeout and plugin_wire_dtype are taken by the host). name is how results call it.
// Close the method to stop the process.
func Open(name, path string, raw map[string]any, opts Options) (*Method, error) {
	return open(name, raw, opts, func(o Options) (*process, methodpb.MethodClient, string, error) {
		proc, rpc, err := launch(path, o)
		return proc, rpc, path, err
	})
}

// NewInProcess builds an SDK method compiled into this binary as a core.Method: the same
// code path as a plugin (the SDK's server, the same tensor encoding) without a process.
// Deadlines do not apply in process.
func NewInProcess(name string, p sdk.Plugin, raw map[string]any) (*Method, error) {
	return open(name, raw, Options{}, func(Options) (*process, methodpb.MethodClient, string, error) {
		return nil, directClient{sdk.NewServer(p)}, "in-process", nil
	})
}

func open(name string, raw map[string]any, opts Options,
	start func(Options) (*process, methodpb.MethodClient, string, error)) (*Method, error) {
	rest, err := opts.takeHostKeys(raw)
	if err != nil {
		return nil, err
	}
	dt, err := opts.wireDType()
	if err != nil {
		return nil, err
	}
	proc, rpc, source, err := start(opts)
	if err != nil {
		return nil, &StartError{Err: err}
	}
	m := &Method{name: name, source: source, opts: opts, wire: dt, rpc: rpc, proc: proc}
	if err := m.configure(rest); err != nil {
		m.Close()
		var rej *configRejected
		if errors.As(err, &rej) {
			return nil, rej.err
		}
		return nil, &StartError{Err: err}
	}
	return m, nil
}

// StartError is a plugin that could not be started and configured: the binary is missing,
// not a plugin, speaks another protocol, crashed, hung or misbehaved before it answered its
// configuration. (A configuration the plugin rejected is an ordinary error.)
type StartError struct{ Err error }

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// configRejected is the plugin's own answer to Configure: the settings are wrong, so every
// run with them would fail.
type configRejected struct{ err error }

func (e *configRejected) Error() string { return e.err.Error() }

// openForRun is Open for the method registry: a plugin that fails to start fails its run
// only. It returns a Method whose Setup (and every other call) returns the start error, so
// the grid records that run as failed and goes on; configuration errors (bad host settings,
// settings the plugin rejects) are still returned, since every run would fail the same way.
func openForRun(name, path string, raw map[string]any, opts Options) (*Method, error) {
	m, err := Open(name, path, raw, opts)
	if err == nil {
		m.runKey = runKeyConfig(path, raw)
	}
	var se *StartError
	if err == nil || !errors.As(err, &se) {
		return m, err
	}
	cfg := map[string]any{}
	for k, v := range raw {
		if k != keyTimeout && k != keyWire {
			cfg[k] = v
		}
	}
	cfg["_plugin"] = "(not started)"
	return &Method{name: name, source: path, opts: opts, config: cfg, broken: se.Err, runKey: runKeyConfig(path, raw)}, nil
}

// RegisterInProcess registers an SDK method under name in ptbench's method registry, compiled
// in: call it from an init function and blank-import the package, like a built-in method.
func RegisterInProcess(name string, p sdk.Plugin) {
	core.RegisterMethod(name, p.Info.About, func(raw map[string]any) (core.Method, error) {
		return NewInProcess(name, p, raw)
	})
}

func (m *Method) configure(raw map[string]any) error {
	var err error
	if err = m.call("Describe", func(ctx context.Context) error {
		m.info, err = m.rpc.Describe(ctx, &methodpb.DescribeRequest{})
		return err
	}); err != nil {
		return err
	}
	if v := m.info.ProtocolVersion; v != wire.ProtocolVersion {
		return fmt.Errorf("plugin %s speaks method-plugin protocol version %d, but this ptbench speaks version %d", m.source, v, wire.ProtocolVersion)
	}
	if !m.info.Prefix && !m.info.Offset {
		return fmt.Errorf("plugin %s declares neither a prefix nor an offset output", m.source)
	}
	cj, err := json.Marshal(raw)
	if err != nil {
		return fmt.Errorf("method %s: config: %w", m.name, err)
	}
	var resp *methodpb.ConfigureResponse
	if err = m.call("Configure", func(ctx context.Context) error {
		resp, err = m.rpc.Configure(ctx, &methodpb.ConfigureRequest{ConfigJson: string(cj)})
		return err
	}); err != nil {
		if m.broken == nil { // the plugin answered: it rejects these settings
			return &configRejected{withValidSettings(m.name, m.info, raw, err)}
		}
		return err
	}
	m.config = map[string]any{}
	if err := json.Unmarshal([]byte(resp.ResolvedConfigJson), &m.config); err != nil {
		return fmt.Errorf("plugin %s: resolved config is not a JSON object: %w", m.source, err)
	}
	m.config["_plugin"] = m.info.Name + "@" + m.info.Version
	return nil
}

// Info is the plugin's self-description.
func (m *Method) Info() *methodpb.DescribeResponse { return m.info }

// Source is the binary's path ("in-process" when compiled in).
func (m *Method) Source() string { return m.source }

// Config is the plugin's resolved configuration plus "_plugin": "name@version".
func (m *Method) Config() any { return m.config }

// Label is the plugin's leaderboard label (its name by default).
func (m *Method) Label() string {
	if m.info == nil { // never started
		return m.name
	}
	if m.info.Label != "" {
		return m.info.Label
	}
	return m.info.Name
}

// ParamGroups holds a mirror of the plugin's state, not its parameters: the plugin owns those
// and its optimiser (see AfterBackward). The mirror never has gradients, so the trainer's
// AdamW and clipping skip it; it lets the trainer snapshot the best-dev state and restore it
// for the test evaluation (Transform in evaluation synchronises it with the plugin).
func (m *Method) ParamGroups() []core.ParamGroup {
	if len(m.mirror) == 0 {
		return nil
	}
	return []core.ParamGroup{{Name: "plugin-state (mirror)", Params: m.mirror}}
}

// TrainableParams is the plugin's parameter count (known after Setup).
func (m *Method) TrainableParams() int64 { return m.trainable }

// PromptLength is m, the number of encoder positions the prefix adds.
func (m *Method) PromptLength() int { return int(m.prefixLen) }

// Setup lets the plugin create its parameters, sending it the embedding rows and token ids
// it asks for.
func (m *Method) Setup(env core.SetupEnv) error {
	if m.broken != nil { // failed to start (see openForRun) or closed
		return m.broken
	}
	bi := env.Backbone.Info()
	m.dModel, m.dev = bi.DModel, env.Backbone.Device()
	req := &methodpb.SetupRequest{DModel: bi.DModel, Vocab: bi.Vocab, Seed: env.Seed,
		MaxSourceLen: int64(env.MaxSourceLen), Task: env.Task, Tasks: env.Tasks, Backbone: bi.Name}
	resp, err := m.setup(req)
	if err != nil {
		return err
	}
	if n := resp.Needs; n != nil && (len(n.EmbeddingRows) > 0 || len(n.Texts) > 0) {
		if err := provide(env.Backbone, n, req); err != nil {
			return fmt.Errorf("plugin %s: %w", m.name, err)
		}
		if resp, err = m.setup(req); err != nil {
			return err
		}
		if n := resp.Needs; n != nil && (len(n.EmbeddingRows) > 0 || len(n.Texts) > 0) {
			return fmt.Errorf("plugin %s asked for embeddings again after receiving them", m.name)
		}
	}
	if m.info.Prefix != (resp.PrefixLen > 0) {
		return fmt.Errorf("plugin %s: prefix length %d does not match its declared prefix output (%v)", m.name, resp.PrefixLen, m.info.Prefix)
	}
	m.prefixLen, m.trainable = resp.PrefixLen, resp.TrainableParams
	return m.pull()
}

func (m *Method) setup(req *methodpb.SetupRequest) (resp *methodpb.SetupResponse, err error) {
	err = m.call("Setup", func(ctx context.Context) error {
		resp, err = m.rpc.Setup(ctx, req)
		return err
	})
	return resp, err
}

// provide fills req's second round: the asked rows, then each text's tokens and their rows.
func provide(bb core.Backbone, n *methodpb.Needs, req *methodpb.SetupRequest) error {
	ids := append([]int64(nil), n.EmbeddingRows...)
	for _, text := range n.Texts {
		var toks []int64
		for _, id := range bb.Tokenizer().Encode(text) {
			toks = append(toks, int64(id))
		}
		req.Texts = append(req.Texts, &methodpb.TokenizedText{Text: text, Ids: toks})
		ids = append(ids, toks...)
	}
	vocab := bb.Info().Vocab
	for _, id := range ids {
		if id < 0 || id >= vocab {
			return fmt.Errorf("asked for embedding row %d of a %d-row vocabulary", id, vocab)
		}
	}
	req.Provided, req.RowIds = true, ids
	if len(ids) == 0 {
		return nil
	}
	// A libtorch failure here is this run's Setup error, not a panic.
	var err error
	ts.NoGrad(func() {
		var t, emb *ts.Tensor
		if t, err = ts.OfSlice(ids); err != nil {
			return
		}
		if t, err = t.View([]int64{1, int64(len(ids))}, true); err != nil {
			return
		}
		if t, err = bb.Device().Move(t); err != nil {
			return
		}
		emb = bb.Embed(t)
		t.MustDrop()
		if emb, err = emb.View([]int64{int64(len(ids)), bb.Info().DModel}, true); err != nil {
			return
		}
		req.Rows = encodeTorch(emb, methodpb.DType_DTYPE_F32)
		emb.MustDrop()
	})
	if err != nil {
		return fmt.Errorf("embedding rows for the plugin: %w", err)
	}
	return nil
}

// Transform asks the plugin for this batch's outputs and applies them: the offset is added to
// the input embeddings, then the prefix is prepended. In training the outputs are leaf
// tensors requiring grad, kept until AfterBackward.
func (m *Method) Transform(in core.Input, train bool) (core.Input, error) {
	m.dropPending()
	if m.broken != nil {
		return core.Input{}, m.broken
	}
	es := in.Embeds.MustSize()
	if len(es) != 3 || es[2] != m.dModel {
		return core.Input{}, fmt.Errorf("plugin %s: input embeddings of shape %v, want [B L %d]", m.name, es, m.dModel)
	}
	B, L := es[0], es[1]
	if !train {
		if err := m.sync(); err != nil {
			return core.Input{}, err
		}
	}
	req := &methodpb.ForwardRequest{Batch: B, Length: L, Train: train, Mask: encodeTorch(in.Mask, m.wire), WireDtype: m.wire}
	if b := in.Batch; b != nil { // the batch context: step and each row's task
		req.Step = int64(b.Step)
		for _, t := range b.Tasks {
			req.Tasks = append(req.Tasks, int32(t))
		}
	}
	if err := m.inputs(in, req); err != nil {
		return core.Input{}, err
	}
	var resp *methodpb.ForwardResponse
	var err error
	if err = m.call("Forward", func(ctx context.Context) error {
		resp, err = m.rpc.Forward(ctx, req)
		return err
	}); err != nil {
		return core.Input{}, err
	}
	prefix, offset, err := m.outputs(resp, B, L)
	if err != nil {
		return core.Input{}, err
	}
	x, err := apply(in, prefix, offset)
	if err != nil {
		dropAll(prefix, offset)
		return core.Input{}, fmt.Errorf("plugin %s: %w", m.name, err)
	}
	if train {
		m.pending = [2]*ts.Tensor{prefix, offset}
	} else {
		dropAll(prefix, offset)
	}
	return x, nil
}

// Close stops the plugin process (and waits for it); safe to call twice.
func (m *Method) Close() {
	m.dropPending()
	core.DropNamed(m.mirror)
	m.mirror = nil
	if m.proc != nil {
		m.proc.kill()
	}
	if m.broken == nil {
		m.broken = fmt.Errorf("plugin %s: %w", m.name, errClosed)
	}
}

// PID is the plugin's process id (0 in process or before start).
func (m *Method) PID() int {
	if m.proc == nil {
		return 0
	}
	return m.proc.pid()
}

// call runs one RPC under the call deadline and turns failures into clear errors. A hang or
// a crash stops the plugin; later calls return the same error.
func (m *Method) call(what string, f func(ctx context.Context) error) error {
	if m.broken != nil {
		return m.broken
	}
	timeout := m.opts.timeout()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := f(ctx)
	if err == nil {
		return nil
	}
	st, _ := status.FromError(err)
	switch {
	case m.proc != nil && (ctx.Err() == context.DeadlineExceeded || st.Code() == codes.DeadlineExceeded):
		m.broken = fmt.Errorf("plugin %s (%s): %s did not answer within %v (hung?); the plugin was stopped (the deadline is the method setting %s or $PTBENCH_PLUGIN_TIMEOUT)",
			m.name, m.source, what, timeout, keyTimeout)
		m.proc.kill()
		return m.broken
	case m.proc != nil && (st.Code() == codes.Unavailable || st.Code() == codes.Canceled) && m.proc.crashed(3*time.Second):
		how := m.proc.exitStatus()
		if how == "" {
			how = "exited"
		}
		m.broken = fmt.Errorf("plugin %s (%s) crashed during %s (%s)%s", m.name, m.source, what, how, m.proc.stderrNote())
		m.proc.kill()
		return m.broken
	case st.Code() == codes.Unavailable && m.proc != nil:
		m.broken = fmt.Errorf("plugin %s (%s): connection lost during %s: %s; the plugin was stopped", m.name, m.source, what, st.Message())
		m.proc.kill()
		return m.broken
	}
	return fmt.Errorf("plugin %s: %s: %s", m.name, what, st.Message())
}

var errClosed = fmt.Errorf("closed")
