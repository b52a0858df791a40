// Command ptbench-method-residual is residual prompt tuning (Razdaibiedina et al., 2023) as a
// ptbench method plugin: build it, put it in $PTBENCH_PLUGIN_DIR or on $PATH, and run
// `ptbench run --methods residual,pt ...`.
package main

import (
	"example.com/ptbench-method-residual/residual"

	"github.com/ptbench/ptbench/plugins/sdk"
)

func main() { sdk.Serve(residual.Plugin()) }
