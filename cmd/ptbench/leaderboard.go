package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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
			bench, err := benchmarks.ReadBench(args[0])
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					benchmarks.Board
					Bench []benchmarks.BenchResult `json:"bench,omitempty"`
				}{b, bench})
			}
			return renderAll(cmd.OutOrStdout(), b, bench)
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
	bench, err := benchmarks.ReadBench(out)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := renderAll(&buf, benchmarks.BuildBoard(rows), bench); err != nil {
		return err
	}
	if err := core.WriteFileAtomic(filepath.Join(out, "leaderboard.md"), buf.Bytes()); err != nil {
		return err
	}
	_, err = cmd.OutOrStdout().Write(buf.Bytes())
	return err
}

// renderAll writes the score and time tables, then the step-time benchmark if there is one.
func renderAll(w io.Writer, b benchmarks.Board, bench []benchmarks.BenchResult) error {
	if err := benchmarks.RenderMarkdown(w, b); err != nil {
		return err
	}
	if err := benchmarks.RenderReference(w, b.Tasks); err != nil {
		return err
	}
	if len(bench) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### Training-step benchmark (`ptbench bench`)")
	fmt.Fprintln(w)
	return benchmarks.RenderBench(w, bench)
}
