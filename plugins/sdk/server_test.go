package sdk_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/plugins/internal/sdkpt"
	methodpb "github.com/ptbench/ptbench/plugins/proto"
	"github.com/ptbench/ptbench/plugins/sdk"
	"github.com/ptbench/ptbench/plugins/wire"
)

var ctx = context.Background()

// setUp configures and sets up sdkpt (length 2, d 3) through the server, answering its needs.
func setUp(t *testing.T) methodpb.MethodServer {
	t.Helper()
	s := sdk.NewServer(sdkpt.Plugin("p"))
	if _, err := s.Configure(ctx, &methodpb.ConfigureRequest{ConfigJson: `{"length": 2}`}); err != nil {
		t.Fatal(err)
	}
	req := &methodpb.SetupRequest{DModel: 3, Vocab: 10, Seed: 1}
	resp, err := s.Setup(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	ids := resp.Needs.EmbeddingRows
	if len(ids) != 2 {
		t.Fatalf("needs %v, want 2 rows", resp.Needs)
	}
	rows := make([]float32, 0, 6)
	for _, id := range ids {
		rows = append(rows, float32(id), float32(id)+0.5, -1)
	}
	req.Provided, req.RowIds, req.Rows = true, ids, wire.Encode([]int64{2, 3}, rows, methodpb.DType_DTYPE_F32)
	if resp, err = s.Setup(ctx, req); err != nil {
		t.Fatal(err)
	}
	if resp.TrainableParams != 6 || resp.PrefixLen != 2 {
		t.Fatalf("setup answered %v", resp)
	}
	return s
}

func forward(t *testing.T, s methodpb.MethodServer, train bool) *methodpb.ForwardResponse {
	t.Helper()
	resp, err := s.Forward(ctx, &methodpb.ForwardRequest{Batch: 1, Length: 2, Train: train,
		Mask: wire.Encode([]int64{1, 2}, []float32{1, 1}, methodpb.DType_DTYPE_F32)})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func wantErr(t *testing.T, err error, part string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), part) {
		t.Errorf("error %v, want one mentioning %q", err, part)
	}
}

func TestServerProtocolOrderAndShapes(t *testing.T) {
	s := sdk.NewServer(sdkpt.Plugin("p"))
	_, err := s.Setup(ctx, &methodpb.SetupRequest{})
	wantErr(t, err, "Setup before Configure")
	_, err = s.Configure(ctx, &methodpb.ConfigureRequest{ConfigJson: `{"bogus": 1}`})
	wantErr(t, err, `unknown field "bogus"`)

	s = setUp(t)
	_, err = s.Backward(ctx, &methodpb.BackwardRequest{})
	wantErr(t, err, "Backward without a training Forward")
	forward(t, s, false)
	_, err = s.Backward(ctx, &methodpb.BackwardRequest{})
	wantErr(t, err, "Backward without a training Forward") // evaluation Forwards do not count

	out := forward(t, s, true)
	shape, _, _ := wire.Decode(out.Prefix)
	if len(shape) != 2 || shape[0] != 2 || shape[1] != 3 {
		t.Fatalf("prefix shape %v", shape)
	}
	_, err = s.Backward(ctx, &methodpb.BackwardRequest{GradPrefix: wire.Encode([]int64{3, 2}, make([]float32, 6), 0)})
	wantErr(t, err, "gradient of shape [3 2] for an output of shape [2 3]")

	forward(t, s, true)
	g := wire.Encode([]int64{2, 3}, []float32{1, 1, 1, 1, 1, 1}, 0)
	if _, err := s.Backward(ctx, &methodpb.BackwardRequest{GradPrefix: g, LrFactor: 1}); err != nil {
		t.Fatal(err)
	}
	after := forward(t, s, false)
	_, before, _ := wire.Decode(out.Prefix)
	_, now, _ := wire.Decode(after.Prefix)
	for i := range now {
		// AdamW's first step moves every element by lr = 0.3 against the gradient's sign.
		if d := before[i] - now[i]; d < 0.29 || d > 0.31 {
			t.Errorf("element %d moved by %v, want ≈ 0.3", i, d)
		}
	}
}

func TestServerState(t *testing.T) {
	s := setUp(t)
	st, err := s.SaveState(ctx, &methodpb.SaveStateRequest{})
	if err != nil || len(st.Tensors) != 1 || st.Tensors[0].Name != "prompt" {
		t.Fatalf("state %v, %v", st, err)
	}
	s2 := setUp(t)
	_, err = s2.LoadState(ctx, &methodpb.LoadStateRequest{Tensors: []*methodpb.NamedTensor{{Name: "other", Tensor: st.Tensors[0].Tensor}}})
	wantErr(t, err, `state has no tensor "prompt"`)
	_, err = s2.LoadState(ctx, &methodpb.LoadStateRequest{Tensors: []*methodpb.NamedTensor{{Name: "prompt",
		Tensor: wire.Encode([]int64{3, 2}, make([]float32, 6), 0)}}})
	wantErr(t, err, "has shape [3 2], the parameter [2 3]")
}

// panicky panics in Forward: the server returns the panic as an error instead of dying.
type panicky struct{ *sdkpt.Method }

func (panicky) Forward(sdk.Batch) (sdk.Outputs, error) { panic("boom") }

func TestServerRecoversPanics(t *testing.T) {
	p := sdkpt.Plugin("p")
	p.New = func(config []byte) (sdk.Method, error) {
		m, err := sdkpt.New(config)
		return panicky{m}, err
	}
	s := sdk.NewServer(p)
	if _, err := s.Configure(ctx, &methodpb.ConfigureRequest{ConfigJson: `{"length": 1, "init": "text"}`}); err != nil {
		t.Fatal(err)
	}
	req := &methodpb.SetupRequest{DModel: 1, Vocab: 5, Provided: true, RowIds: []int64{4},
		Rows: wire.Encode([]int64{1, 1}, []float32{2}, 0), Texts: []*methodpb.TokenizedText{{Text: "Classify the input and answer with the label.", Ids: []int64{4}}}}
	if _, err := s.Setup(ctx, req); err != nil {
		t.Fatal(err)
	}
	_, err := s.Forward(ctx, &methodpb.ForwardRequest{Batch: 1, Length: 1, Mask: wire.Encode([]int64{1, 1}, []float32{1}, 0)})
	wantErr(t, err, "Forward panicked: boom")
}
