package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/plugins/host"
)

// methodView is `ptbench methods NAME -o json`: the method's description and where it comes
// from ("built-in" or the plugin binary's path).
type methodView struct {
	core.Description
	Source string `json:"source"`
}

// showMethod prints one method's description: a built-in from the registry, anything else
// asked of its plugin (started briefly).
func showMethod(cmd *cobra.Command, name, output string) error {
	v := methodView{Source: "built-in"}
	d, ok := core.Describe(name)
	if ok && d.Settings != nil {
		v.Description = d
	} else {
		pd, path, err := host.DescribeMethod(name, 10*time.Second)
		if err != nil {
			return err
		}
		v.Description, v.Source = pd, path
	}
	if output == "json" {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	return writeMethod(cmd.OutOrStdout(), v)
}

// writeMethod is the text form: a header, the facts, then one line per setting.
func writeMethod(w io.Writer, v methodView) error {
	fmt.Fprintf(w, "%s — %s (%s)\n%s\n\n", v.Name, v.DisplayLabel(), v.Source, v.About)
	if v.Family != "" {
		fmt.Fprintf(w, "family:     %s\n", v.Family)
	}
	fmt.Fprintf(w, "step cost:  %s\n", stepCostText(v.Description))
	if v.PEFT != "" {
		fmt.Fprintf(w, "PEFT:       %s (ptbench export --format peft; run --init-from)\n", v.PEFT)
	}
	if v.Source == "built-in" {
		eps, whose := v.AdamEps, "its reference code's"
		if eps == 0 {
			eps, whose = core.DefaultAdamEps, "the protocol's default"
		}
		fmt.Fprintf(w, "AdamW ε:    %g (%s; run --adam-eps sets one for every method)\n", eps, whose)
	}
	fmt.Fprintf(w, "needs:      %s\n\n", needsText(v.Needs))
	if len(v.Settings) == 0 {
		fmt.Fprintln(w, "settings:   none")
		return nil
	}
	fmt.Fprintf(w, "settings (--set %s.NAME=VALUE):\n", v.Name)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tTYPE\tDEFAULT\tDOC")
	for _, s := range v.Settings {
		doc := s.Doc
		if len(s.Aliases) > 0 {
			doc += " (deprecated spelling: " + strings.Join(s.Aliases, ", ") + ")"
		}
		def, _ := json.Marshal(s.Default)
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.Name, s.Type, def, doc)
	}
	return tw.Flush()
}

// stepCostText says the relative step cost against the baseline method's label.
func stepCostText(d core.Description) string {
	base := "the baseline"
	if b, ok := core.Describe(core.BaselineMethod()); ok {
		base = b.DisplayLabel()
	}
	switch {
	case d.Baseline:
		return "1 (the baseline other step times are relative to)"
	case d.StepCost > 0:
		return fmt.Sprintf("%g× %s (the method's registered relative step time; balances shards and reproduce's time estimates)", d.StepCost, base)
	default:
		return fmt.Sprintf("unknown (counted as 1× %s)", base)
	}
}

// needsText lists what the method requires beyond a backbone and a task.
func needsText(n core.Needs) string {
	var out []string
	if n.Artefacts {
		out = append(out, "source artefacts when its settings name source tasks (trained first, or by `ptbench sources train`)")
	}
	if n.EncoderDecoder {
		out = append(out, "an encoder–decoder backbone")
	}
	if n.MultiTask {
		out = append(out, "several tasks at once")
	}
	if n.TrainsBackboneWeights {
		out = append(out, "trainable backbone weights (no --quant)")
	}
	if len(out) == 0 {
		return "a backbone and a task"
	}
	return strings.Join(out, "; ")
}
