package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newExportCmd: `ptbench export` (being built; see the issue "The paper harness").
func newExportCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "export",
		Short:  "not built yet",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("ptbench export: not built yet")
		},
	}
}
