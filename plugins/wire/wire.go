// Package wire is what both sides of the method-plugin boundary share: the go-plugin
// handshake, the gRPC plugin glue and the tensor encoding. Like the SDK it is pure Go (no
// gotch, no cgo), so plugins build in seconds.
package wire

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	methodpb "github.com/ptbench/ptbench/plugins/proto"
)

// ProtocolVersion is the version of plugins/proto/method.proto that this code speaks. Bump it
// on any incompatible change; the handshake then refuses plugins built against another one.
const ProtocolVersion = 2

// Version history: 1 — first release; 2 — the batch context (SetupRequest.tasks,
// ForwardRequest.step and per-row task ids) for multi-task methods.

// PluginName is the key of the method service in go-plugin's plugin set.
const PluginName = "method"

// Handshake is the go-plugin handshake: the magic cookie only tells a plugin that a ptbench
// host started it (run by hand it prints a hint and exits); it is not a security measure.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "PTBENCH_METHOD_PLUGIN",
	MagicCookieValue: "7a1c5d0e-ptbench-method-plugin",
}

// MaxMessageBytes bounds one gRPC message (full input embeddings of a large batch are tens
// of MiB; gRPC's default of 4 MiB is too small).
const MaxMessageBytes = 1 << 30

// GRPCPlugin is the go-plugin glue for the method service. The plugin side sets Impl; the
// host side leaves it nil and gets a methodpb.MethodClient from Dispense.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl methodpb.MethodServer
}

// GRPCServer registers the method service on the plugin's gRPC server.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return fmt.Errorf("wire: GRPCPlugin.Impl is nil")
	}
	methodpb.RegisterMethodServer(s, p.Impl)
	return nil
}

// GRPCClient returns the host's client of the method service.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return methodpb.NewMethodClient(c), nil
}

// windowBytes is gRPC's flow-control window: large enough that a step's tensors travel without
// waiting for window updates (gRPC starts at 64 KiB; one t5-base prompt is 300 KiB).
const windowBytes = 64 << 20

// ServerOptions are the gRPC server options a plugin needs (large messages).
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes),
		grpc.InitialWindowSize(windowBytes), grpc.InitialConnWindowSize(windowBytes)}
}

// DialOptions are the host's matching client options.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
		grpc.WithInitialWindowSize(windowBytes), grpc.WithInitialConnWindowSize(windowBytes)}
}
