package sdk

import (
	"context"
	"encoding/json"
	"runtime/debug"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	methodpb "github.com/ptbench/ptbench/plugins/proto"
	"github.com/ptbench/ptbench/plugins/wire"
)

// NewServer adapts a Plugin to the method service. Serve uses it behind gRPC; the host's
// in-process adapter calls it directly, so both paths run the same code.
func NewServer(p Plugin) methodpb.MethodServer {
	return &server{p: p}
}

type server struct {
	methodpb.UnimplementedMethodServer
	p Plugin

	mu       sync.Mutex
	m        Method
	setup    bool
	params   []*Param
	opt      *AdamW
	pending  bool     // a training Forward awaits its Backward
	outShape [2][]int // shapes of the pending prefix and offset
}

// guard serialises calls and turns a panic in the method into an error for the host.
func (s *server) guard(what string, f func() error) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = status.Errorf(codes.Internal, "%s panicked: %v\n%s", what, r, debug.Stack())
		}
	}()
	return f()
}

func fail(code codes.Code, format string, args ...any) error {
	return status.Errorf(code, format, args...)
}

func (s *server) Describe(context.Context, *methodpb.DescribeRequest) (*methodpb.DescribeResponse, error) {
	var resp *methodpb.DescribeResponse
	err := s.guard("Describe", func() error {
		info := s.p.Info
		defaults := info.Defaults
		if defaults == nil && s.p.New != nil {
			if m, err := s.p.New(nil); err == nil {
				defaults = m.Config()
			}
		}
		dj, err := json.Marshal(defaults)
		if err != nil {
			return fail(codes.Internal, "encoding the default config: %v", err)
		}
		resp = &methodpb.DescribeResponse{
			Name: info.Name, Version: info.Version, About: info.About, Label: info.Label,
			Input: methodpb.InputKind(info.Input), Prefix: info.Prefix, Offset: info.Offset,
			DefaultConfigJson: string(dj), ConfigDoc: info.ConfigDoc, ProtocolVersion: wire.ProtocolVersion,
		}
		return nil
	})
	return resp, err
}

func (s *server) Configure(_ context.Context, req *methodpb.ConfigureRequest) (*methodpb.ConfigureResponse, error) {
	var resp *methodpb.ConfigureResponse
	err := s.guard("Configure", func() error {
		if s.m != nil {
			return fail(codes.FailedPrecondition, "Configure called twice")
		}
		if s.p.New == nil {
			return fail(codes.Internal, "plugin %s has no New function", s.p.Info.Name)
		}
		m, err := s.p.New([]byte(req.ConfigJson))
		if err != nil {
			return fail(codes.InvalidArgument, "%v", err)
		}
		rj, err := json.Marshal(m.Config())
		if err != nil {
			return fail(codes.Internal, "encoding the resolved config: %v", err)
		}
		s.m = m
		resp = &methodpb.ConfigureResponse{ResolvedConfigJson: string(rj)}
		return nil
	})
	return resp, err
}

func (s *server) Setup(_ context.Context, req *methodpb.SetupRequest) (*methodpb.SetupResponse, error) {
	var resp *methodpb.SetupResponse
	err := s.guard("Setup", func() error {
		if s.m == nil {
			return fail(codes.FailedPrecondition, "Setup before Configure")
		}
		if s.setup {
			return fail(codes.FailedPrecondition, "Setup called twice")
		}
		env := Env{DModel: int(req.DModel), Vocab: int(req.Vocab), Seed: req.Seed,
			MaxSourceLen: int(req.MaxSourceLen), Task: req.Task, Tasks: req.Tasks, Backbone: req.Backbone}
		if !req.Provided {
			if n, ok := s.m.(Needer); ok {
				needs, err := n.Needs(env)
				if err != nil {
					return fail(codes.InvalidArgument, "%v", err)
				}
				if len(needs.EmbeddingRows) > 0 || len(needs.Texts) > 0 {
					resp = &methodpb.SetupResponse{Needs: &methodpb.Needs{EmbeddingRows: needs.EmbeddingRows, Texts: needs.Texts}}
					return nil
				}
			}
		} else {
			env.Rows, env.Tokens = map[int64][]float32{}, map[string][]int64{}
			if len(req.RowIds) > 0 {
				shape, rows, err := wire.Decode(req.Rows)
				if err != nil {
					return fail(codes.InvalidArgument, "embedding rows: %v", err)
				}
				if len(shape) != 2 || shape[0] != int64(len(req.RowIds)) || shape[1] != req.DModel {
					return fail(codes.InvalidArgument, "embedding rows have shape %v, want [%d %d]", shape, len(req.RowIds), req.DModel)
				}
				d := int(req.DModel)
				for i, id := range req.RowIds {
					env.Rows[id] = rows[i*d : (i+1)*d : (i+1)*d]
				}
			}
			for _, tt := range req.Texts {
				env.Tokens[tt.Text] = tt.Ids
			}
		}
		if err := s.m.Setup(env); err != nil {
			return fail(codes.InvalidArgument, "%v", err)
		}
		s.params = s.m.Params()
		var n int64
		for _, p := range s.params {
			if err := p.check(); err != nil {
				return fail(codes.Internal, "%v", err)
			}
			n += int64(len(p.Data))
		}
		s.opt = NewAdamW()
		if s.p.Info.AdamEps > 0 {
			s.opt.Eps = s.p.Info.AdamEps
		}
		s.setup = true
		resp = &methodpb.SetupResponse{TrainableParams: n, PrefixLen: int64(s.m.PrefixLen())}
		return nil
	})
	return resp, err
}

func (s *server) Forward(_ context.Context, req *methodpb.ForwardRequest) (*methodpb.ForwardResponse, error) {
	var resp *methodpb.ForwardResponse
	err := s.guard("Forward", func() error {
		if !s.setup {
			return fail(codes.FailedPrecondition, "Forward before Setup")
		}
		b := Batch{B: int(req.Batch), L: int(req.Length), Train: req.Train, Step: int(req.Step)}
		if len(req.Tasks) > 0 {
			if len(req.Tasks) != int(req.Batch) {
				return fail(codes.InvalidArgument, "%d task ids for a batch of %d", len(req.Tasks), req.Batch)
			}
			b.Tasks = make([]int, len(req.Tasks))
			for i, t := range req.Tasks {
				b.Tasks[i] = int(t)
			}
		}
		shape, mask, err := wire.Decode(req.Mask)
		if err != nil {
			return fail(codes.InvalidArgument, "mask: %v", err)
		}
		if len(shape) != 2 || shape[0] != req.Batch || shape[1] != req.Length {
			return fail(codes.InvalidArgument, "mask has shape %v, want [%d %d]", shape, req.Batch, req.Length)
		}
		b.Mask = mask
		if req.Embeds != nil {
			shape, data, err := wire.Decode(req.Embeds)
			if err != nil {
				return fail(codes.InvalidArgument, "embeds: %v", err)
			}
			b.Embeds = &Tensor{Shape: intShape(shape), Data: data}
		}
		out, err := s.m.Forward(b)
		if err != nil {
			return fail(codes.Internal, "%v", err)
		}
		info := s.p.Info
		if (out.Prefix != nil) != info.Prefix || (out.Offset != nil) != info.Offset {
			return fail(codes.Internal, "Forward returned prefix %v, offset %v; the plugin declares prefix %v, offset %v",
				out.Prefix != nil, out.Offset != nil, info.Prefix, info.Offset)
		}
		resp = &methodpb.ForwardResponse{}
		var shapes [2][]int
		for i, t := range []*Tensor{out.Prefix, out.Offset} {
			if t == nil {
				continue
			}
			if len(t.Data) != t.Numel() {
				return fail(codes.Internal, "Forward output of shape %v has %d values", t.Shape, len(t.Data))
			}
			enc := wire.Encode(int64Shape(t.Shape), t.Data, req.WireDtype)
			if i == 0 {
				resp.Prefix = enc
			} else {
				resp.Offset = enc
			}
			shapes[i] = append([]int(nil), t.Shape...)
		}
		// Backward must follow its training Forward with no other Forward between.
		s.pending, s.outShape = req.Train, shapes
		return nil
	})
	return resp, err
}

func (s *server) Backward(_ context.Context, req *methodpb.BackwardRequest) (*methodpb.BackwardResponse, error) {
	var resp *methodpb.BackwardResponse
	err := s.guard("Backward", func() error {
		if !s.pending {
			return fail(codes.FailedPrecondition, "Backward without a training Forward before it")
		}
		s.pending = false
		var grads Outputs
		for i, wt := range []*methodpb.Tensor{req.GradPrefix, req.GradOffset} {
			want := s.outShape[i]
			if wt == nil {
				if want != nil {
					return fail(codes.InvalidArgument, "Backward lacks the gradient of output %d (shape %v)", i, want)
				}
				continue
			}
			shape, data, err := wire.Decode(wt)
			if err != nil {
				return fail(codes.InvalidArgument, "gradient: %v", err)
			}
			if !sameShape(shape, want) {
				return fail(codes.InvalidArgument, "gradient of shape %v for an output of shape %v", shape, want)
			}
			g := &Tensor{Shape: want, Data: data}
			if i == 0 {
				grads.Prefix = g
			} else {
				grads.Offset = g
			}
		}
		ZeroGrad(s.params)
		if err := s.m.Backward(grads); err != nil {
			return fail(codes.Internal, "%v", err)
		}
		var norm float64
		if o, ok := s.m.(Optimizer); ok {
			n, err := o.Step(req.LrFactor, req.MaxGradNorm)
			if err != nil {
				return fail(codes.Internal, "%v", err)
			}
			norm = n
		} else {
			norm = ClipGradNorm(s.params, req.MaxGradNorm)
			s.opt.Step(s.params, req.LrFactor)
		}
		resp = &methodpb.BackwardResponse{GradNorm: norm}
		return nil
	})
	return resp, err
}

func (s *server) SaveState(context.Context, *methodpb.SaveStateRequest) (*methodpb.SaveStateResponse, error) {
	var resp *methodpb.SaveStateResponse
	err := s.guard("SaveState", func() error {
		if !s.setup {
			return fail(codes.FailedPrecondition, "SaveState before Setup")
		}
		state, err := s.state()
		if err != nil {
			return fail(codes.Internal, "%v", err)
		}
		resp = &methodpb.SaveStateResponse{}
		for _, n := range state {
			resp.Tensors = append(resp.Tensors, &methodpb.NamedTensor{Name: n.Name,
				Tensor: wire.Encode(int64Shape(n.Tensor.Shape), n.Tensor.Data, methodpb.DType_DTYPE_F32)})
		}
		return nil
	})
	return resp, err
}

func (s *server) state() ([]Named, error) {
	if ss, ok := s.m.(StateSaver); ok {
		return ss.State()
	}
	out := make([]Named, len(s.params))
	for i, p := range s.params {
		out[i] = Named{Name: p.Name, Tensor: &Tensor{Shape: p.Shape, Data: p.Data}}
	}
	return out, nil
}

func (s *server) LoadState(_ context.Context, req *methodpb.LoadStateRequest) (*methodpb.LoadStateResponse, error) {
	err := s.guard("LoadState", func() error {
		if !s.setup {
			return fail(codes.FailedPrecondition, "LoadState before Setup")
		}
		state := make([]Named, len(req.Tensors))
		for i, n := range req.Tensors {
			shape, data, err := wire.Decode(n.Tensor)
			if err != nil {
				return fail(codes.InvalidArgument, "state tensor %q: %v", n.Name, err)
			}
			state[i] = Named{Name: n.Name, Tensor: &Tensor{Shape: intShape(shape), Data: data}}
		}
		if ss, ok := s.m.(StateSaver); ok {
			if err := ss.LoadState(state); err != nil {
				return fail(codes.InvalidArgument, "%v", err)
			}
			return nil
		}
		return loadParams(s.params, state)
	})
	if err != nil {
		return nil, err
	}
	return &methodpb.LoadStateResponse{}, nil
}

// loadParams copies a saved state into params, matched by name; every param must be present.
func loadParams(params []*Param, state []Named) error {
	byName := map[string]*Tensor{}
	for _, n := range state {
		byName[n.Name] = n.Tensor
	}
	for _, p := range params {
		t, ok := byName[p.Name]
		if !ok {
			return fail(codes.InvalidArgument, "state has no tensor %q", p.Name)
		}
		if !sameShape(int64Shape(t.Shape), p.Shape) {
			return fail(codes.InvalidArgument, "state tensor %q has shape %v, the parameter %v", p.Name, t.Shape, p.Shape)
		}
		copy(p.Data, t.Data)
	}
	return nil
}

func intShape(s []int64) []int {
	out := make([]int, len(s))
	for i, v := range s {
		out[i] = int(v)
	}
	return out
}

func int64Shape(s []int) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[i] = int64(v)
	}
	return out
}

func sameShape(a []int64, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != int64(b[i]) {
			return false
		}
	}
	return true
}
