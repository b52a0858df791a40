package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/ptbench/ptbench/plugins/wire"
)

// Serve runs p as a ptbench method plugin; call it from main. It returns when the host
// disconnects. Started by hand with -describe, the binary prints its Info as JSON instead
// (handy to check a build); otherwise, not started by ptbench, it says so and exits 1.
func Serve(p Plugin) {
	if len(os.Args) > 1 && (os.Args[1] == "-describe" || os.Args[1] == "--describe") {
		srv := NewServer(p)
		d, err := srv.Describe(context.Background(), nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(d)
		return
	}
	go exitWithParent()
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: wire.Handshake,
		Plugins:         plugin.PluginSet{wire.PluginName: &wire.GRPCPlugin{Impl: NewServer(p)}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, wire.ServerOptions()...)...)
		},
	})
}

// exitWithParent ends the plugin when the process that started it is gone (killed without
// stopping its plugins; go-plugin servers ignore SIGINT, so a Ctrl-C would otherwise leave
// them running): the plugin is then re-parented, and its parent pid changes.
func exitWithParent() {
	parent := os.Getppid()
	for range time.Tick(500 * time.Millisecond) {
		if os.Getppid() != parent {
			fmt.Fprintln(os.Stderr, "ptbench method plugin: the host process is gone; exiting")
			os.Exit(1)
		}
	}
}
