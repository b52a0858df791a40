package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ptbench/ptbench/benchmarks"
	"github.com/ptbench/ptbench/core"
)

func newLeaderboardCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "leaderboard RUNS_DIR",
		Short: "Render the leaderboard (markdown, or -o json) from RUNS_DIR/results.jsonl",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rows, err := core.ReadResults(filepath.Join(args[0], "results.jsonl"))
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				return fmt.Errorf("%s: no results yet", filepath.Join(args[0], "results.jsonl"))
			}
			b := benchmarks.BuildBoard(rows)
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(b)
			}
			return benchmarks.RenderMarkdown(cmd.OutOrStdout(), b)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "markdown", "markdown or json")
	return cmd
}

// writeLeaderboard renders out/leaderboard.md atomically and prints it.
func writeLeaderboard(cmd *cobra.Command, out string) error {
	rows, err := core.ReadResults(filepath.Join(out, "results.jsonl"))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := benchmarks.RenderMarkdown(&buf, benchmarks.BuildBoard(rows)); err != nil {
		return err
	}
	if err := core.WriteFileAtomic(filepath.Join(out, "leaderboard.md"), buf.Bytes()); err != nil {
		return err
	}
	_, err = cmd.OutOrStdout().Write(buf.Bytes())
	return err
}
