package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newReproduceCmd: `ptbench reproduce` (being built; see the issue "The paper harness").
func newReproduceCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "reproduce",
		Short:  "not built yet",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("ptbench reproduce: not built yet")
		},
	}
}
