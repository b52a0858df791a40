package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/ptbench/ptbench/benchmarks"
	"github.com/ptbench/ptbench/core/storage"
	"github.com/ptbench/ptbench/peft"
	"github.com/ptbench/ptbench/plugins/host"
)

// smokeTasks are the synthetic tasks of the offline smoke preset.
var smokeTasks = []string{"syn-keyword", "syn-parity", "syn-copy"}

func newRunCmd() *cobra.Command {
	var (
		jobs                                                                  int
		worker                                                                string
		shard                                                                 string // --shard i/n
		methods, tasks, seeds, backbone, tokenizer, preset, out, methodConfig string
		sets, sweeps                                                          []string
		g                                                                     benchmarks.Grid
	)
	var retryFailed bool // --retry-failed; the grid's KeepFailed is its negation
	var output string    // -o markdown|json
	cmd := &cobra.Command{
		Use:   "run --methods M1,M2 --tasks T1,T2",
		Short: "Train and evaluate the grid methods × tasks × seeds; append results and render the leaderboard",
		Example: `  ptbench run --methods pt --preset smoke
  ptbench run --methods ept,dept,pt --tasks rte,mrpc --backbone t5-base-dir/ --data-dir data/ --seeds 42,43`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch preset {
			case "":
			case "smoke":
				if !cmd.Flags().Changed("tasks") {
					tasks = strings.Join(smokeTasks, ",")
				}
				if !cmd.Flags().Changed("steps") {
					g.Train.Steps = 300
				}
				if !cmd.Flags().Changed("backbone") {
					backbone = "t5-tiny"
				}
				if !cmd.Flags().Changed("eval-limit") {
					g.Train.EvalLimit = 200
				}
				g.Data.Offline = true
			default:
				return usageError{fmt.Errorf("unknown --preset %q (known: smoke)", preset)}
			}
			if output != "markdown" && output != "json" {
				return usageError{fmt.Errorf("-o %q: want markdown or json", output)}
			}
			switch {
			case methods == "" && preset != "":
				return usageError{fmt.Errorf("--methods is required (--preset %s sets the tasks, backbone and steps, not the methods)", preset)}
			case methods == "" && tasks == "":
				return usageError{fmt.Errorf("--methods and --tasks are required (or --preset smoke for the tasks)")}
			case methods == "":
				return usageError{fmt.Errorf("--methods is required")}
			case tasks == "":
				return usageError{fmt.Errorf("--tasks is required (or --preset smoke)")}
			}
			if !(g.Temperature > 0) || math.IsInf(g.Temperature, 0) {
				return usageError{fmt.Errorf("--temperature must be a positive number, got %v", g.Temperature)}
			}
			var err error
			if g.Seeds, err = benchmarks.ParseSeeds(seeds); err != nil {
				return usageError{err}
			}
			if err := validateRunFlags(&g); err != nil { // preflight.go
				return err
			}
			builtin := builtinMethods()
			g.Methods, g.Tasks, g.Backbone = splitList(methods), splitList(tasks), backbone
			// Plugins: plugin:PATH[@sha256:HEX], or ptbench-method-<name> found by name.
			if err := host.RegisterPlugins(g.Methods); err != nil {
				return usageError{err}
			}
			g.BackboneOpts.Tokenizer = tokenizer
			if g.MethodConfigs, err = loadMethodConfigs(methodConfig, sets, g.Methods); err != nil {
				return usageError{err}
			}
			if g.Sweep, err = benchmarks.ParseSweeps(sweeps, g.Methods); err != nil {
				return usageError{err}
			}
			for _, w := range benchmarks.SweepDeprecations(g.Sweep) {
				fmt.Fprintln(cmd.ErrOrStderr(), w)
			}
			// Every swept value is built by its method now: an unknown setting or a wrong
			// type fails before the backbone or any data loads.
			if err := g.CheckSweep(checkMethod, func(m string) bool { return !builtin[m] || strings.HasPrefix(m, "plugin:") }); err != nil {
				return usageError{err}
			}
			g.OutDir, g.Log, g.Terminal, g.CodeVersion = out, cmd.ErrOrStderr(), isTerminal(os.Stderr), version
			if g.Data.CacheDir == "" {
				g.Data.CacheDir = defaultCacheDir()
			}
			g.KeepFailed = !retryFailed
			if jobs < 1 {
				return usageError{fmt.Errorf("--jobs must be ≥ 1, got %d", jobs)}
			}
			if shard != "" {
				if g.Shard, g.Shards, err = benchmarks.ParseShard(shard); err != nil {
					return usageError{err}
				}
			}
			if worker != "" {
				if _, err := fmt.Sscanf(worker, "%d/%d", &g.Worker, &g.Workers); err != nil || g.Workers < 1 || g.Worker < 0 || g.Worker >= g.Workers {
					return usageError{fmt.Errorf("--worker %q: want i/N with 0 ≤ i < N", worker)}
				}
			}
			if err := preflight(&g, builtin); err != nil { // before the backbone or data load
				return err
			}
			var sum benchmarks.Summary
			if jobs > 1 && worker == "" {
				sum, err = g.RunParallel(jobs, startWorker(cmd, &g, jobs))
			} else {
				sum, err = g.Run()
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "grid: %d ran, %d skipped (already done), %d diverged, %d failed\n",
				sum.Ran, sum.Skipped, sum.Diverged, sum.Failed)
			return renderResults(cmd, out, output) // reproduce.go
		},
	}
	f := cmd.Flags()
	addOutputFlag(f, &output, "markdown", "print the leaderboard as markdown or json") // vocab.go
	f.StringVar(&methods, "methods", "", "comma-separated methods (see ptbench methods); plugin:PATH runs a plugin binary")
	f.StringVar(&tasks, "tasks", "", "comma-separated tasks (see ptbench tasks)")
	f.StringVar(&seeds, "seeds", "42", "comma-separated seeds")
	f.StringVar(&backbone, "backbone", defaultBackbone, "preset (random init: t5-tiny, t5-small, t5-base, t5-large, t5-3b, t5-11b, llama-tiny, llama2-7b; ptbench backbones lists them) or checkpoint directory / HF cache id")
	f.StringVar(&tokenizer, "tokenizer", "", "override the backbone's tokenizer (spiece.model, tokenizer.json, or \"byte\")")
	f.StringVar(&preset, "preset", "", "smoke: t5-tiny, byte tokenizer, synthetic tasks, 300 steps (offline)")
	f.StringVar(&out, "out", defaultResults, "results folder to write (results.jsonl, checkpoints/, leaderboard.md)")
	f.StringVar(&methodConfig, "method-config", "", "YAML/JSON file: {method: {key: value}}")
	f.StringVar(&g.InitFrom, "init-from", "", "PEFT adapter folder (adapter_config.json + adapter_model.safetensors, e.g. written by ptbench export) loaded before training into a method with a PEFT equivalent ("+strings.Join(peft.Methods(), ", ")+"); part of the run key")
	f.StringArrayVar(&sets, "set", nil, "method setting method.key=value (repeatable)")
	f.StringArrayVar(&sweeps, "sweep", nil, "sweep a method setting: method.key=v1,v2,… (repeatable; the cartesian product of a method's sweeps, each variant its own run; the leaderboard reports the best-dev variant per method, task and seed)")
	registerGridFlags(f, &g)
	registerMemoryFlag(f) // memory.go: --memory-limit
	f.IntVar(&g.Data.KShot, "k-shot", 0, "train on k examples in all, k/classes of each, drawn with each run's seed (4, 16, 32; DePT's k_shot_example)")
	f.IntVar(&g.Train.EvalEvery, "eval-every", 0, "evaluate on dev every N steps (0 = min(1000, steps/4))")
	f.IntVar(&g.Train.Warmup, "warmup", -1, "linear warmup steps (-1 = min(500, steps/10))")
	f.BoolVar(&g.Train.PadToMax, "pad-to-max", false, "pad every batch to the max source length instead of the batch's longest")
	f.BoolVar(&g.Train.GroupByLength, "group-by-length", false, "draw each epoch's batches from windows of similar-length examples (less padding; same per-row losses)")
	f.IntVar(&g.Train.MaxSourceLen, "max-source-len", 0, "max source tokens (0 = the task's: 256, MultiRC 348)")
	f.IntVar(&jobs, "jobs", 1, "run N runs at once as worker processes (cores split between them; results merged into --out)")
	g.Pack = benchmarks.PackAuto
	f.Var(packFlag{&g.Pack}, "pack", packFlagDoc)
	f.StringVar(&shard, "shard", "", "run only shard i of n of the grid (i/n, 1-based; runs balanced by estimated cost, the same split in every process); combine the shards' --out folders with ptbench merge")
	f.StringVar(&worker, "worker", "", "internal: run as worker i/N of a --jobs grid")
	f.StringVar(&g.ArtefactDir, "artefact-dir", "", "internal: the parent's artefacts folder (workers)")
	f.StringVar(&g.ResumeFrom, "resume-from", "", "internal: the parent's results.jsonl (workers)")
	for _, hidden := range []string{"worker", "artefact-dir", "resume-from"} {
		_ = f.MarkHidden(hidden)
	}
	f.BoolVar(&g.MultiTask, "multi-task", false, "train each method once over all --tasks (one result row per task)")
	// Parsed once, here, into core's typed values (one set of spellings for every backbone).
	f.Var(&g.BackboneOpts.Quant, "quant", "store the frozen linear weights quantised: none (default) or nf4 (QLoRA 4-bit NormalFloat, double-quantised; Llama and T5 backbones)")
	f.Var(&g.BackboneOpts.DType, "dtype", "compute dtype: float32 (default) or bfloat16 / bf16 (Llama: weights and activations bf16, method parameters and loss fp32; T5: matmuls bf16)")
	f.Var(&g.BackboneOpts.Device, "device", "where tensors are created: cpu (default), cuda or cuda:N (needs a CUDA build of libtorch; see README: GPUs)")
	f.Var(&dropoutFlag{&g.BackboneOpts.Dropout}, "dropout", "training dropout rate (default: the checkpoint's dropout_rate; presets 0; 0 turns it off)")
	f.BoolVar(&retryFailed, "retry-failed", true, "run again the runs results.jsonl records as failed (their rows stay as history); false counts them as done")
	cmd.PreRun = func(cmd *cobra.Command, _ []string) {
		if g.Train.Warmup == -1 {
			g.Train.Warmup = 0 // Defaults() picks min(500, steps/10); other negatives fail validation
		}
	}
	return cmd
}

// dropoutFlag is an optional rate: unset leaves the checkpoint's own.
type dropoutFlag struct{ p **float64 }

func (d *dropoutFlag) String() string {
	if d.p == nil || *d.p == nil {
		return ""
	}
	return fmt.Sprint(**d.p)
}

func (d *dropoutFlag) Set(s string) error {
	var v float64
	if _, err := fmt.Sscan(s, &v); err != nil {
		return fmt.Errorf("not a number: %q", s)
	}
	if !(v >= 0 && v < 1) {
		return fmt.Errorf("must be in [0, 1), got %v", v)
	}
	*d.p = &v
	return nil
}

func (d *dropoutFlag) Type() string { return "float" }

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func defaultCacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "ptbench")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "ptbench")
	}
	return ".ptbench-cache"
}

// loadMethodConfigs merges a YAML/JSON file ({method: {key: value}}) with --set method.key=value
// overrides (values parsed as YAML scalars, so 2 is a number and true a bool).
func loadMethodConfigs(path string, sets []string, methods []string) (map[string]map[string]any, error) {
	cfgs := map[string]map[string]any{}
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		if err := dec.Decode(&cfgs); err != nil {
			return nil, fmt.Errorf("%s: want {method: {key: value}}: %w", path, err)
		}
		if cfgs == nil { // a file holding only "null" or "~" decodes to a nil map
			cfgs = map[string]map[string]any{}
		}
	}
	for _, s := range sets {
		kv := strings.SplitN(s, "=", 2)
		dot := strings.IndexByte(kv[0], '.')
		if len(kv) != 2 || dot <= 0 || dot == len(kv[0])-1 {
			return nil, fmt.Errorf("--set %q: want method.key=value", s)
		}
		var v any
		if err := yaml.Unmarshal([]byte(kv[1]), &v); err != nil {
			return nil, fmt.Errorf("--set %q: %w", s, err)
		}
		if nonFinite(v) {
			return nil, fmt.Errorf("--set %q: %s is not a finite number (settings must be finite)", s, kv[1])
		}
		m, key := kv[0][:dot], kv[0][dot+1:]
		for _, name := range methods { // a method name may contain dots (plugin:./bin/x)
			if strings.HasPrefix(kv[0], name+".") && len(name) > len(m) && len(kv[0]) > len(name)+1 {
				m, key = name, kv[0][len(name)+1:]
			}
		}
		if cfgs[m] == nil {
			cfgs[m] = map[string]any{}
		}
		cfgs[m][key] = v
	}
	known := map[string]bool{}
	for _, m := range methods {
		known[m] = true
	}
	for m := range cfgs {
		if !known[m] {
			return nil, fmt.Errorf("settings given for method %q, which is not in --methods %v", m, methods)
		}
	}
	return cfgs, nil
}

// startWorker launches worker i of a --jobs grid: this same binary and command line, writing
// its own folder, resuming from and reusing the parent's results and artefacts, with the
// machine's cores split between the workers. Its log lines reach the parent's, prefixed.
func startWorker(cmd *cobra.Command, g *benchmarks.Grid, jobs int) func(int, string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	threads := max(1, runtime.NumCPU()/jobs)
	return func(i int, dir string) (*exec.Cmd, error) {
		if err != nil {
			return nil, err
		}
		args := append(append([]string(nil), os.Args[1:]...),
			"--jobs", "1", "--worker", fmt.Sprintf("%d/%d", i, jobs), "--out", dir, "--no-wait",
			"--artefact-dir", filepath.Join(g.OutDir, "artefacts"),
			"--resume-from", filepath.Join(g.OutDir, storage.ResultsFile),
			"--threads", fmt.Sprint(threads))
		c := exec.Command(exe, args...)
		c.Env = append(os.Environ(), "PTBENCH_WORKER=1")
		c.Stdout = io.Discard // the worker's leaderboard: the parent renders the merged one
		c.Stderr = &benchmarks.PrefixWriter{W: cmd.ErrOrStderr(), Prefix: fmt.Sprintf("[worker %d] ", i)}
		return c, c.Start()
	}
}

// registerGridFlags adds the flags every grid-running command shares (run, sources train): data,
// schedule, evaluation limits, multi-task temperature and the results folder's lock.
func registerGridFlags(f *pflag.FlagSet, g *benchmarks.Grid) {
	f.StringVar(&g.Data.DataDir, "data-dir", "", "folder laid out like glue/RTE/train.tsv, superglue/CB/val.jsonl")
	f.StringVar(&g.Data.CacheDir, "cache-dir", "", "download cache (default $XDG_CACHE_HOME/ptbench)")
	f.BoolVar(&g.Data.Offline, "offline", false, "never download")
	f.IntVar(&g.Train.Steps, "steps", 30000, "training steps (a source method's source_steps setting overrides it for its sources)")
	f.IntVar(&g.Train.BatchSize, "batch-size", 16, "batch size")
	f.Float64Var(&g.Train.MaxGradNorm, "max-grad-norm", 1.0, "gradient clipping (0 = off)")
	f.Float64Var(&g.Train.AdamEps, "adam-eps", 0, "AdamW's ε for every method (0 = each method's reference value: 1e-8 for the baselines run by Hugging Face's Trainer, 1e-6 for DePT, EPT, LoRA, MPT; docs/fidelity.md)")
	f.IntVar(&g.Train.EvalLimit, "eval-limit", 0, "evaluate on at most N dev examples (0 = all)")
	f.IntVar(&g.Train.TestLimit, "test-limit", 0, "evaluate on at most N test examples (0 = all)")
	f.Float64Var(&g.Temperature, "temperature", 1, "multi-task sampling temperature T: p_i ∝ n_i^(1/T) (1 = proportional to size, large = uniform)")
	f.BoolVar(&g.NoWait, "no-wait", false, "fail at once when another run writes to --out (default: wait for it)")
	f.BoolVar(&g.SourcesFromDev, "sources-from-dev", false, "SPoT/ATTEMPT/MPT: train a source task whose training file is absent on its official validation set (opt-in)")
}
