package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newPlotCmd: `ptbench plot` (being built; see the issue "The paper harness").
func newPlotCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "plot",
		Short:  "not built yet",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("ptbench plot: not built yet")
		},
	}
}
