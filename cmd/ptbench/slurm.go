package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
)

// slurmOptions are `ptbench slurm`'s flags.
type slurmOptions struct {
	shards, parallel, gpus, cpus int
	out, partition, time, mem    string
	jobName, exe, output         string
	extra                        []string
	submit                       bool
	noCheck                      bool   // --no-check: skip running the command's own checks here
	chdir                        string // the jobs' working directory (where relative paths in the command resolve)
	command                      []string
}

// newSlurmCmd: `ptbench slurm --shards N --out OUT [...] -- run ...` writes a Slurm job array.
func newSlurmCmd() *cobra.Command {
	var o slurmOptions
	cmd := &cobra.Command{
		Use:   "slurm --shards N --out OUT [flags] -- run --methods ... (a command that takes --shard)",
		Short: "Write (and with --submit, submit) a Slurm job array running a grid as N shards, then a merge job",
		Long: `Slurm writes three files under OUT/slurm/:

  array.sbatch  a job array of N tasks (#SBATCH --array=1-N); task i runs the command after --
                with --shard $SLURM_ARRAY_TASK_ID/N --out OUT/shards/$SLURM_ARRAY_TASK_ID --no-wait
  merge.sbatch  ptbench merge --out OUT OUT/shards/1 ... OUT/shards/N (leaderboard in OUT)
  submit.sh     sbatch array.sbatch, then sbatch --dependency=afterok:<array job> merge.sbatch

--submit runs submit.sh and prints the two job ids. Logs go to OUT/slurm/logs/. The jobs run
in the current directory (#SBATCH --chdir), so relative paths in the command mean what they
mean here; OUT must be on storage every node sees. If a shard fails, the merge job does not
run: fix the cause and resubmit (finished runs are skipped), or merge by hand with
ptbench merge --out OUT OUT/shards/*.`,
		Example: `  ptbench slurm --shards 8 --out /shared/runs/glue --partition gpu --gpus 1 --time 12:00:00 --submit -- \
    run --methods ept,dept,pt,lora --tasks rte,mrpc,cola,sst2 --backbone t5-base --seeds 42,43,44`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.command = args
			if err := o.validate(cmd.Root()); err != nil {
				return err
			}
			files, err := o.write()
			if err != nil {
				return err
			}
			res := struct {
				Dir      string   `json:"dir"`
				Files    []string `json:"files"`
				Shards   int      `json:"shards"`
				ArrayJob string   `json:"array_job,omitempty"`
				MergeJob string   `json:"merge_job,omitempty"`
			}{Dir: filepath.Join(o.out, "slurm"), Files: files, Shards: o.shards}
			if o.submit {
				sub := exec.Command("sh", files[2])
				sub.Stderr = cmd.ErrOrStderr()
				b, err := sub.Output()
				if err != nil {
					return fmt.Errorf("submitting %s: %w (output: %s)", files[2], err, strings.TrimSpace(string(b)))
				}
				for _, line := range strings.Split(string(b), "\n") {
					if k, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
						switch k {
						case "array":
							res.ArrayJob = v
						case "merge":
							res.MergeJob = v
						}
					}
				}
			}
			if o.output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			w := cmd.OutOrStdout()
			for _, f := range files {
				fmt.Fprintf(w, "wrote %s\n", f)
			}
			if o.submit {
				fmt.Fprintf(w, "submitted: array job %s (%d shards), merge job %s (after the array succeeds); logs in %s\n",
					res.ArrayJob, o.shards, res.MergeJob, filepath.Join(o.out, "slurm", "logs"))
			} else {
				fmt.Fprintf(w, "submit with: sh %s\n", files[2])
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.shards, "shards", 0, "number of shards = array tasks (required)")
	f.StringVar(&o.out, "out", "", "results folder on shared storage: shards write OUT/shards/i, the merge OUT (required)")
	f.StringVar(&o.partition, "partition", "", "Slurm partition (default: the cluster's)")
	f.StringVar(&o.time, "time", "", "time limit per shard, e.g. 12:00:00 (Slurm's --time)")
	f.IntVar(&o.gpus, "gpus", 0, "GPUs per shard (--gres=gpu:G)")
	f.IntVar(&o.cpus, "cpus", 0, "CPU cores per shard (--cpus-per-task; also the command's --threads unless it sets one)")
	f.StringVar(&o.mem, "mem", "", "memory per shard, e.g. 16G (Slurm's --mem)")
	f.IntVar(&o.parallel, "parallel", 0, "run at most K shards at once (--array=1-N%K; 0 = no limit)")
	f.StringVar(&o.jobName, "job-name", "ptbench", "job name (the merge job gets -merge appended)")
	f.StringArrayVar(&o.extra, "sbatch", nil, "extra #SBATCH option for both jobs, e.g. --sbatch=--account=abc (repeatable)")
	f.StringVar(&o.exe, "ptbench", "", "ptbench binary the jobs run (default: this one's absolute path)")
	f.BoolVar(&o.submit, "submit", false, "run submit.sh (sbatch) and print the job ids")
	addOutputFlag(f, &o.output, "text", "") // vocab.go
	f.BoolVar(&o.noCheck, "no-check", false, "do not run the command's own checks here first")
	return cmd
}

var slurmTime = regexp.MustCompile(`^(\d+-)?\d+(:\d+){0,2}$|^\d+-\d+$`)

func (o *slurmOptions) validate(root *cobra.Command) error {
	if err := checkShards(o.shards); err != nil {
		return err
	}
	if err := checkCommandText(o.command); err != nil {
		return err
	}
	switch {
	case o.out == "":
		return usageError{fmt.Errorf("--out is required")}
	case o.time != "" && !slurmTime.MatchString(o.time):
		return usageError{fmt.Errorf("--time %q: want Slurm's format, e.g. 90, 12:00:00 or 2-00:00:00", o.time)}
	case o.gpus < 0 || o.cpus < 0 || o.parallel < 0:
		return usageError{fmt.Errorf("--gpus, --cpus and --parallel must be ≥ 0")}
	case o.output != "text" && o.output != "json":
		return usageError{fmt.Errorf("-o %q: want text or json", o.output)}
	}
	if err := checkShardCommand(root, o.command); err != nil {
		return err
	}
	if !o.noCheck {
		if err := checkCommandStarts(o.command, o.shards); err != nil { // jobcheck.go
			return err
		}
	}
	var err error
	if o.out, err = filepath.Abs(o.out); err != nil {
		return err
	}
	if o.chdir, err = os.Getwd(); err != nil {
		return err
	}
	if o.exe == "" {
		if o.exe, err = os.Executable(); err != nil {
			return err
		}
	}
	if err := checkNoControl("--ptbench", o.exe); err != nil { // shell-quoted, but one line
		return err
	}
	for _, s := range append([]string{o.out, o.chdir, o.partition, o.mem, o.jobName}, o.extra...) {
		if err := checkNoControl("#SBATCH value", s); err != nil {
			return err
		}
		if strings.ContainsAny(s, " \t\n\"'") {
			return usageError{fmt.Errorf("%q: #SBATCH lines cannot hold spaces or quotes", s)}
		}
	}
	return nil
}

// checkShardCommand refuses a command that is not a ptbench command taking --shard, or that
// sets what the cluster commands set per shard.
func checkShardCommand(root *cobra.Command, command []string) error {
	if len(command) == 0 {
		return usageError{fmt.Errorf("give the command to shard after --, e.g. -- run --methods pt --tasks rte")}
	}
	if c, _, err := root.Find(command); err != nil || c == root || c.Flags().Lookup("shard") == nil {
		return usageError{fmt.Errorf("%q after -- is not a ptbench command that takes --shard (run, reproduce)", command[0])}
	}
	for _, a := range command {
		for _, own := range []string{"--out", "--shard", "--worker"} {
			if a == own || strings.HasPrefix(a, own+"=") {
				return usageError{fmt.Errorf("the command after -- must not set %s: each shard gets its own", own)}
			}
		}
	}
	return nil
}

// write writes array.sbatch, merge.sbatch and submit.sh and returns their paths.
func (o *slurmOptions) write() ([]string, error) {
	dir := filepath.Join(o.out, "slurm")
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	header := func(name, output string) []string {
		h := []string{"#!/bin/bash",
			"# Written by `ptbench slurm` (see `ptbench slurm --help`).",
			"#SBATCH --job-name=" + name,
			"#SBATCH --chdir=" + o.chdir,
			"#SBATCH --output=" + filepath.Join(dir, "logs", output)}
		if o.partition != "" {
			h = append(h, "#SBATCH --partition="+o.partition)
		}
		if o.time != "" {
			h = append(h, "#SBATCH --time="+o.time)
		}
		for _, e := range o.extra {
			h = append(h, "#SBATCH "+e)
		}
		return h
	}
	command := append([]string(nil), o.command...)
	if o.cpus > 0 && !hasFlag(command, "--threads") {
		command = append(command, "--threads", fmt.Sprint(o.cpus))
	}
	array := header(o.jobName, "shard-%a.out")
	spec := fmt.Sprintf("1-%d", o.shards)
	if o.parallel > 0 {
		spec += fmt.Sprintf("%%%d", o.parallel)
	}
	array = append(array, "#SBATCH --array="+spec, "#SBATCH --ntasks=1")
	if o.gpus > 0 {
		array = append(array, fmt.Sprintf("#SBATCH --gres=gpu:%d", o.gpus))
	}
	if o.cpus > 0 {
		array = append(array, fmt.Sprintf("#SBATCH --cpus-per-task=%d", o.cpus))
	}
	if o.mem != "" {
		array = append(array, "#SBATCH --mem="+o.mem)
	}
	array = append(array, "set -euo pipefail",
		fmt.Sprintf("# Shard $SLURM_ARRAY_TASK_ID of %d; merge.sbatch combines OUT/shards/*.", o.shards),
		"i=$SLURM_ARRAY_TASK_ID",
		fmt.Sprintf("exec %s %s --shard \"$i/%d\" --out %s\"$i\" --no-wait",
			shellQuote(o.exe), shellJoin(command), o.shards, shellQuote(filepath.Join(o.out, "shards")+"/")))
	merge := header(o.jobName+"-merge", "merge-%j.out")
	merge = append(merge, "#SBATCH --ntasks=1", "#SBATCH --cpus-per-task=1", "set -euo pipefail")
	mergeArgs := []string{o.exe, "--threads", "1", "merge", "--out", o.out}
	mergeArgs = append(mergeArgs, shardDirs(o.out, o.shards)...)
	merge = append(merge, "exec "+shellJoin(mergeArgs))
	arrayPath, mergePath := filepath.Join(dir, "array.sbatch"), filepath.Join(dir, "merge.sbatch")
	submit := []string{"#!/bin/sh",
		"# Written by `ptbench slurm`: the shard array, then the merge job once every shard succeeded.",
		"set -eu",
		"array=$(sbatch --parsable " + shellQuote(arrayPath) + ")",
		"array=${array%%;*}",
		"merge=$(sbatch --parsable --dependency=afterok:\"$array\" " + shellQuote(mergePath) + ")",
		"merge=${merge%%;*}",
		`echo "array $array"`,
		`echo "merge $merge"`}
	files := []string{arrayPath, mergePath, filepath.Join(dir, "submit.sh")}
	for i, lines := range [][]string{array, merge, submit} {
		if err := os.WriteFile(files[i], []byte(strings.Join(lines, "\n")+"\n"), 0o755); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// shardDirs are OUT/shards/1 … OUT/shards/n.
func shardDirs(out string, n int) []string {
	var dirs []string
	for i := 1; i <= n; i++ {
		dirs = append(dirs, filepath.Join(out, "shards", fmt.Sprint(i)))
	}
	return dirs
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes s for a POSIX shell: as it is when it holds only safe characters, else in
// single quotes (a ' inside becomes '\”).
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}
