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
	"io"
	"math"
	"os"
	"strings"
	"time"
	"unsafe"

	"github.com/sugarme/gotch"
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

// Options control how a plugin runs. Zero values take the defaults.
type Options struct {
	// CallTimeout bounds each call (Setup, Forward, Backward, ...). 0: the method setting
	// plugin_timeout, else $PTBENCH_PLUGIN_TIMEOUT (a Go duration or seconds), else 60 s.
	CallTimeout time.Duration
	// SHA256, when set, is the hex digest the binary must have.
	SHA256 string
	// Wire is the tensor encoding: "float32" (default, exact) or "bfloat16" (half the bytes).
	Wire string
	// Env is added to the plugin's environment (which inherits ptbench's).
	Env []string
	// Stderr receives the plugin's stderr as it comes (nil: only kept for error messages;
	// $PTBENCH_PLUGIN_DEBUG=1 sends it to ptbench's stderr).
	Stderr io.Writer
}

func (o Options) timeout() time.Duration {
	if o.CallTimeout > 0 {
		return o.CallTimeout
	}
	if d, err := parseDuration(os.Getenv("PTBENCH_PLUGIN_TIMEOUT")); err == nil && d > 0 {
		return d
	}
	return DefaultCallTimeout
}

// Host-side settings, taken out of a method's settings before the rest goes to the plugin.
const (
	keyTimeout = "plugin_timeout"    // seconds (number) or a Go duration string
	keyWire    = "plugin_wire_dtype" // "float32" or "bfloat16"
)

func (o *Options) takeHostKeys(raw map[string]any) (map[string]any, error) {
	rest := map[string]any{}
	for k, v := range raw {
		switch k {
		case keyTimeout:
			d, err := parseDuration(strings.TrimSpace(fmt.Sprint(v)))
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("%s: want seconds or a duration like 90s, more than 0 and at most %v, got %v", keyTimeout, MaxCallTimeout, v)
			}
			o.CallTimeout = d
		case keyWire:
			o.Wire = fmt.Sprint(v)
		default:
			rest[k] = v
		}
	}
	if o.Stderr == nil && os.Getenv("PTBENCH_PLUGIN_DEBUG") == "1" {
		o.Stderr = os.Stderr
	}
	return rest, nil
}

func (o Options) wireDType() (methodpb.DType, error) {
	switch o.Wire {
	case "", "float32", "f32":
		return methodpb.DType_DTYPE_F32, nil
	case "bfloat16", "bf16":
		return methodpb.DType_DTYPE_BF16, nil
	}
	return 0, fmt.Errorf("%s must be float32 or bfloat16, got %q", keyWire, o.Wire)
}

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
	m.dModel = bi.DModel
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
	var rows *methodpb.Tensor
	ts.NoGrad(func() {
		t := ts.MustOfSlice(ids).MustView([]int64{1, int64(len(ids))}, true)
		emb := bb.Embed(t)
		t.MustDrop()
		e2 := emb.MustView([]int64{int64(len(ids)), bb.Info().DModel}, true)
		rows = encodeTorch(e2, methodpb.DType_DTYPE_F32)
		e2.MustDrop()
	})
	req.Rows = rows
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

// apply adds the offset to the input embeddings, then prepends the prefix: H0 = [P ; E + O].
func apply(in core.Input, prefix, offset *ts.Tensor) (core.Input, error) {
	x := core.Input{Embeds: in.Embeds.MustShallowClone(), Mask: in.Mask.MustShallowClone()}
	for _, s := range []struct {
		t *ts.Tensor
		f func(core.Input, *ts.Tensor) (core.Input, error)
	}{{offset, core.AddOffset}, {prefix, core.PrependPrompt}} {
		if s.t == nil {
			continue
		}
		y, err := s.f(x, s.t)
		x.Drop()
		if err != nil {
			return core.Input{}, err
		}
		x = y
	}
	return x, nil
}

func dropAll(ts ...*ts.Tensor) {
	for _, t := range ts {
		if t != nil {
			t.MustDrop()
		}
	}
}

// inputs adds the input embeddings the plugin declared it needs.
func (m *Method) inputs(in core.Input, req *methodpb.ForwardRequest) error {
	kind := m.info.Input
	if kind == methodpb.InputKind_INPUT_NONE {
		return nil
	}
	ts.NoGrad(func() {
		switch kind {
		case methodpb.InputKind_INPUT_FULL:
			req.Embeds = encodeTorch(in.Embeds, m.wire)
		case methodpb.InputKind_INPUT_POOLED_MEAN:
			mask := in.Mask.MustUnsqueeze(-1, false)
			sum := in.Embeds.MustMul(mask, false).MustSumDimIntlist([]int64{1}, false, gotch.Float, true)
			cnt := mask.MustSumDimIntlist([]int64{1}, false, gotch.Float, true).MustClampMin(ts.FloatScalar(1), true)
			pooled := sum.MustDiv(cnt, true)
			cnt.MustDrop()
			req.Embeds = encodeTorch(pooled, m.wire)
			pooled.MustDrop()
		case methodpb.InputKind_INPUT_POOLED_MAX:
			pad := in.Mask.MustUnsqueeze(-1, false).MustLe(ts.FloatScalar(0.5), true)
			filled := in.Embeds.MustMaskedFill(pad, ts.FloatScalar(-3.4028234663852886e38), false)
			pad.MustDrop()
			pooled := filled.MustAmax([]int64{1}, false, true)
			req.Embeds = encodeTorch(pooled, m.wire)
			pooled.MustDrop()
		}
	})
	if req.Embeds == nil {
		return fmt.Errorf("plugin %s declares an unknown input kind %v", m.name, kind)
	}
	return nil
}

// outputs checks the plugin's outputs (declared kinds, shapes, finite values) and makes them
// leaf tensors; in training they require grad.
func (m *Method) outputs(resp *methodpb.ForwardResponse, B, L int64) (prefix, offset *ts.Tensor, err error) {
	d := m.dModel
	check := func(what string, t *methodpb.Tensor, declared bool, shapeOK func([]int64) bool, want string) (*ts.Tensor, error) {
		if t == nil {
			if declared {
				return nil, fmt.Errorf("plugin %s: Forward returned no %s, but the plugin declares one", m.name, what)
			}
			return nil, nil
		}
		if !declared {
			return nil, fmt.Errorf("plugin %s: Forward returned a %s it did not declare", m.name, what)
		}
		shape, data, err := wire.Decode(t)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: Forward returned a malformed %s: %v", m.name, what, err)
		}
		if !shapeOK(shape) {
			return nil, fmt.Errorf("plugin %s: Forward returned a %s of shape %v, want %s", m.name, what, shape, want)
		}
		if i := wire.FirstNonFinite(data); i >= 0 {
			return nil, fmt.Errorf("plugin %s: Forward returned a non-finite value (%v) in its %s (element %d of shape %v)", m.name, data[i], what, i, shape)
		}
		out, err := ts.OfDataSize(f32View(data), shape, gotch.Float)
		if err != nil {
			return nil, err
		}
		out.MustRequiresGrad_(true)
		return out, nil
	}
	mm := m.prefixLen
	prefix, err = check("prefix", resp.Prefix, m.info.Prefix, func(s []int64) bool {
		return (len(s) == 2 && s[0] == mm && s[1] == d) || (len(s) == 3 && s[0] == B && s[1] == mm && s[2] == d)
	}, fmt.Sprintf("[%d %d] or [%d %d %d]", mm, d, B, mm, d))
	if err != nil {
		return nil, nil, err
	}
	offset, err = check("offset", resp.Offset, m.info.Offset, func(s []int64) bool {
		return (len(s) == 2 && s[0] >= L && s[1] == d) || (len(s) == 3 && s[0] == B && s[1] == L && s[2] == d)
	}, fmt.Sprintf("[s %d] with s ≥ %d, or [%d %d %d]", d, L, B, L, d))
	if err != nil {
		dropAll(prefix)
		return nil, nil, err
	}
	return prefix, offset, nil
}

// AfterBackward sends the gradients of the latest training outputs to the plugin, which
// clips them (maxGradNorm, 0 = off) and updates its parameters.
func (m *Method) AfterBackward(lrFactor, maxGradNorm float64) error {
	if m.pending == [2]*ts.Tensor{} {
		return nil
	}
	defer m.dropPending()
	m.dirty = true
	req := &methodpb.BackwardRequest{LrFactor: lrFactor, MaxGradNorm: maxGradNorm}
	for i, leaf := range m.pending {
		if leaf == nil {
			continue
		}
		g := leaf.MustGrad(false)
		if !g.MustDefined() { // the loss did not depend on this output
			g.MustDrop()
			g = leaf.MustZerosLike(false)
		}
		enc := encodeTorch(g, m.wire)
		g.MustDrop()
		if i == 0 {
			req.GradPrefix = enc
		} else {
			req.GradOffset = enc
		}
	}
	return m.call("Backward", func(ctx context.Context) error {
		resp, err := m.rpc.Backward(ctx, req)
		if err == nil {
			m.gradNorm = resp.GradNorm
		}
		return err
	})
}

// GradNorm is the global gradient norm (before clipping) the plugin reported for the latest
// step.
func (m *Method) GradNorm() float64 { return m.gradNorm }

func (m *Method) dropPending() {
	dropAll(m.pending[:]...)
	m.pending = [2]*ts.Tensor{}
}

// SaveState returns the plugin's state as named float32 tensors (caller drops them); a state
// the trainer restored into the mirror is the plugin's state.
func (m *Method) SaveState() ([]core.NamedTensor, error) {
	if err := m.sync(); err != nil {
		return nil, err
	}
	return m.fetchState()
}

func (m *Method) fetchState() ([]core.NamedTensor, error) {
	var resp *methodpb.SaveStateResponse
	var err error
	if err = m.call("SaveState", func(ctx context.Context) error {
		resp, err = m.rpc.SaveState(ctx, &methodpb.SaveStateRequest{})
		return err
	}); err != nil {
		return nil, err
	}
	var out []core.NamedTensor
	for _, nt := range resp.Tensors {
		shape, data, err := wire.Decode(nt.Tensor)
		if err == nil && len(shape) == 0 {
			shape = []int64{1}
		}
		var t *ts.Tensor
		if err == nil {
			t, err = ts.OfDataSize(f32View(data), shape, gotch.Float)
		}
		if err != nil {
			core.DropNamed(out)
			return nil, fmt.Errorf("plugin %s: state tensor %q: %v", m.name, nt.Name, err)
		}
		out = append(out, core.NamedTensor{Name: nt.Name, Tensor: t})
	}
	return out, nil
}

// LoadState sends a state saved by SaveState back to the plugin.
func (m *Method) LoadState(state []core.NamedTensor) error {
	if err := m.sendState(state); err != nil {
		return err
	}
	return m.pull()
}

// pull copies the plugin's state into the mirror (creating it the first time).
func (m *Method) pull() error {
	st, err := m.fetchState()
	if err != nil {
		return err
	}
	defer core.DropNamed(st)
	fresh := len(m.mirror) == 0
	if !fresh && len(st) != len(m.mirror) {
		return fmt.Errorf("plugin %s: its state changed from %d to %d tensors", m.name, len(m.mirror), len(st))
	}
	m.synced = m.synced[:0]
	for i, nt := range st {
		if fresh {
			m.mirror = append(m.mirror, core.NamedTensor{Name: nt.Name, Tensor: nt.Tensor.MustDetachCopy(false)})
		} else {
			mt := m.mirror[i]
			if mt.Name != nt.Name || mt.Tensor.Numel() != nt.Tensor.Numel() {
				return fmt.Errorf("plugin %s: state tensor %d changed from %s to %s", m.name, i, mt.Name, nt.Name)
			}
			ts.NoGrad(func() { mt.Tensor.Copy_(nt.Tensor) })
		}
		m.synced = append(m.synced, core.Float32s(nt.Tensor))
	}
	m.dirty = false
	return nil
}

// sync makes the mirror and the plugin agree before an evaluation: after training the plugin
// is newer; otherwise a mirror that differs from what was last exchanged was restored by the
// trainer and goes to the plugin.
func (m *Method) sync() error {
	if len(m.mirror) == 0 {
		return nil
	}
	if m.dirty {
		return m.pull()
	}
	for i, mt := range m.mirror {
		now := core.Float32s(mt.Tensor)
		for j := range now {
			if math.Float32bits(now[j]) != math.Float32bits(m.synced[i][j]) {
				if err := m.sendState(m.mirror); err != nil {
					return err
				}
				return m.pull()
			}
		}
	}
	return nil
}

func (m *Method) sendState(state []core.NamedTensor) error {
	req := &methodpb.LoadStateRequest{}
	for _, nt := range state {
		req.Tensors = append(req.Tensors, &methodpb.NamedTensor{Name: nt.Name, Tensor: encodeTorch(nt.Tensor, methodpb.DType_DTYPE_F32)})
	}
	return m.call("LoadState", func(ctx context.Context) error {
		_, err := m.rpc.LoadState(ctx, req)
		return err
	})
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

// encodeTorch copies a float tensor to the wire (float32, or rounded to bfloat16).
func encodeTorch(t *ts.Tensor, dt methodpb.DType) *methodpb.Tensor {
	c := t.MustDetach(false).MustTotype(gotch.Float, true).MustContiguous(true)
	defer c.MustDrop()
	shape := c.MustSize()
	n := int(c.Numel())
	if dt == methodpb.DType_DTYPE_BF16 {
		vals := make([]float32, n)
		if n > 0 {
			copy(vals, unsafe.Slice((*float32)(c.MustDataPtr()), n))
		}
		return wire.Encode(shape, vals, dt)
	}
	data := make([]byte, 4*n)
	if n > 0 {
		copy(data, unsafe.Slice((*byte)(c.MustDataPtr()), 4*n))
	}
	return &methodpb.Tensor{Shape: shape, Dtype: methodpb.DType_DTYPE_F32, Data: data}
}

// f32View is the bytes of float32 values (native little-endian on every libtorch platform).
func f32View(v []float32) []byte {
	if len(v) == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}
