package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"github.com/ptbench/ptbench/backbones/tokenizers"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/engine"
	"github.com/ptbench/ptbench/tasks"
)

// taskDataFlags are the flags every data-reading command shares.
type taskDataFlags struct {
	task string
	opts core.DataOptions
	seed int64 // the run seed whose k-shot draw to show
}

func (f *taskDataFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.task, "task", "", "task name (see ptbench tasks)")
	cmd.Flags().StringVar(&f.opts.DataDir, "data-dir", "", "folder laid out like glue/RTE/train.tsv")
	cmd.Flags().StringVar(&f.opts.CacheDir, "cache-dir", "", "download cache (default $XDG_CACHE_HOME/ptbench)")
	cmd.Flags().BoolVar(&f.opts.Offline, "offline", false, "never download")
	cmd.Flags().IntVar(&f.opts.KShot, "k-shot", 0, "k training examples in all, balanced over classes, as a run with --seed draws them")
	cmd.Flags().Int64Var(&f.seed, "seed", 42, "with --k-shot: the run seed whose draw to show (ptbench run's default seed is 42)")
}

// load opens the task's data for evaluation (train may be absent) as a run sees it: the
// files (or the synthetic examples) as every run reads them, and with --k-shot the training
// set a run with seed --seed draws.
func (f *taskDataFlags) load() (core.Task, *core.Dataset, error) {
	if f.task == "" {
		return nil, nil, usageError{fmt.Errorf("--task is required")}
	}
	t, err := core.NewTask(f.task)
	if err != nil {
		return nil, nil, err
	}
	if f.opts.CacheDir == "" {
		f.opts.CacheDir = defaultCacheDir()
	}
	opts := f.opts
	sampler, perSeed := t.(core.KShotSampler)
	if perSeed {
		opts.KShot = 0 // drawn below with the run seed, as the grid draws it
	}
	ds, err := tasks.LoadEval(t, opts)
	if err != nil || !perSeed || f.opts.KShot == 0 || len(ds.Train) == 0 {
		return t, ds, err
	}
	if ds.Train, err = sampler.SampleKShot(ds.Train, f.opts.KShot, f.seed); err != nil {
		return nil, nil, err
	}
	return t, ds, nil
}

func newDataCmd() *cobra.Command {
	var f taskDataFlags
	var output, tokenizer, split string
	var batch int
	var ids bool
	cmd := &cobra.Command{
		Use:   "data --task T",
		Short: "Print a task's split sizes and label counts, or with --ids a split's rows",
		Long: `Print a task's split sizes and label counts.

With --split S --ids, print the rows split S (train, dev or test) holds, as 0-based positions
in the Hugging Face dataset split the reference code (DePT, ATTEMPT) shuffles, in the split's
order: one per line, or with -o json one JSON array. For a small task, --split test is
torch.randperm(n, seed 42)[n/2:] over the n validation rows. Where the rows come from is
written to stderr.`,
		Example: `  ptbench data --task rte -o json
  ptbench data --task rte --tokenizer spiece.model --batch-size 16 -o json
  ptbench data --task rte --split test --ids`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !ids && cmd.Flags().Changed("split") {
				return usageError{fmt.Errorf("--split chooses the split --ids lists; add --ids")}
			}
			if ids && f.opts.KShot != 0 {
				return usageError{fmt.Errorf("--ids lists the protocol's splits; --k-shot samples its own training subset")}
			}
			if ids && output != "text" && output != "json" {
				return usageError{fmt.Errorf("-o %q: want text or json", output)}
			}
			t, ds, err := f.load()
			if err != nil {
				return err
			}
			if ids {
				return printSplitRows(cmd, t, ds, split, output)
			}
			d := tasks.Describe(t, ds)
			if tokenizer != "" {
				pos, err := paddedPositions(t, ds, tokenizer, batch)
				if err != nil {
					return err
				}
				d["padded_positions_per_epoch"] = pos
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(d)
			}
			keys := make([]string, 0, len(d))
			for k := range d {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				b, _ := json.Marshal(d[k])
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", k, b)
			}
			return nil
		},
	}
	f.register(cmd)
	addOutputFlag(cmd.Flags(), &output, "text", "") // vocab.go
	cmd.Flags().StringVar(&tokenizer, "tokenizer", "", "with a tokenizer (spiece.model, tokenizer.json or byte): padded source positions per training epoch for pad-to-max, dynamic and length-grouped batches")
	cmd.Flags().IntVar(&batch, "batch-size", 16, "batch size for --tokenizer's epoch counts")
	cmd.Flags().BoolVar(&ids, "ids", false, "print the rows --split holds (0-based, Hugging Face dataset order) instead of the summary")
	cmd.Flags().StringVar(&split, "split", "test", "split for --ids: train, dev or test")
	return cmd
}

// printSplitRows writes a split's rows to stdout (one per line, or a JSON array) and where
// they come from to stderr, so that stdout compares directly with torch.randperm's list.
func printSplitRows(cmd *cobra.Command, t core.Task, ds *core.Dataset, split, output string) error {
	rows, err := tasks.RowsOfSplit(t, ds, split)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s %s: %d of the %d rows of %s %s (0-based, Hugging Face order): %s\n",
		rows.Task, rows.Split, len(rows.Rows), rows.Of, rows.HFDataset, rows.HFSplit, rows.Rule)
	out := cmd.OutOrStdout()
	if output == "json" {
		b, err := json.Marshal(rows.Rows)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	}
	for _, r := range rows.Rows {
		fmt.Fprintln(out, r)
	}
	return nil
}

// paddedPositions tokenizes the training sources (+ EOS, at most the task's s) and counts one
// epoch's padded positions under each batching.
func paddedPositions(t core.Task, ds *core.Dataset, tokenizer string, batch int) (engine.PaddedPositions, error) {
	if batch < 1 {
		return engine.PaddedPositions{}, usageError{fmt.Errorf("--batch-size must be ≥ 1, got %d", batch)}
	}
	if len(ds.Train) == 0 {
		return engine.PaddedPositions{}, fmt.Errorf("task %s: no training examples to count", t.Name())
	}
	tok, err := tokenizers.Load(tokenizer)
	if err != nil {
		return engine.PaddedPositions{}, err
	}
	s := t.MaxSourceLen()
	lengths := make([]int, len(ds.Train))
	for i, ex := range ds.Train {
		lengths[i] = min(len(tok.Encode(ex.Source))+1, s)
	}
	return engine.CountPaddedPositions(lengths, batch, s, 42), nil
}

func newScoreCmd() *cobra.Command {
	var f taskDataFlags
	var predictions, split string
	var limit int
	cmd := &cobra.Command{
		Use:   "score --task T --predictions FILE",
		Short: `Score a JSONL of {"id","prediction"} against a task's split; prints metrics as JSON`,
		Long: `Score a JSONL of {"id","prediction"} (e.g. a run's predictions file) against a task's split
and print the metrics as JSON. A finished run writes OUT/predictions/<run key>.dev.jsonl and
.test.jsonl (its row names them under "predictions"); scoring the test file reproduces the
row's test scores exactly.`,
		Example: `  ptbench score --task rte --split test --data-dir data/ --predictions runs/main/predictions/<run key>.test.jsonl
  ptbench score --task syn-keyword --split test --limit 16 --predictions runs/smoke/predictions/<run key>.test.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Flags and the predictions file first: loading the task may download its data.
			if predictions == "" {
				return usageError{fmt.Errorf("--predictions is required")}
			}
			if split != "test" && split != "dev" && split != "train" {
				return usageError{fmt.Errorf("--split %q: want test, dev or train", split)}
			}
			if limit < 0 {
				return usageError{fmt.Errorf("--limit %d: want ≥ 0 (0: the whole split)", limit)}
			}
			if st, err := os.Stat(predictions); err != nil {
				return fmt.Errorf("--predictions: %w", err)
			} else if !st.Mode().IsRegular() {
				return fmt.Errorf("--predictions %s: not a regular file", predictions)
			}
			t, ds, err := f.load()
			if err != nil {
				return err
			}
			gold := map[string][]core.Example{"test": ds.Test, "dev": ds.Dev, "train": ds.Train}[split]
			if len(gold) == 0 {
				return fmt.Errorf("task %s has no %s examples here (evaluation alone loads no training file)", t.Name(), split)
			}
			if limit > 0 && limit < len(gold) {
				gold = gold[:limit] // what a run's --test-limit/--eval-limit evaluated
			}
			scores, err := tasks.ScoreFile(t, gold, predictions)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(scores)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&predictions, "predictions", "", `JSONL file of {"id","prediction"}`)
	cmd.Flags().StringVar(&split, "split", "test", "split to score against")
	cmd.Flags().IntVar(&limit, "limit", 0, "score against the split's first N examples only, as a run with --test-limit N (test) or --eval-limit N (dev) did")
	return cmd
}
