package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ptbench/ptbench/benchmarks"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/engine"
	"github.com/ptbench/ptbench/plugins/host"
)

func newBenchCmd() *cobra.Command {
	var (
		methods, backbone, initMode, output, rssAt, lengthsTask, dataDir, methodConfig, outDir, tokenizer string
		sets                                                                                              []string
		o                                                                                                 benchmarks.BenchOptions
		numerics                                                                                          core.BackboneOptions // --dtype, --quant, --device (parsed by the flags)
	)
	cmd := &cobra.Command{
		Use:   "bench --methods pt,dept,ept --backbone t5-base",
		Short: "Time forward+backward+AdamW steps per method on one warm backbone (no data needed)",
		Example: `  ptbench bench --methods pt,dept,ept --backbone t5-base --init random --seq 256 --batch-size 16 --steps 20
  ptbench bench --methods pt --backbone t5-small --seq 128 --batch-size 16 --steps 500 --rss-at 50,500`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if initMode != "random" {
				return usageError{fmt.Errorf("--init %q: only random is supported (presets are random-init; pass a directory as --backbone for real weights)", initMode)}
			}
			o.Methods = splitList(methods)
			if err := host.RegisterPlugins(o.Methods); err != nil {
				return usageError{err}
			}
			var err error
			if o.MethodConfigs, err = loadMethodConfigs(methodConfig, sets, o.Methods); err != nil {
				return usageError{err}
			}
			for _, s := range splitList(rssAt) {
				var n int
				if _, err := fmt.Sscan(s, &n); err != nil {
					return usageError{fmt.Errorf("--rss-at %q: %v", s, err)}
				}
				if n < 1 {
					return usageError{fmt.Errorf("--rss-at must list steps ≥ 1, got %d", n)}
				}
				o.RSSAt = append(o.RSSAt, n)
			}
			if err := validateBenchFlags(o); err != nil { // preflight.go
				return err
			}
			if err := validateQuant(numerics.Quant, o.Methods); err != nil {
				return err
			}
			if err := core.CheckDevice(numerics.Device); err != nil {
				return usageError{err}
			}
			numerics.Seed, numerics.Tokenizer = o.Seed, tokenizer
			bb, err := core.OpenBackbone(backbone, numerics)
			if err != nil {
				return err
			}
			defer bb.Close()
			if lengthsTask != "" {
				if o.Lengths, err = taskLengths(bb, lengthsTask, dataDir, o.Seq); err != nil {
					return err
				}
				o.LengthsName = lengthsTask
			}
			o.Log = cmd.ErrOrStderr()
			bf16, how := engine.BF16Support()
			fmt.Fprintf(o.Log, "bench: CPU bf16 matmul: %s\n", how)
			if numerics.DType == core.BFloat16 && !bf16 {
				fmt.Fprintln(o.Log, "WARNING: --dtype bfloat16 on a CPU without native bf16 instructions: libtorch emulates it, usually slower than float32")
			}
			fmt.Fprintf(o.Log, "bench: backbone %s (d %d, %d params), batch %d, seq %d, %d+%d steps, %d threads\n",
				core.RandomInitNote(backbone), bb.Info().DModel, bb.Info().NumParams, o.Batch, o.Seq, o.Warmup, o.Steps, engine.Threads())
			res, err := benchmarks.Bench(bb, o)
			if err != nil {
				return err
			}
			if outDir != "" {
				if err := benchmarks.AppendBench(outDir, res); err != nil {
					return err
				}
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			return benchmarks.RenderBench(cmd.OutOrStdout(), res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&methods, "methods", core.BaselineMethod(), "comma-separated methods")
	f.StringVar(&backbone, "backbone", defaultBackbone, "backbone preset or directory") // vocab.go: one default with run and params
	f.StringVar(&initMode, "init", "random", "random (preset weights from --seed)")
	f.Var(&numerics.Quant, "quant", "store the frozen linear weights quantised: none (default) or nf4 (Llama and T5 backbones)")
	f.Var(&numerics.DType, "dtype", "compute dtype: float32 (default) or bfloat16 / bf16")
	f.Var(&numerics.Device, "device", "where tensors are created: cpu (default), cuda or cuda:N (see README: GPUs)")
	f.IntVar(&o.Seq, "seq", 256, "source length")
	f.IntVar(&o.Batch, "batch-size", 16, "batch size")
	deprecateAlias(f, "batch", "batch-size") // bench's old spelling
	f.IntVar(&o.Steps, "steps", 20, "timed steps per method and mode")
	f.IntVar(&o.Warmup, "warmup", 2, "untimed warm-up steps")
	f.Int64Var(&o.Seed, "seed", 42, "seed")
	f.StringVar(&rssAt, "rss-at", "", "record RSS after these steps, e.g. 50,500")
	f.StringVar(&lengthsTask, "dynamic-task", "", "also time dynamic padding on this task's source lengths (e.g. rte)")
	f.StringVar(&dataDir, "data-dir", "", "data folder for --dynamic-task")
	f.BoolVar(&o.GroupByLength, "group-by-length", false, "with --dynamic-task, also time the batches of a length-grouped epoch")
	f.StringVar(&tokenizer, "tokenizer", "", "tokenizer for --dynamic-task lengths (spiece.model, tokenizer.json; presets default to bytes)")
	f.StringVar(&methodConfig, "method-config", "", "YAML/JSON file: {method: {key: value}}")
	f.StringArrayVar(&sets, "set", nil, "method setting method.key=value (repeatable)")
	addOutputFlag(f, &output, "markdown", "")
	f.StringVar(&outDir, "out", "", "also append the results to OUT/bench.jsonl (shown by ptbench leaderboard OUT)")
	return cmd
}

// taskLengths tokenizes a task's training sources and returns their lengths.
func taskLengths(bb core.Backbone, name, dataDir string, maxLen int) ([]int, error) {
	t, err := core.NewTask(name)
	if err != nil {
		return nil, err
	}
	ds, err := t.Load(core.DataOptions{DataDir: dataDir, CacheDir: defaultCacheDir(), Seed: 42})
	if err != nil {
		return nil, err
	}
	var out []int
	for _, ex := range ds.Train {
		out = append(out, len(bb.EncodeSource(ex.Source, maxLen)))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("task %s has no training examples in %s", name, dataDir)
	}
	return out, nil
}
