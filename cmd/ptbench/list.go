package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/plugins/host"
)

func newListCmd(name, short string, list func() []core.Registered) *cobra.Command {
	if name == "methods" {
		return newMethodsCmd(short)
	}
	var output string
	cmd := &cobra.Command{
		Use:     name,
		Short:   short,
		Example: "  ptbench " + name + "\n  ptbench " + name + " -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			items := list()
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(items)
			}
			for _, r := range items {
				fmt.Fprintf(cmd.OutOrStdout(), "%-14s %s\n", r.Name, r.About)
			}
			return nil
		},
	}
	addOutputFlag(cmd.Flags(), &output, "text", "") // vocab.go
	return cmd
}

// newMethodsCmd lists built-in methods and the method plugins found in $PTBENCH_PLUGIN_DIR,
// beside the ptbench binary and on $PATH (ptbench-method-<name>), each with its source; with a
// NAME it shows that method's description: label, family, needs, relative step cost, PEFT
// equivalent and every setting (name, type, default, doc) — the keys --set, --sweep and
// --method-config take.
func newMethodsCmd(short string) *cobra.Command {
	var output string
	var quick bool
	cmd := &cobra.Command{
		Use:   "methods [NAME]",
		Short: short + " and method plugins (ptbench-method-<name> in $PTBENCH_PLUGIN_DIR, beside ptbench, or on $PATH); with NAME, its settings",
		Example: `  ptbench methods
  ptbench methods pt               # pt's settings: name, type, default, doc
  ptbench methods dept -o json     # the same as JSON: settings as [{name, type, default, doc}, …]
  ptbench methods plugin:./bin/ptbench-method-residual`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return usageError{fmt.Errorf("-o %q: want text or json", output)}
			}
			if len(args) == 1 {
				return showMethod(cmd, args[0], output)
			}
			items := host.List(!quick)
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(items)
			}
			for _, r := range items {
				if r.Source == "built-in" {
					fmt.Fprintf(cmd.OutOrStdout(), "%-14s %-9s %s\n", r.Name, r.Source, r.About)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-14s %-9s %s [%s]\n", r.Name, "plugin", r.About, r.Source)
			}
			return nil
		},
	}
	addOutputFlag(cmd.Flags(), &output, "text", "") // vocab.go
	cmd.Flags().BoolVar(&quick, "quick", false, "do not start plugins to ask for their description")
	return cmd
}
