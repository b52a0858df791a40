package main

// One CLI vocabulary (README: CLI vocabulary): the same concept is spelled the same way in
// every command. The helpers here are how commands register the shared flags, so that a new
// command cannot drift into a dialect of its own.

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// defaultBackbone is the --backbone default of every command that opens a backbone (run,
// bench, params, sources train). The random-init tiny preset: it needs no download and no
// checkpoint, so any command runs as typed; pass --backbone t5-base (or a checkpoint) for the
// paper's sizes. reproduce has none: an experiment names its own backbone.
const defaultBackbone = "t5-tiny"

// defaultResults is the results folder a command reads or writes when none is given.
const defaultResults = "runs"

// outputFormat is the value of -o/--output: "json" for machines, or the command's human
// format — "markdown" where the output is a table (leaderboards, listings of a results
// folder), "text" for reports. Either human word selects the human format on every command,
// so -o text and -o markdown never fail for a reason a reader cannot see in the help.
type outputFormat struct {
	p     *string
	human string
}

func (o outputFormat) String() string { return *o.p }
func (o outputFormat) Type() string   { return "format" }

func (o outputFormat) Set(s string) error {
	switch s {
	case "json":
		*o.p = s
	case "text", "markdown":
		*o.p = o.human
	default:
		return fmt.Errorf("want %s or json", o.human)
	}
	return nil
}

// addOutputFlag registers -o/--output with the human format human ("markdown" or "text") as
// its default; what says what the human format shows, if anything beyond its name.
func addOutputFlag(f *pflag.FlagSet, p *string, human, what string) {
	*p = human
	usage := human + " or json"
	if what != "" {
		usage = what
	}
	f.VarP(outputFormat{p: p, human: human}, "output", "o", usage)
}

// deprecateAlias keeps an old spelling of a flag working for one release: old shares the
// value of the existing flag name (any type), is hidden from help, and prints a deprecation
// note on use.
func deprecateAlias(f *pflag.FlagSet, old, name string) {
	nf := f.Lookup(name)
	if nf == nil {
		panic("deprecateAlias: no flag --" + name)
	}
	f.AddFlag(&pflag.Flag{Name: old, Usage: nf.Usage, Value: nf.Value, DefValue: nf.DefValue, NoOptDefVal: nf.NoOptDefVal})
	_ = f.MarkDeprecated(old, fmt.Sprintf("use --%s (--%s will be removed in the next release)", name, old))
}

// addResultsFlag registers --results, the results folder a reading command (leaderboard,
// plot, export, sources list, artefacts list) reads. Commands that write one take --out.
func addResultsFlag(f *pflag.FlagSet, p *string, usage string) {
	f.StringVar(p, "results", defaultResults, usage)
}

// resultsDirArg resolves the results folder of a command that also takes it positionally
// (leaderboard RUNS_DIR, plot RUNS_DIR): the argument, --results, or the default; both given
// and different is a usage error.
func resultsDirArg(cmd *cobra.Command, args []string, flagValue string) (string, error) {
	if len(args) == 0 {
		return flagValue, nil
	}
	if cmd.Flags().Changed("results") && filepath.Clean(flagValue) != filepath.Clean(args[0]) {
		return "", usageError{fmt.Errorf("results folder given twice: %q and --results %q", args[0], flagValue)}
	}
	return args[0], nil
}
