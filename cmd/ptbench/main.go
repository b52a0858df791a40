// Command ptbench trains and compares prompt-tuning methods on frozen language models.
//
// Exit codes: 0 success; 1 a command failed (bad input, a failed check); 2 usage error.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/engine"

	// Built-in backbones, tasks and methods: one import line each.
	_ "github.com/ptbench/ptbench/backbones/llama"
	_ "github.com/ptbench/ptbench/backbones/t5"
	_ "github.com/ptbench/ptbench/methods/adapter"
	_ "github.com/ptbench/ptbench/methods/adapterdrop"
	_ "github.com/ptbench/ptbench/methods/attempt"
	_ "github.com/ptbench/ptbench/methods/bitfit"
	_ "github.com/ptbench/ptbench/methods/dept"
	_ "github.com/ptbench/ptbench/methods/ept"
	_ "github.com/ptbench/ptbench/methods/ft"
	_ "github.com/ptbench/ptbench/methods/hyperdecoder"
	_ "github.com/ptbench/ptbench/methods/hyperformer"
	_ "github.com/ptbench/ptbench/methods/lora"
	_ "github.com/ptbench/ptbench/methods/mpt"
	_ "github.com/ptbench/ptbench/methods/pt"
	_ "github.com/ptbench/ptbench/methods/spot"
	_ "github.com/ptbench/ptbench/tasks"
)

// version is set by -ldflags "-X main.version=…" in release builds.
var version = "dev"

type usageError struct{ error }

func main() {
	preloadTCMalloc()
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "ptbench:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	var threads int
	root := &cobra.Command{
		Use:   "ptbench",
		Short: "Train and compare prompt-tuning methods on frozen T5 / Llama-2 backbones",
		Example: `  ptbench run --methods pt,dept,ept --preset smoke --out runs/smoke
  ptbench leaderboard runs/smoke
  ptbench plot runs/smoke
  ptbench params --methods pt,dept,ept,lora --backbone t5-base`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if threads < 0 {
				return usageError{fmt.Errorf("--threads must be ≥ 0 (0 = number of cores), got %d", threads)}
			}
			engine.InitTorch(threads)
			if w := engine.BLASWarning(); w != "" {
				fmt.Fprintln(os.Stderr, w)
			}
			return nil
		},
	}
	root.PersistentFlags().IntVar(&threads, "threads", 0, "libtorch intra-op threads (0 = number of cores)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newListCmd("methods", "List registered methods", core.Methods),
		newListCmd("backbones", "List backbone presets and loaders", core.Backbones),
		newListCmd("tasks", "List registered tasks", core.Tasks),
		newVerifyCmd(), newRunCmd(), newLeaderboardCmd(), newBenchCmd(), newScoreCmd(), newDataCmd(),
		newArtefactsCmd(), newParamsCmd(), newSourcesCmd(),
		newReproduceCmd(), newPlotCmd(), newExportCmd(), newMergeCmd(), newSlurmCmd(), newK8sCmd())
	return root
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
