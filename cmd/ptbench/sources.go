package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ptbench/ptbench/benchmarks"
	"github.com/ptbench/ptbench/core"
)

// newSourcesCmd is `ptbench sources`: the source-task artefacts of SPoT, ATTEMPT and MPT.
func newSourcesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sources",
		Short: "Train or list the source-task artefacts SPoT, ATTEMPT and MPT start from",
		Long: `SPoT starts from a PT prompt trained on a source task, ATTEMPT mixes frozen PT prompts of
several source tasks, MPT distils one shared prompt from per-source teachers. These source
artefacts are trained once per backbone, settings and data, stored under stable names in
OUT/artefacts/, recorded in OUT/results.jsonl as source rows, and reused by every target run.
` + "`ptbench run`" + ` trains missing ones by itself; this command trains them ahead of time.`,
		Example: `  ptbench sources train --method spot --sources mnli --data-dir data/ --out runs/main
  ptbench sources list --results runs/main`,
	}
	var (
		method, sources, backbone, tokenizer, out, methodConfig string
		sets                                                    []string
		g                                                       benchmarks.Grid
	)
	train := &cobra.Command{
		Use:   "train --method " + strings.Join(artefactMethods(), "|") + " --sources a,b,c",
		Short: "Train (or find) the source artefacts of a method",
		Example: `  ptbench sources train --method attempt --sources sst2,qnli --backbone t5-base-dir/ --data-dir data/
  ptbench sources train --method spot --sources mnli,qqp --steps 30000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if method == "" {
				return usageError{fmt.Errorf("--method is required (%s)", strings.Join(artefactMethods(), ", "))}
			}
			srcs := splitList(sources)
			cfgs, err := loadMethodConfigs(methodConfig, sets, []string{method})
			if err != nil {
				return usageError{err}
			}
			raw := cfgs[method]
			if raw == nil {
				raw = map[string]any{}
			}
			// A method with a "sources" list (ATTEMPT, MPT) trains all the sources given in
			// one configuration; one with a single "source" (SPoT transfers from one) gets one
			// configuration per source given.
			var specs []benchmarks.MethodSpec
			withSources := func(key string, v any) map[string]any {
				c := map[string]any{}
				for k, x := range raw {
					c[k] = x
				}
				c[key] = v
				return c
			}
			d, _ := core.Describe(method)
			_, listed := d.Setting("sources")
			_, single := d.Setting("source")
			switch {
			case len(srcs) == 0:
				specs = append(specs, benchmarks.MethodSpec{Name: method, Config: raw})
			case single && !listed:
				for _, s := range srcs {
					specs = append(specs, benchmarks.MethodSpec{Name: method, Config: withSources("source", s)})
				}
			default:
				list := make([]any, len(srcs))
				for i, s := range srcs {
					list[i] = s
				}
				specs = append(specs, benchmarks.MethodSpec{Name: method, Config: withSources("sources", list)})
			}
			if err := g.Train.Validate(); err != nil {
				return usageError{err}
			}
			g.Backbone, g.BackboneOpts.Tokenizer, g.OutDir = backbone, tokenizer, out
			g.Log, g.Terminal, g.CodeVersion = cmd.ErrOrStderr(), isTerminal(os.Stderr), version
			if g.Data.CacheDir == "" {
				g.Data.CacheDir = defaultCacheDir()
			}
			names, err := g.TrainSources(specs)
			if err != nil {
				return err
			}
			for _, n := range names {
				fmt.Fprintln(cmd.OutOrStdout(), n)
			}
			return nil
		},
	}
	f := train.Flags()
	f.StringVar(&method, "method", "", "a method that uses source artefacts: "+strings.Join(artefactMethods(), ", "))
	f.StringVar(&sources, "sources", "", "comma-separated source tasks (default: the method's own, e.g. mnli for SPoT)")
	f.StringVar(&backbone, "backbone", defaultBackbone, "preset or checkpoint directory / HF cache id")
	f.StringVar(&tokenizer, "tokenizer", "", "override the backbone's tokenizer")
	f.StringVar(&out, "out", "runs", "results folder (artefacts go to OUT/artefacts)")
	f.StringVar(&methodConfig, "method-config", "", "YAML/JSON file: {method: {key: value}}")
	f.StringArrayVar(&sets, "set", nil, "method setting method.key=value (repeatable)")
	registerGridFlags(f, &g)

	cmd.AddCommand(train, newArtefactsListCmd("sources", "source artefacts",
		"List the source artefacts of a results folder, with the backbone and config each belongs to"))
	return cmd
}

// artefactMethods are the registered methods whose description says they need source
// artefacts (the methods `sources train` is for), sorted.
func artefactMethods() []string {
	var out []string
	for _, d := range core.Descriptions() {
		if d.Needs.Artefacts {
			out = append(out, d.Name)
		}
	}
	return out
}
