package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newK8sCmd: `ptbench k8s` (being built; see the issue "The paper harness").
func newK8sCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "k8s",
		Short:  "not built yet",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("ptbench k8s: not built yet")
		},
	}
}
