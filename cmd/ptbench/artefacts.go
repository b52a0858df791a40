package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ptbench/ptbench/benchmarks"
)

func newArtefactsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "artefacts",
		Short:   "Trained method states that runs reuse (source-task prompts), by stable name",
		Example: `  ptbench artefacts list --results runs/main`,
	}
	cmd.AddCommand(newArtefactsListCmd("artefacts", "artefacts",
		"List the artefacts of a results folder with the method, tasks, backbone and seed each belongs to"))
	return cmd
}

// newArtefactsListCmd is the list subcommand of `artefacts` and of `sources` (parent): one
// listing, as source artefacts are the artefacts a results folder has; what names them in
// the message for an empty folder.
func newArtefactsListCmd(parent, what, short string) *cobra.Command {
	var dir, format string
	list := &cobra.Command{
		Use:     "list [RUNS_DIR]",
		Short:   short,
		Example: fmt.Sprintf("  ptbench %[1]s list runs/main\n  ptbench %[1]s list --results runs/main -o json", parent),
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := resultsDirArg(cmd, args, dir) // RUNS_DIR or --results, as leaderboard and plot
			if err != nil {
				return err
			}
			arts, err := benchmarks.ListArtefacts(dir)
			if err != nil {
				return err
			}
			if format == "json" { // -o takes only markdown or json
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(arts)
			}
			if len(arts) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "no %s in %s\n", what, dir)
				return nil
			}
			return benchmarks.RenderArtefacts(cmd.OutOrStdout(), arts)
		},
	}
	addResultsFlag(list.Flags(), &dir, "results folder to read") // vocab.go
	deprecateAlias(list.Flags(), "out", "results")
	addOutputFlag(list.Flags(), &format, "markdown", "")
	return list
}
