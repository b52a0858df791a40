package main

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Checks shared by `ptbench slurm` and `ptbench k8s`: what they write into job files must not
// be able to change the files' structure, and the command they shard must be one that would
// start (a typo there is otherwise found hours later, once per shard, on the cluster).

// maxShards bounds --shards: Kubernetes caps an Indexed Job's completions at 100,000 and
// Slurm's default MaxArraySize is 1,001; 10,000 shards of a grid is far beyond any grid this
// tool runs (each shard is at least one run), while a typo such as 1e9 would write a merge
// command with a billion folder arguments.
const maxShards = 10000

// checkShards bounds --shards.
func checkShards(n int) error {
	if n < 1 || n > maxShards {
		return usageError{fmt.Errorf("--shards must be between 1 and %d, got %d", maxShards, n)}
	}
	return nil
}

// checkNoControl refuses a value holding a control character (newline, carriage return, tab,
// NUL, escape, DEL, or a Unicode line/paragraph separator or other control or format rune):
// written into a YAML comment, an #SBATCH line or a shell script it could end the line and
// start a document, a directive or a command of its own. It refuses bytes that are not
// UTF-8 too: YAML is UTF-8, so a manifest holding them (even in a comment) does not parse.
func checkNoControl(what, v string) error {
	if !utf8.ValidString(v) {
		return usageError{fmt.Errorf("%s %q: not valid UTF-8 (job files are UTF-8 text)", what, v)}
	}
	for i, r := range v {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r) {
			return usageError{fmt.Errorf("%s %q: control character %U at byte %d (job files cannot hold it)", what, v, r, i)}
		}
	}
	return nil
}

// checkCommandText applies checkNoControl to every argument of the sharded command.
func checkCommandText(command []string) error {
	for i, a := range command {
		if err := checkNoControl(fmt.Sprintf("argument %d after --", i+1), a); err != nil {
			return err
		}
	}
	return nil
}

// dnsSubdomain is Kubernetes' RFC 1123 subdomain, the rule for PersistentVolumeClaim names
// (at most 253 characters).
var dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// dnsLabel is an RFC 1123 label, the rule for namespaces (at most 63 characters).
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// errPreflightPassed stops a command checked by checkCommandStarts right after its preflight:
// everything `run` checks before loading anything passed.
var errPreflightPassed = errors.New("preflight passed")

// While checkCommandStarts runs a command, checkingOnly is set: preflight then skips what
// depends on this machine's files or network (the offline cache, k-shot data), and with
// stopAtPreflight (run, which has no dry run) it returns errPreflightPassed instead of letting
// the command go on.
var (
	checkingMu                    sync.Mutex
	checkingOnly, stopAtPreflight bool
	// preflightReadsNoData is set by `reproduce --dry-run`: it prints the plan without
	// reading (or downloading) any task's data.
	preflightReadsNoData bool
)

// checkCommandStarts runs the sharded command's own checks — flags, numbers, method names and
// settings, sweeps, tasks, the experiment file — as `run` or `reproduce` would before loading
// anything, with --shard 1/N, and stops there: reproduce with --dry-run, run at the end of its
// preflight. Nothing is loaded, trained or written.
func checkCommandStarts(command []string, shards int) error {
	root := newRoot()
	sub, _, err := root.Find(command)
	if err != nil || sub == root {
		return usageError{fmt.Errorf("%q after -- is not a ptbench command", command[0])}
	}
	args := append(append([]string(nil), command...), "--shard", fmt.Sprintf("1/%d", shards))
	if sub.Name() == "reproduce" && !hasFlag(command, "--dry-run") {
		args = append(args, "--dry-run")
	}
	root.SetArgs(args)
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	checkingMu.Lock()
	checkingOnly, stopAtPreflight = true, sub.Name() != "reproduce"
	defer func() {
		checkingOnly, stopAtPreflight = false, false
		checkingMu.Unlock()
	}()
	err = root.Execute()
	if err == nil || errors.Is(err, errPreflightPassed) {
		return nil
	}
	msg := fmt.Errorf("the command after -- would fail: %w (give --no-check when it names files that exist only where the jobs run)", err)
	var u usageError
	if errors.As(err, &u) {
		return usageError{msg}
	}
	return msg
}

// stopAfterPreflight is called at the end of preflight.
func stopAfterPreflight() error {
	if stopAtPreflight {
		return errPreflightPassed
	}
	return nil
}
