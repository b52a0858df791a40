// Command testplugin serves sdkpt (prompt tuning through the SDK) for the plugin tests, with
// faults injected on request through the environment:
//
//	PTBENCH_TESTPLUGIN_FAULT = crash | hang | shape | nan | error | version
//	PTBENCH_TESTPLUGIN_FAULT_AT = n   the n-th Forward call misbehaves (default 1)
//	PTBENCH_TESTPLUGIN_INPUT = full   declare (and receive, unused) the full input embeddings
//
// crash panics outside the SDK's recovery (the process dies), hang never answers, shape returns a prefix one column too wide,
// nan puts a NaN in the prefix, error returns an error; version speaks protocol version 99.
package main

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/ptbench/ptbench/plugins/internal/sdkpt"
	"github.com/ptbench/ptbench/plugins/sdk"
	"github.com/ptbench/ptbench/plugins/wire"
)

func main() {
	fault := os.Getenv("PTBENCH_TESTPLUGIN_FAULT")
	at, _ := strconv.Atoi(os.Getenv("PTBENCH_TESTPLUGIN_FAULT_AT"))
	if at <= 0 {
		at = 1
	}
	p := sdkpt.Plugin("testpt")
	if os.Getenv("PTBENCH_TESTPLUGIN_INPUT") == "full" {
		p.Info.Input = sdk.InputFull // for the benchmark: the cost of shipping [B, L, d] each step
	}
	inner := p.New
	p.New = func(config []byte) (sdk.Method, error) {
		m, err := inner(config)
		if err != nil || fault == "" {
			return m, err
		}
		return &faulty{Method: m.(*sdkpt.Method), fault: fault, at: at}, nil
	}
	if fault != "version" {
		sdk.Serve(p)
		return
	}
	hs := wire.Handshake
	hs.ProtocolVersion = 99
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: hs,
		Plugins:         plugin.PluginSet{wire.PluginName: &wire.GRPCPlugin{Impl: sdk.NewServer(p)}},
		GRPCServer:      func(opts []grpc.ServerOption) *grpc.Server { return grpc.NewServer(opts...) },
	})
}

type faulty struct {
	*sdkpt.Method
	fault string
	at, n int
}

func (f *faulty) Forward(b sdk.Batch) (sdk.Outputs, error) {
	f.n++
	out, err := f.Method.Forward(b)
	if f.n != f.at || err != nil {
		return out, err
	}
	switch f.fault {
	case "crash": // an unrecovered panic in another goroutine kills the process (exit status 2)
		done := make(chan struct{})
		go func() {
			defer close(done)
			panic("testplugin: simulated crash")
		}()
		<-done
	case "hang":
		time.Sleep(time.Hour)
	case "shape":
		p := out.Prefix
		return sdk.Outputs{Prefix: &sdk.Tensor{Shape: []int{p.Shape[0], p.Shape[1] + 1},
			Data: make([]float32, p.Shape[0]*(p.Shape[1]+1))}}, nil
	case "nan":
		data := append([]float32(nil), out.Prefix.Data...)
		data[3] = float32(math.NaN())
		return sdk.Outputs{Prefix: &sdk.Tensor{Shape: out.Prefix.Shape, Data: data}}, nil
	case "error":
		return sdk.Outputs{}, fmt.Errorf("simulated failure at Forward %d", f.n)
	}
	return out, nil
}
