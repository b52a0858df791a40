package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ptbench/ptbench/benchmarks"
	"github.com/ptbench/ptbench/core/storage"
)

func newLeaderboardCmd() *cobra.Command {
	var output, results string
	var noSelect bool
	var invalidThreshold float64
	cmd := &cobra.Command{
		Use:   "leaderboard [RUNS_DIR]",
		Short: "Render the leaderboard (markdown, or -o json) from RUNS_DIR/results.jsonl",
		Long: `Render the leaderboard of a results folder (RUNS_DIR positionally or --results DIR;
default runs) from its results.jsonl, and its bench.jsonl if any (written by ptbench bench --out).`,
		Example: `  ptbench leaderboard runs/main
  ptbench leaderboard --results runs/main -o json
  ptbench leaderboard runs/main --no-select     # every sweep variant as a row`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := resultsDirArg(cmd, args, results) // vocab.go
			if err != nil {
				return err
			}
			args = []string{dir}
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return usageError{fmt.Errorf("results folder %s: not found (a folder written by ptbench run, or --results DIR)", dir)}
			}
			// Read-only: a torn last line (a write cut short) is skipped with a warning; the
			// next `ptbench run` on the folder moves it aside.
			rows, torn, err := storage.ReadResultsLenient(filepath.Join(args[0], storage.ResultsFile))
			if err != nil {
				return err
			}
			if torn != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s: skipped a last line cut short (%d bytes, an interrupted write); the next run on this folder moves it to %s.corrupt\n",
					filepath.Join(args[0], storage.ResultsFile), len(torn), storage.ResultsFile)
			}
			bench, err := benchmarks.ReadBench(args[0])
			if err != nil {
				return err
			}
			if len(rows) == 0 && len(bench) == 0 {
				return fmt.Errorf("%s: no results yet (and no bench.jsonl from ptbench bench --out)", filepath.Join(args[0], "results.jsonl"))
			}
			if math.IsNaN(invalidThreshold) || invalidThreshold > 1 {
				return usageError{fmt.Errorf("--invalid-threshold %v: want a share in [0, 1] (negative: never flag)", invalidThreshold)}
			}
			if invalidThreshold == 0 {
				invalidThreshold = 1e-12 // the flag's 0 flags any invalid prediction (BoardOptions' 0 is the default)
			}
			b := benchmarks.BuildBoardWith(rows, benchmarks.BoardOptions{NoSelect: noSelect, InvalidThreshold: invalidThreshold})
			if len(rows) == 0 && output != "json" { // a bench-only folder: its step-time table alone
				fmt.Fprintln(cmd.OutOrStdout(), "### Training-step benchmark (`ptbench bench`)")
				fmt.Fprintln(cmd.OutOrStdout())
				return benchmarks.RenderBench(cmd.OutOrStdout(), bench)
			}
			if output == "json" {
				return encodeBoard(cmd.OutOrStdout(), b, bench)
			}
			return renderAll(cmd.OutOrStdout(), b, bench)
		},
	}
	addOutputFlag(cmd.Flags(), &output, "markdown", "")
	addResultsFlag(cmd.Flags(), &results, "results folder to read (or RUNS_DIR)")
	cmd.Flags().Float64Var(&invalidThreshold, "invalid-threshold", benchmarks.DefaultInvalidThreshold, "flag a score whose share of invalid test predictions exceeds this (negative: never flag)")
	cmd.Flags().BoolVar(&noSelect, "no-select", false, "show every sweep variant as a row of its own (default: the best-dev variant per method, task and seed)")
	return cmd
}

// encodeBoard writes the leaderboard as JSON (-o json of leaderboard, run and reproduce):
// the board, the step-time benchmark and the paper comparison.
func encodeBoard(w io.Writer, b benchmarks.Board, bench []benchmarks.BenchResult) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		benchmarks.Board
		Bench []benchmarks.BenchResult `json:"bench,omitempty"`
		Paper []benchmarks.Comparison  `json:"paper_comparison,omitempty"`
	}{b, bench, benchmarks.Compare(b)})
}

// writeLeaderboard renders out/leaderboard.md atomically and prints it. It writes under the
// folder's lock; when another run holds it, that run will write leaderboard.md when it ends,
// and this one only prints.
func writeLeaderboard(cmd *cobra.Command, out string) error {
	store, err := storage.OpenResults(out, storage.ResultsOptions{Log: cmd.ErrOrStderr()})
	var locked *storage.LockedError
	switch {
	case errors.As(err, &locked):
		fmt.Fprintf(cmd.ErrOrStderr(), "%s is in use by another run (pid %d), which writes leaderboard.md when it ends\n", locked.Path, locked.PID)
	case err != nil:
		return err
	default:
		defer store.Close()
	}
	rows, _, err := storage.ReadResultsLenient(filepath.Join(out, storage.ResultsFile)) // torn: only if not ours to repair
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
	// Plots: link the figures of `ptbench plot` while out/plots holds them.
	if err := benchmarks.RenderPlotLinks(&buf, out); err != nil {
		return err
	}
	if store != nil {
		if err := storage.WriteFileAtomic(filepath.Join(out, "leaderboard.md"), buf.Bytes()); err != nil {
			return err
		}
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
	if err := benchmarks.RenderComparison(w, b); err != nil {
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
