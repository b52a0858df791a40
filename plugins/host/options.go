package host

// Options: how a plugin runs (call timeout, wire dtype), and the host settings taken from a
// run's raw settings before the rest go to the plugin.

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	methodpb "github.com/ptbench/ptbench/plugins/proto"
)

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
