package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ptbench/ptbench/benchmarks"
)

func newArtefactsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "artefacts",
		Short: "Trained method states that runs reuse (source-task prompts), by stable name",
	}
	var out, format string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the artefacts of a results folder with the method, tasks, backbone and seed each belongs to",
		Args:  cobra.NoArgs,
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
	list.Flags().StringVar(&out, "out", "runs", "results folder")
	list.Flags().StringVarP(&format, "output", "o", "markdown", "markdown or json")
	cmd.AddCommand(list)
	return cmd
}
