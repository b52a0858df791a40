package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/plugins/host"
)

// paramsRow is one method's trainable parameter count on a backbone.
type paramsRow struct {
	Method          string  `json:"method"`
	Label           string  `json:"label"`
	TrainableParams int64   `json:"trainable_params"`
	BackboneParams  int64   `json:"backbone_params"`
	Share           float64 `json:"share"` // trainable / backbone parameters
	Error           string  `json:"error,omitempty"`
}

// newParamsCmd builds every method on the opened backbone (Setup only, no training) and
// prints its trainable parameter count and share of the backbone.
func newParamsCmd() *cobra.Command {
	var methods, backbone, tokenizer, output, methodConfig string
	var sets []string
	var seed int64
	var maxSourceLen int
	var taskList string
	cmd := &cobra.Command{
		Use:   "params --methods M1,M2 --backbone B",
		Short: "Print each method's trainable parameter count and share of the backbone, without training",
		Example: `  ptbench params --methods pt,dept,ept,ft,lora,adapter,adapterdrop,bitfit --backbone t5-base -o json
  ptbench params --methods hyperformer --tasks rte,mrpc,cola --backbone t5-small`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			names := splitList(methods)
			if len(names) == 0 {
				return usageError{fmt.Errorf("--methods is required")}
			}
			if output != "text" && output != "json" {
				return usageError{fmt.Errorf("-o must be text or json, got %q", output)}
			}
			if err := host.RegisterPlugins(names); err != nil {
				return usageError{err}
			}
			cfgs, err := loadMethodConfigs(methodConfig, sets, names)
			if err != nil {
				return usageError{err}
			}
			for _, name := range names { // every setting valid before the backbone loads
				m, err := core.NewMethod(name, cfgs[name])
				if err != nil {
					return usageError{err}
				}
				m.Close()
			}
			bb, err := core.OpenBackbone(backbone, core.BackboneOptions{Seed: seed, Tokenizer: tokenizer})
			if err != nil {
				return err
			}
			defer bb.Close()
			var rows []paramsRow
			failed := 0
			for _, name := range names {
				row := countParams(bb, name, cfgs[name], seed, maxSourceLen, splitList(taskList))
				if row.Error != "" {
					failed++
				}
				rows = append(rows, row)
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(rows); err != nil {
					return err
				}
			} else {
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', tabwriter.AlignRight)
				fmt.Fprintf(w, "method\ttrainable params\tshare of %s\t\n", backbone)
				for _, r := range rows {
					if r.Error != "" {
						fmt.Fprintf(w, "%s\t-\terror: %s\t\n", r.Method, r.Error)
						continue
					}
					fmt.Fprintf(w, "%s\t%s\t%.4f%%\t\n", r.Method, commas(r.TrainableParams), 100*r.Share)
				}
				w.Flush()
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d methods could not be set up", failed, len(names))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&methods, "methods", "", "comma-separated methods (built-in or plugins)")
	f.StringVar(&taskList, "tasks", "", "the run's tasks, for methods whose size depends on them (HyperFormer: one task embedding each; default one task)")
	f.StringVar(&backbone, "backbone", defaultBackbone, "preset (random init is fine) or checkpoint directory")
	f.StringVar(&tokenizer, "tokenizer", "", "override the backbone's tokenizer")
	addOutputFlag(f, &output, "text", "") // vocab.go
	f.StringVar(&methodConfig, "method-config", "", "YAML/JSON file: {method: {key: value}}")
	f.StringArrayVar(&sets, "set", nil, "method setting method.key=value (repeatable)")
	f.Int64Var(&seed, "seed", 42, "seed of random-init presets and of the methods' initialisation")
	f.IntVar(&maxSourceLen, "max-source-len", 256, "the longest source the methods should expect (DePT's s)")
	return cmd
}

// countParams sets one method up on bb and counts its trainable parameters. A method that
// edits the backbone's weights gets them restored (and refrozen) afterwards.
func countParams(bb core.Backbone, name string, raw map[string]any, seed int64, maxSourceLen int, tasks []string) (row paramsRow) {
	row = paramsRow{Method: name, Label: name, BackboneParams: bb.Info().NumParams}
	defer func() {
		if p := recover(); p != nil {
			row.Error = fmt.Sprintf("panic: %v", p)
		}
	}()
	m, err := core.NewMethod(name, raw)
	if err != nil {
		row.Error = err.Error()
		return row
	}
	defer m.Close()
	row.Label = core.MethodLabel(name, m)
	var saved []core.NamedTensor
	if we, ok := m.(core.WeightEditor); ok && we.EditsWeights() {
		saved = core.SnapshotWeights(bb)
		defer func() {
			core.RestoreWeights(bb, saved)
			core.DropNamed(saved)
		}()
	}
	core.SeedAll(seed)
	// Source artefacts (SPoT, ATTEMPT, MPT) are set up untrained: their shapes, not their training.
	if len(tasks) == 0 {
		tasks = []string{"params"}
	}
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: seed, MaxSourceLen: maxSourceLen, Task: strings.Join(tasks, "+"), Tasks: tasks,
		Artefacts: &core.UntrainedArtefacts{Backbone: bb, Seed: seed}}); err != nil {
		row.Error = err.Error()
		return row
	}
	row.TrainableParams = core.TrainableParams(m)
	if row.BackboneParams > 0 {
		row.Share = float64(row.TrainableParams) / float64(row.BackboneParams)
	}
	return row
}

// commas formats 1234567 as 1,234,567.
func commas(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + commas(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
