package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newMergeCmd: `ptbench merge` (being built; see the issue "The paper harness").
func newMergeCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "merge",
		Short:  "not built yet",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("ptbench merge: not built yet")
		},
	}
}
