package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ptbench/ptbench/benchmarks"
)

// newMergeCmd: `ptbench merge --out OUT DIR...` combines the results folders of a sharded grid.
func newMergeCmd() *cobra.Command {
	var out, output string
	var noWait bool
	cmd := &cobra.Command{
		Use:   "merge --out OUT DIR...",
		Short: "Combine results folders (the shards of a --shard i/n grid) into one, deduplicated by run key; render the leaderboard",
		Long: `Merge appends the rows of every DIR/results.jsonl to OUT/results.jsonl, one row per run key,
copies the kept rows' checkpoints and every DIR/artefacts entry into OUT, and renders
OUT/leaderboard.md as ptbench run does.

A grid too big for one machine runs as n shards, each on its own machine and folder:

  ptbench run --methods pt,lora --tasks rte,mrpc --shard 1/2 --out shards/1   # machine 1
  ptbench run --methods pt,lora --tasks rte,mrpc --shard 2/2 --out shards/2   # machine 2
  ptbench merge --out runs shards/1 shards/2

The split is by estimated cost and the same in every process, so the shards need no
coordination (ptbench slurm and ptbench k8s write the job scripts that do this).

Rows of one run key with the same outcome (status, scores) are one run: kept once. A finished
row (ok, diverged) wins over failed ones. Two finished rows that disagree are a conflict: the
one with the latest finished_at is kept and the conflict is reported (stderr, and -o json).
Merging again adds nothing.`,
		Example: `  ptbench merge --out runs/glue shards/1 shards/2
  ptbench merge --out runs/glue runs/glue/shards/* -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, dirs []string) error {
			if out == "" {
				return usageError{fmt.Errorf("--out is required")}
			}
			if output != "markdown" && output != "json" {
				return usageError{fmt.Errorf("-o %q: want markdown or json", output)}
			}
			rep, err := benchmarks.MergeResults(out, dirs, !noWait, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "merge: %d rows read from %d folders, %d appended to %s, %d duplicates, %d superseded failures, %d conflicts, %d checkpoints and %d artefacts copied\n",
				rep.RowsRead, len(dirs), rep.Appended, out, rep.Duplicates, rep.Superseded, len(rep.Conflicts), rep.Checkpoints, rep.Artefacts)
			if output == "json" {
				// The leaderboard is still written to OUT/leaderboard.md; stdout carries the summary.
				stdout := cmd.OutOrStdout()
				cmd.SetOut(io.Discard)
				err := writeLeaderboard(cmd, out)
				cmd.SetOut(stdout)
				if err != nil {
					return err
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			return writeLeaderboard(cmd, out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "the merged results folder (created if missing; rows already there are kept)")
	addOutputFlag(f, &output, "markdown", "markdown (the leaderboard) or json (a summary: rows, duplicates, conflicts)") // vocab.go
	f.BoolVar(&noWait, "no-wait", false, "fail at once when another run writes to --out (default: wait for it)")
	return cmd
}
