package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newSlurmCmd: `ptbench slurm` (being built; see the issue "The paper harness").
func newSlurmCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "slurm",
		Short:  "not built yet",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("ptbench slurm: not built yet")
		},
	}
}
