package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Command lines written for people — README.md's and every command's Example — must parse as
// written: the subcommand exists, every flag exists, no flag is a deprecated spelling, and the
// command after a "--" (slurm, k8s) parses too. Nothing runs: flags are parsed on a fresh root.

// commandWords splits a shell command line into words: quotes group, a comment, pipe,
// redirection or command separator ends the line.
func commandWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	flush := func() {
		if inWord {
			words = append(words, cur.String())
		}
		cur.Reset()
		inWord = false
	}
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			flush()
		case !inWord && (r == '#' || r == '|' || r == '>' || r == ';' || r == '&'):
			flush()
			return words
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	flush()
	return words
}

// ptbenchArgs returns the arguments after the ptbench word of a command line (after any
// VAR=value prefixes), or ok false when the line does not run ptbench.
func ptbenchArgs(words []string) (args []string, ok bool) {
	for i, w := range words {
		if w == "ptbench" || strings.HasSuffix(w, "/ptbench") {
			return words[i+1:], true
		}
		if !strings.Contains(w, "=") && w != "$" {
			return nil, false
		}
	}
	return nil, false
}

// checkCommandLine parses args (a ptbench command line without "ptbench") as the CLI would,
// without running it.
func checkCommandLine(args []string) error {
	root := newRoot()
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if cmd == root {
		if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
			return fmt.Errorf("no command %q", args[0])
		}
	}
	var discard bytes.Buffer
	cmd.Flags().SetOutput(&discard)
	rest = fillPlaceholders(cmd, rest)
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	var deprecated []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Deprecated != "" {
			deprecated = append(deprecated, "--"+f.Name+" ("+f.Deprecated+")")
		}
	})
	if len(deprecated) > 0 {
		return fmt.Errorf("deprecated spelling: %s", strings.Join(deprecated, ", "))
	}
	if dash := cmd.ArgsLenAtDash(); dash >= 0 { // slurm/k8s: the command its shards run
		inner := cmd.Flags().Args()[dash:]
		if len(inner) > 0 {
			if err := checkCommandLine(inner); err != nil {
				return fmt.Errorf("after --: %w", err)
			}
		}
	}
	return nil
}

var placeholder = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// fillPlaceholders replaces a placeholder value ("--gpus G", "--shards N") by the flag's
// default, so that prose like "ptbench slurm --shards N" checks the flag names, not the numbers.
func fillPlaceholders(cmd *cobra.Command, args []string) []string {
	out := append([]string(nil), args...)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == "--" {
			break
		}
		name, ok := strings.CutPrefix(out[i], "--")
		if !ok || strings.Contains(name, "=") {
			continue
		}
		if f := cmd.Flag(name); f != nil && f.NoOptDefVal == "" && placeholder.MatchString(out[i+1]) {
			out[i+1] = f.DefValue
		}
	}
	return out
}

var inlineCode = regexp.MustCompile("`([^`]+)`")

// readmeCommands collects README.md's ptbench command lines: code-block lines (indented or
// fenced, with "\" continuations joined) and inline code spans. An inline span is prose
// shorthand, so it is cut at its first "…"/"..." and its [optional] brackets are dropped, and
// "a|b" in the command's place stands for a.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	lines := strings.Split(string(b), "\n")
	fenced := false
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced || strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "\t") {
			full := strings.TrimSpace(line)
			for strings.HasSuffix(full, "\\") && i+1 < len(lines) {
				i++
				full = strings.TrimSuffix(full, "\\") + " " + strings.TrimSpace(lines[i])
			}
			if _, ok := ptbenchArgs(commandWords(full)); ok {
				cmds = append(cmds, full)
			}
			continue
		}
		for _, m := range inlineCode.FindAllStringSubmatch(line, -1) {
			span := m[1]
			if !strings.HasPrefix(span, "ptbench ") && !strings.HasPrefix(span, "bin/ptbench ") && !strings.Contains(span, " ptbench ") {
				continue
			}
			for _, cut := range []string{"…", "..."} {
				if k := strings.Index(span, cut); k >= 0 {
					span = strings.TrimSpace(span[:k])
					if w := strings.Fields(span); strings.HasPrefix(w[len(w)-1], "-") {
						span = strings.Join(w[:len(w)-1], " ") // "--task …": the value elided
					}
				}
			}
			span = strings.NewReplacer("[", "", "]", "").Replace(span)
			cmds = append(cmds, span)
		}
	}
	return cmds
}

func TestReadmeCommandLinesParse(t *testing.T) {
	cmds := readmeCommands(t)
	if len(cmds) < 30 { // README has some 45: a smaller count means the extraction broke
		t.Fatalf("found only %d ptbench command lines in README.md: %q", len(cmds), cmds)
	}
	for _, line := range cmds {
		args, ok := ptbenchArgs(commandWords(line))
		if !ok {
			continue
		}
		if len(args) > 0 {
			// `ptbench methods|backbones|tasks`, `ptbench slurm/k8s`: the first alternative
			args[0], _, _ = strings.Cut(args[0], "|")
			args[0], _, _ = strings.Cut(args[0], "/")
		}
		if err := checkCommandLine(args); err != nil {
			t.Errorf("README.md: %s\n  %v", line, err)
		}
		t.Logf("parses: ptbench %s", strings.Join(args, " "))
	}
}

func TestEveryCommandHasAParsingExample(t *testing.T) {
	root := newRoot()
	for _, cmd := range append(allCommands(root), root) {
		if cmd.Example == "" {
			t.Errorf("%s: no Example", cmd.CommandPath())
			continue
		}
		// Examples are indented lines; "\" continues one onto the next.
		example := strings.ReplaceAll(cmd.Example, "\\\n", " ")
		n := 0
		for _, line := range strings.Split(example, "\n") {
			args, ok := ptbenchArgs(commandWords(strings.TrimSpace(line)))
			if !ok {
				continue
			}
			n++
			if err := checkCommandLine(args); err != nil {
				t.Errorf("%s example: %s\n  %v", cmd.CommandPath(), strings.TrimSpace(line), err)
			}
		}
		if n == 0 {
			t.Errorf("%s: Example has no ptbench command line: %q", cmd.CommandPath(), cmd.Example)
		}
	}
}

// allCommands is every command under root (root excluded), parents and leaves.
func allCommands(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, c := range root.Commands() {
		if c.Hidden {
			continue
		}
		out = append(out, c)
		out = append(out, allCommands(c)...)
	}
	return out
}

// The parser itself: a README line with a misspelt flag, a deprecated spelling or an unknown
// command must fail, or the tests above prove nothing.
func TestCheckCommandLineCatchesMistakes(t *testing.T) {
	cases := []struct {
		line string
		ok   bool
	}{
		{"bin/ptbench run --methods pt --tasks rte --out runs/main   # a comment --bogus", true},
		{"PTBENCH_PLUGIN_DIR=plugins/examples/python ptbench run --methods pt,pypt --preset smoke", true},
		{"ptbench bench --methods pt --batch-size 2", true},
		{"ptbench slurm --shards 2 --out /shared/runs -- run --methods pt --seeds 42", true},
		{"ptbench run --method pt", false},              // misspelt flag
		{"ptbench bench --methods pt --batch 2", false}, // deprecated spelling
		{"ptbench runn --methods pt", false},            // unknown command
		{"ptbench slurm --shards 2 --out /x -- run --bogus 1", false},
	}
	for _, c := range cases {
		args, ok := ptbenchArgs(commandWords(c.line))
		if !ok {
			t.Fatalf("%q: not recognised as a ptbench command line", c.line)
		}
		err := checkCommandLine(args)
		if (err == nil) != c.ok {
			t.Errorf("%q: err = %v, want ok %v", c.line, err, c.ok)
		}
	}
}
