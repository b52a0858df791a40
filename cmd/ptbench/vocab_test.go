package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// shownTypes are the type words a flag may show in help ("--steps int"): pflag's own and the
// typed values of this CLI. A backticked word in a usage string replaces the type (pflag's
// UnquoteUsage), which is how "--methods ptbench" and "--out ptbench" once rendered.
var shownTypes = map[string]bool{
	"": true, "string": true, "int": true, "uint": true, "float": true, "strings": true,
	"stringArray": true, "duration": true, "format": true, "bytes": true,
	"quant": true, "dtype": true, "device": true, "N|auto": true,
}

func TestFlagHelpShowsTypesNotWordsOfTheUsage(t *testing.T) {
	for _, cmd := range append(allCommands(newRoot()), newRoot()) {
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			shown, _ := pflag.UnquoteUsage(f)
			if strings.Contains(f.Usage, "`") || !shownTypes[shown] {
				t.Errorf("%s --%s renders as %q (usage %q)", cmd.CommandPath(), f.Name, "--"+f.Name+" "+shown, f.Usage)
			}
		})
	}
}

// The flags the issue found broken, as help prints them now.
func TestFlagHelpRendersTheseFlags(t *testing.T) {
	cases := []struct {
		cmd  []string
		flag string
		want string // the flag's help column: "--name type"
	}{
		{[]string{"run"}, "methods", "--methods string"},
		{[]string{"run"}, "tasks", "--tasks string"},
		{[]string{"run"}, "dropout", "--dropout float"},
		{[]string{"bench"}, "out", "--out string"},
		{[]string{"bench"}, "batch-size", "--batch-size int"},
		{[]string{"data"}, "task", "--task string"},
		{[]string{"score"}, "task", "--task string"},
		{[]string{"leaderboard"}, "output", "--output format"},
	}
	for _, c := range cases {
		cmd := findCommand(t, c.cmd...)
		usages := cmd.Flags().FlagUsages()
		var line string // the flag's own line: "  -o, --output format   …" or "      --tasks string   …"
		own := regexp.MustCompile(`^\s+(-[a-z], )?--` + regexp.QuoteMeta(c.flag) + ` `)
		for _, l := range strings.Split(usages, "\n") {
			if own.MatchString(l) {
				line = l
				break
			}
		}
		if !strings.Contains(line, c.want) {
			t.Errorf("%v --%s: help line %q, want it to show %q", c.cmd, c.flag, line, c.want)
		}
	}
}

func findCommand(t *testing.T, path ...string) *cobra.Command {
	t.Helper()
	cmd, rest, err := newRoot().Find(path)
	if err != nil || len(rest) != 0 {
		t.Fatalf("command %v: %v (rest %q)", path, err, rest)
	}
	return cmd
}

func TestCommandsThatOpenABackboneShareItsDefault(t *testing.T) {
	for _, path := range [][]string{{"run"}, {"bench"}, {"params"}, {"sources", "train"}} {
		f := findCommand(t, path...).Flags().Lookup("backbone")
		if f == nil || f.DefValue != defaultBackbone {
			t.Errorf("%v --backbone default: %v, want %q", path, f, defaultBackbone)
		}
	}
}

// The batch size is --batch-size everywhere; bench's old --batch still sets it for one release,
// with a deprecation note, and is hidden from help.
func TestBenchBatchSizeAndItsDeprecatedSpelling(t *testing.T) {
	cases := []struct {
		args     []string
		wantNote bool
	}{
		{[]string{"--batch-size", "2"}, false},
		{[]string{"--batch", "2"}, true},
		{[]string{"--batch=2"}, true},
	}
	for _, c := range cases {
		cmd := findCommand(t, "bench")
		var note bytes.Buffer
		cmd.Flags().SetOutput(&note)
		if err := cmd.ParseFlags(c.args); err != nil {
			t.Fatalf("bench %v: %v", c.args, err)
		}
		if got := cmd.Flags().Lookup("batch-size").Value.String(); got != "2" {
			t.Errorf("bench %v: --batch-size = %s, want 2", c.args, got)
		}
		if has := strings.Contains(note.String(), "--batch has been deprecated, use --batch-size"); has != c.wantNote {
			t.Errorf("bench %v: deprecation note %v, want %v (output %q)", c.args, has, c.wantNote, note.String())
		}
	}
	if usages := findCommand(t, "bench").Flags().FlagUsages(); strings.Contains(usages, "--batch ") {
		t.Errorf("bench help still lists --batch:\n%s", usages)
	}
}

// -o is json or the command's human format; either human word selects it.
func TestOutputFlagValuesPerCommandKind(t *testing.T) {
	cases := []struct {
		cmd     []string
		value   string
		want    string
		wantErr bool
	}{
		{[]string{"leaderboard"}, "json", "json", false},
		{[]string{"leaderboard"}, "markdown", "markdown", false},
		{[]string{"leaderboard"}, "text", "markdown", false},
		{[]string{"run"}, "text", "markdown", false},
		{[]string{"params"}, "markdown", "text", false},
		{[]string{"params"}, "json", "json", false},
		{[]string{"plot"}, "yaml", "", true},
		{[]string{"sources", "list"}, "csv", "", true},
	}
	for _, c := range cases {
		cmd := findCommand(t, c.cmd...)
		err := cmd.ParseFlags([]string{"-o", c.value})
		if (err != nil) != c.wantErr {
			t.Errorf("%v -o %s: err %v, want error %v", c.cmd, c.value, err, c.wantErr)
			continue
		}
		if got := cmd.Flags().Lookup("output").Value.String(); !c.wantErr && got != c.want {
			t.Errorf("%v -o %s: %q, want %q", c.cmd, c.value, got, c.want)
		}
	}
	for _, cmd := range allCommands(newRoot()) {
		if f := cmd.Flags().Lookup("output"); f != nil && (f.Shorthand != "o" || f.Value.Type() != "format") {
			t.Errorf("%s --output: shorthand %q, type %q; want -o through addOutputFlag", cmd.CommandPath(), f.Shorthand, f.Value.Type())
		}
	}
}

// A reading command takes its results folder as --results (leaderboard and plot also
// positionally); the same folder both ways is fine, two different ones a usage error.
func TestResultsFolderOfReadingCommands(t *testing.T) {
	cases := []struct {
		args    []string
		want    string
		wantErr bool
	}{
		{nil, "runs", false},
		{[]string{"--results", "a"}, "a", false},
		{[]string{"a"}, "a", false},
		{[]string{"a/", "--results", "a"}, "a/", false},
		{[]string{"a", "--results", "b"}, "", true},
	}
	for _, c := range cases {
		cmd := findCommand(t, "leaderboard")
		if err := cmd.ParseFlags(c.args); err != nil {
			t.Fatal(err)
		}
		got, err := resultsDirArg(cmd, cmd.Flags().Args(), cmd.Flags().Lookup("results").Value.String())
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("leaderboard %v: %q, %v; want %q (error %v)", c.args, got, err, c.want, c.wantErr)
		}
	}
	for _, path := range [][]string{{"leaderboard"}, {"plot"}, {"export"}, {"sources", "list"}, {"artefacts", "list"}} {
		if findCommand(t, path...).Flags().Lookup("results") == nil {
			t.Errorf("%v has no --results", path)
		}
	}
	// The old spelling of the listings still reads the folder.
	cmd := findCommand(t, "artefacts", "list")
	cmd.Flags().SetOutput(&bytes.Buffer{})
	if err := cmd.ParseFlags([]string{"--out", "old"}); err != nil || cmd.Flags().Lookup("results").Value.String() != "old" {
		t.Errorf("artefacts list --out old: %v, --results = %s", err, cmd.Flags().Lookup("results").Value)
	}
}
