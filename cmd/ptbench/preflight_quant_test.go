package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// --quant is checked before anything loads (the backbone below does not exist): an unknown
// storage or nf4 with a method that trains the 4-bit weights is a usage error; nf4 with an
// input method gets as far as the backbone. For `bench`, the same refusals, and nf4 on a T5
// preset benches.
func TestQuantIsCheckedBeforeTheBackboneLoads(t *testing.T) {
	cases := []struct {
		cmd, methods, quant string
		want                string // "" = accepted: the error is the missing backbone's
	}{
		{"run", "pt", "int4", `--quant "int4": want none or nf4`},
		{"run", "pt,ft", "nf4", "ft trains them"},
		{"run", "pt,dept", "nf4", ""},
		{"run", "ft", "none", ""},
		{"bench", "pt", "nf8", `--quant "nf8": want none or nf4`},
		{"bench", "ft", "nf4", "ft trains them"},
		{"bench", "pt", "nf4", ""},
	}
	for _, c := range cases {
		args := []string{c.cmd, "--methods", c.methods, "--backbone", "/nonexistent", "--quant", c.quant}
		if c.cmd == "run" {
			args = append(args, "--tasks", "syn-keyword", "--out", filepath.Join(t.TempDir(), "runs"))
		}
		_, err := execute(args...)
		if c.want == "" {
			if err == nil || !strings.Contains(err.Error(), "/nonexistent") {
				t.Errorf("%v: error %v, want the backbone's (nothing refused before it)", args, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, new(usageError)) {
			t.Errorf("%v: error %v, want a usage error containing %q", args, err, c.want)
		}
	}
	out, err := execute("bench", "--methods", "pt", "--backbone", "t5-tiny", "--quant", "nf4",
		"--seq", "8", "--batch", "1", "--steps", "1", "--warmup", "0")
	if err != nil || !strings.Contains(out, "| PT ") {
		t.Fatalf("bench t5-tiny --quant nf4: %v\n%s", err, out)
	}
}
