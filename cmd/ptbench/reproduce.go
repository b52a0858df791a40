package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ptbench/ptbench/benchmarks"
	"github.com/ptbench/ptbench/core/storage"
)

// newReproduceCmd: `ptbench reproduce NAME` runs one of the paper's experiments (a table or
// figure, benchmarks/experiments/*.yaml built into the binary) into one results folder and
// renders its leaderboard with the published numbers beside the measured ones.
func newReproduceCmd() *cobra.Command {
	var (
		list, dryRun, noSweep                                 bool
		output, backbone, tasks, methods, seeds, out, tokenzr string
		shard                                                 string
		sweeps                                                []string
		scale                                                 float64
		g                                                     benchmarks.Grid
	)
	cmd := &cobra.Command{
		Use:   "reproduce NAME | --list",
		Short: "Run one of the EPT paper's experiments (glue, superglue, fewshot, time, scaling, ablation) and render its leaderboard",
		Long: `Run one of the EPT paper's experiments, each a named config of grids (methods × tasks ×
seeds, step budgets, backbone, k-shot, multi-task) built into ptbench, or your own YAML file
in the same format. All of an experiment's grids write one results folder (default
runs/NAME); a second invocation resumes it. The leaderboard puts the published numbers beside
the measured ones where they exist.

--steps-scale shrinks every step budget and evaluation interval for a quick look (0.001 turns
30,000 steps into 30); --tasks and --methods keep a subset; --no-sweep runs each method once
instead of once per point of its learning-rate grid (the experiment's sweep: the leaderboard
reports the best-dev variant per method, task and seed); --backbone replaces the paper's
backbone (e.g. t5-tiny, or a local T5-Base folder); --shard i/n runs the i-th of n shares
(see ptbench slurm / k8s).`,
		Example: `  ptbench reproduce --list
  ptbench reproduce glue --backbone t5-tiny --steps-scale 0.001 --tasks rte,mrpc --data-dir data/
  ptbench reproduce superglue --backbone ~/models/t5-base --data-dir data/ --shard 1/4`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case list && len(args) > 0:
				return usageError{fmt.Errorf("--list takes no experiment name")}
			case !list && len(args) != 1:
				return usageError{fmt.Errorf("give one experiment name (see ptbench reproduce --list)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "markdown" && output != "json" {
				return usageError{fmt.Errorf("-o %q: want markdown or json", output)}
			}
			opts := benchmarks.ReproduceOptions{Backbone: backbone, StepsScale: scale,
				Tasks: splitList(tasks), Methods: splitList(methods), NoSweep: noSweep}
			if !(scale > 0 && scale <= 1) { // 0 would read as the options' default (1); above 1 multiplies budgets
				return usageError{fmt.Errorf("--steps-scale must be in (0, 1] (a fraction of the experiment's step budgets), got %v", scale)}
			}
			if seeds != "" {
				var err error
				if opts.Seeds, err = benchmarks.ParseSeeds(seeds); err != nil {
					return usageError{err}
				}
			}
			if list {
				return listExperiments(cmd, opts, output)
			}
			x, err := benchmarks.LoadExperiment(args[0])
			if err != nil {
				return usageError{err}
			}
			sweepable := x.MethodNames() // the experiment's methods, or those --methods keeps
			if len(opts.Methods) > 0 {
				sweepable = opts.Methods
			}
			if opts.Sweep, err = benchmarks.ParseSweeps(sweeps, sweepable); err != nil {
				return usageError{err}
			}
			for _, w := range benchmarks.SweepDeprecations(opts.Sweep) {
				fmt.Fprintln(cmd.ErrOrStderr(), w)
			}
			plan, err := x.Plan(opts)
			if err != nil {
				return usageError{err}
			}
			if out == "" {
				out = filepath.Join("runs", x.Name)
			}
			// The shared flags (data, limits, lock) go into every grid; --steps and
			// --batch-size, if given, replace the experiment's.
			g.OutDir, g.Log, g.Terminal, g.CodeVersion = out, cmd.ErrOrStderr(), isTerminal(os.Stderr), version
			g.BackboneOpts.Tokenizer = tokenzr
			if g.Data.CacheDir == "" {
				g.Data.CacheDir = defaultCacheDir()
			}
			if g.Temperature == 0 {
				g.Temperature = 1
			}
			g.KeepFailed = false
			if err := reproduceShard(shard, &g); err != nil {
				return err
			}
			grids := make([]benchmarks.Grid, len(plan))
			builtin := builtinMethods()
			preflightReadsNoData = dryRun
			defer func() { preflightReadsNoData = false }()
			for i, p := range plan {
				grids[i] = p.Grid(g)
				if cmd.Flags().Changed("steps") {
					grids[i].Train.Steps = g.Train.Steps
				}
				if cmd.Flags().Changed("batch-size") {
					grids[i].Train.BatchSize = g.Train.BatchSize
				}
				if err := validateRunFlags(&grids[i]); err != nil {
					return fmt.Errorf("%s, group %q: %w", x.File, p.Group, err)
				}
				if err := preflight(&grids[i], builtin); err != nil { // before any backbone or data loads
					return fmt.Errorf("%s, group %q: %w", x.File, p.Group, err)
				}
				if err := grids[i].CheckSweep(checkMethod, func(m string) bool { return !builtin[m] || strings.HasPrefix(m, "plugin:") }); err != nil {
					return fmt.Errorf("%s, group %q: %w", x.File, p.Group, err)
				}
			}
			known, _, _ := storage.ReadResultsLenient(filepath.Join(out, storage.ResultsFile))
			cost := benchmarks.EstimateCost(plan, known)
			fmt.Fprintf(cmd.ErrOrStderr(), "reproduce %s (%s): %d grids, %d runs, %d steps, estimated %s of training (%s step times)\n",
				x.Name, x.Title, len(plan), cost.Runs, cost.Steps, humanSeconds(cost.Seconds), cost.StepSource)
			if dryRun {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Experiment string                   `json:"experiment"`
					Grids      []benchmarks.PlannedGrid `json:"grids"`
					Cost       benchmarks.CostEstimate  `json:"cost"`
				}{x.Name, plan, cost})
			}
			var total benchmarks.Summary
			for i := range grids {
				fmt.Fprintf(cmd.ErrOrStderr(), "== %s: group %q (%d of %d): %s on %s, %d steps\n", x.Name, plan[i].Group, i+1, len(plan),
					strings.Join(plan[i].Methods, ","), strings.Join(plan[i].Tasks, ","), grids[i].Train.Steps)
				sum, err := grids[i].Run()
				if err != nil {
					return fmt.Errorf("%s, group %q: %w (results so far are in %s)", x.Name, plan[i].Group, err, out)
				}
				total.Ran += sum.Ran
				total.Skipped += sum.Skipped
				total.Failed += sum.Failed
				total.Diverged += sum.Diverged
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "reproduce %s: %d ran, %d skipped (already done), %d diverged, %d failed\n",
				x.Name, total.Ran, total.Skipped, total.Diverged, total.Failed)
			if err := writeExperimentNote(out, x, plan); err != nil {
				return err
			}
			return renderResults(cmd, out, output)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&list, "list", false, "list the experiments with their size and estimated training time")
	f.BoolVar(&dryRun, "dry-run", false, "print the resolved grids and cost as JSON, run nothing")
	addOutputFlag(f, &output, "markdown", "") // vocab.go
	f.StringVar(&backbone, "backbone", "", "replace the experiment's backbone (preset, checkpoint folder or HF id)")
	f.StringVar(&tokenzr, "tokenizer", "", "override the backbone's tokenizer (spiece.model, tokenizer.json, or \"byte\")")
	f.Float64Var(&scale, "steps-scale", 1, "multiply every step budget and evaluation interval (e.g. 0.01 for a quick look)")
	f.StringVar(&tasks, "tasks", "", "keep only these of the experiment's tasks (comma-separated)")
	f.StringVar(&methods, "methods", "", "keep only these of the experiment's methods (comma-separated)")
	f.StringVar(&seeds, "seeds", "", "replace the experiment's seeds (comma-separated)")
	f.StringArrayVar(&sweeps, "sweep", nil, "add a sweep axis method.key=v1,v2,… to every grid with the method (repeatable; replaces the experiment's axis of the same key)")
	f.BoolVar(&noSweep, "no-sweep", false, "run each method once with the experiment's settings, without its learning-rate sweep (a quick look)")
	f.StringVar(&out, "out", "", "results folder (default runs/NAME)")
	f.StringVar(&shard, "shard", "", "run only share i of n of every grid (i/n, 1 ≤ i ≤ n; combine the shares with ptbench merge)")
	registerGridFlags(f, &g)
	g.Pack = benchmarks.PackAuto
	f.Var(packFlag{&g.Pack}, "pack", packFlagDoc)
	registerMemoryFlag(f) // memory.go: --memory-limit
	f.IntVar(&g.Train.MaxSourceLen, "max-source-len", 0, "max source tokens (0 = the task's: 256, MultiRC 348)")
	f.BoolVar(&g.Train.GroupByLength, "group-by-length", false, "draw each epoch's batches from windows of similar-length examples")
	return cmd
}

// reproduceShard reads --shard i/n into the grid (1 ≤ i ≤ n; empty = the whole grid).
func reproduceShard(s string, g *benchmarks.Grid) error {
	if s == "" {
		return nil
	}
	var err error
	if g.Shard, g.Shards, err = benchmarks.ParseShard(s); err != nil {
		return usageError{err}
	}
	return nil
}

// experimentRow is one line of `reproduce --list`.
type experimentRow struct {
	Name   string                  `json:"name"`
	Title  string                  `json:"title"`
	Paper  string                  `json:"paper"`
	Grids  int                     `json:"grids"`
	Cost   benchmarks.CostEstimate `json:"cost"`
	Hours  float64                 `json:"estimated_hours"`
	Source string                  `json:"file"`
}

func listExperiments(cmd *cobra.Command, opts benchmarks.ReproduceOptions, output string) error {
	all, err := benchmarks.Experiments()
	if err != nil {
		return err
	}
	var rows []experimentRow
	for _, x := range all {
		o := opts
		o.Tasks, o.Methods = nil, nil // filters name one experiment's tasks: not for the list
		plan, err := x.Plan(o)
		if err != nil {
			return err
		}
		c := benchmarks.EstimateCost(plan, nil)
		rows = append(rows, experimentRow{Name: x.Name, Title: x.Title, Paper: x.Paper, Grids: len(plan), Cost: c,
			Hours: c.Seconds / 3600, Source: x.File})
	}
	if output == "json" {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintln(w, "| Experiment | What | Runs | Steps | Est. training time | Step times |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %d | %d | %s | %s |\n", r.Name, r.Title, r.Cost.Runs, r.Cost.Steps, humanSeconds(r.Cost.Seconds), r.Cost.StepSource)
	}
	fmt.Fprintln(w, "\nTimes: steps × PT's step time on the backbone (measured with ptbench bench on a 2-core CPU, or extrapolated from")
	fmt.Fprintln(w, "those by model size) × the method's relative step cost; a GPU is far faster.")
	return nil
}

func humanSeconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%.1f days", d.Hours()/24)
	case d >= time.Hour:
		return fmt.Sprintf("%.1f h", d.Hours())
	case d >= time.Minute:
		return fmt.Sprintf("%.1f min", d.Minutes())
	}
	return fmt.Sprintf("%.0f s", s)
}

// writeExperimentNote records which experiment (and which resolved grids) a folder holds, so
// the folder says what it reproduces.
func writeExperimentNote(out string, x *benchmarks.Experiment, plan []benchmarks.PlannedGrid) error {
	b, err := json.MarshalIndent(struct {
		Experiment string                   `json:"experiment"`
		Title      string                   `json:"title"`
		Paper      string                   `json:"paper"`
		Grids      []benchmarks.PlannedGrid `json:"grids"`
	}{x.Name, x.Title, x.Paper, plan}, "", "  ")
	if err != nil {
		return err
	}
	return storage.WriteFileAtomic(filepath.Join(out, "experiment.json"), append(b, '\n'))
}

// printBoardJSON prints the folder's leaderboard as JSON (as `ptbench leaderboard -o json`).
func printBoardJSON(cmd *cobra.Command, out string) error {
	rows, _, err := storage.ReadResultsLenient(filepath.Join(out, storage.ResultsFile))
	if err != nil {
		return err
	}
	bench, err := benchmarks.ReadBench(out)
	if err != nil {
		return err
	}
	return encodeBoard(cmd.OutOrStdout(), benchmarks.BuildBoard(rows), bench)
}

// renderResults writes the folder's leaderboard.md and prints it: as markdown, or with
// -o json as the board's data (`ptbench leaderboard -o json`).
func renderResults(cmd *cobra.Command, out, output string) error {
	if output != "json" {
		return writeLeaderboard(cmd, out)
	}
	quiet := &cobra.Command{} // writes leaderboard.md, prints nothing
	quiet.SetOut(io.Discard)
	quiet.SetErr(cmd.ErrOrStderr())
	if err := writeLeaderboard(quiet, out); err != nil {
		return err
	}
	return printBoardJSON(cmd, out)
}
