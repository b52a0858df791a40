package host

import (
	"context"

	"google.golang.org/grpc"

	methodpb "github.com/ptbench/ptbench/plugins/proto"
)

// directClient calls a method server in this process: an SDK method compiled in goes through
// exactly the code a plugin runs, minus gRPC.
type directClient struct{ s methodpb.MethodServer }

func (c directClient) Describe(ctx context.Context, r *methodpb.DescribeRequest, _ ...grpc.CallOption) (*methodpb.DescribeResponse, error) {
	return c.s.Describe(ctx, r)
}

func (c directClient) Configure(ctx context.Context, r *methodpb.ConfigureRequest, _ ...grpc.CallOption) (*methodpb.ConfigureResponse, error) {
	return c.s.Configure(ctx, r)
}

func (c directClient) Setup(ctx context.Context, r *methodpb.SetupRequest, _ ...grpc.CallOption) (*methodpb.SetupResponse, error) {
	return c.s.Setup(ctx, r)
}

func (c directClient) Forward(ctx context.Context, r *methodpb.ForwardRequest, _ ...grpc.CallOption) (*methodpb.ForwardResponse, error) {
	return c.s.Forward(ctx, r)
}

func (c directClient) Backward(ctx context.Context, r *methodpb.BackwardRequest, _ ...grpc.CallOption) (*methodpb.BackwardResponse, error) {
	return c.s.Backward(ctx, r)
}

func (c directClient) SaveState(ctx context.Context, r *methodpb.SaveStateRequest, _ ...grpc.CallOption) (*methodpb.SaveStateResponse, error) {
	return c.s.SaveState(ctx, r)
}

func (c directClient) LoadState(ctx context.Context, r *methodpb.LoadStateRequest, _ ...grpc.CallOption) (*methodpb.LoadStateResponse, error) {
	return c.s.LoadState(ctx, r)
}
