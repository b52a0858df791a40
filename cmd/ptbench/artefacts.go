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
	var out, format string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the artefacts of a results folder with the method, tasks, backbone and seed each belongs to",
		Example: `  ptbench artefacts list --results runs/main
  ptbench artefacts list --results runs/main -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			arts, err := benchmarks.ListArtefacts(out)
			if err != nil {
				return err
			}
			switch format {
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(arts)
			case "markdown", "":
				if len(arts) == 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "no artefacts in %s\n", out)
					return nil
				}
				return benchmarks.RenderArtefacts(cmd.OutOrStdout(), arts)
			default:
				return usageError{fmt.Errorf("-o %q: want markdown or json", format)}
			}
		},
	}
	addResultsFlag(list.Flags(), &out, "results folder to read") // vocab.go
	deprecateAlias(list.Flags(), "out", "results")
	addOutputFlag(list.Flags(), &format, "markdown", "")
	cmd.AddCommand(list)
	return cmd
}
