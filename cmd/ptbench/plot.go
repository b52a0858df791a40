package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ptbench/ptbench/benchmarks"
)

// plotOutput is `ptbench plot -o json`'s answer.
type plotOutput struct {
	Files       []string `json:"files"`                 // the figures written (PNG and SVG)
	Leaderboard string   `json:"leaderboard,omitempty"` // leaderboard.md, when re-rendered with the Plots section
	Warnings    []string `json:"warnings,omitempty"`
}

// newPlotCmd: `ptbench plot DIR` draws DIR's figures into DIR/plots and re-renders
// DIR/leaderboard.md with a Plots section linking them.
func newPlotCmd() *cobra.Command {
	var output, results string
	cmd := &cobra.Command{
		Use:   "plot [RUNS_DIR]",
		Short: "Draw RUNS_DIR's figures (PNG and SVG in RUNS_DIR/plots) and link them from leaderboard.md",
		Long: `Draw the figures of a results folder from RUNS_DIR/results.jsonl into RUNS_DIR/plots,
each as PNG and SVG:

  score-vs-params        mean test score vs trainable parameters (log x), a point per
                         method with a whisker from its lowest to its highest seed (each
                         averaged over the tasks), the Pareto front drawn as a step line
                         ending at its last point and its points ringed
  step-time              seconds per training step per method (bar: mean; whisker: min–max)
  step-time-vs-pt        step time relative to PT's on the same backbone and padding
                         (bar: mean; whisker: min–max; dashed: PT = 1×); only with PT runs
  peak-memory            peak resident memory per method (bar: mean; whisker: min–max)
  loss-curves-<task>     training loss over steps: a line per method, the mean over its
                         seeds, with a band from the lowest to the highest seed
  dev-curves-<task>      primary dev score at each evaluation, drawn the same way

Score axes span at least 10 points, so equal scores read as equal. Diverged and failed runs
that recorded curves are drawn on their own, dotted.

Then RUNS_DIR/leaderboard.md is re-rendered with a "Plots" section linking them (later
renders keep the section while RUNS_DIR/plots exists). Curves come from runs made since the
trainer records them; older rows have none and only appear in the score and bar figures.

RUNS_DIR may also be given as --results DIR (default runs).`,
		Example: `  ptbench plot runs/main
  ptbench plot --results runs/glue -o json     # the written files and warnings as JSON`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := resultsDirArg(cmd, args, results) // vocab.go
			if err != nil {
				return err
			}
			rep, err := benchmarks.WritePlots(dir)
			if err != nil {
				return err
			}
			for _, w := range rep.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
			}
			// Re-render leaderboard.md (under the folder's lock) without printing it.
			quiet := &cobra.Command{}
			quiet.SetOut(io.Discard)
			quiet.SetErr(cmd.ErrOrStderr())
			if err := writeLeaderboard(quiet, dir); err != nil {
				return fmt.Errorf("plots written, but leaderboard.md was not: %w", err)
			}
			res := plotOutput{Files: rep.Files, Warnings: rep.Warnings}
			board := filepath.Join(dir, "leaderboard.md")
			if md, err := os.ReadFile(board); err == nil && strings.Contains(string(md), benchmarks.PlotsDir+"/") {
				res.Leaderboard = board
			}
			if res.Files == nil {
				res.Files = []string{}
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			for _, f := range res.Files {
				fmt.Fprintln(cmd.OutOrStdout(), f)
			}
			if res.Leaderboard != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "%s links the figures (section \"Plots\")\n", res.Leaderboard)
			}
			return nil
		},
	}
	addOutputFlag(cmd.Flags(), &output, "text", "text (one written file a line) or json")
	addResultsFlag(cmd.Flags(), &results, "results folder to read and draw into (or RUNS_DIR)")
	return cmd
}
