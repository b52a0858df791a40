package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/safetensors"
	"github.com/ptbench/ptbench/core/storage"
	"github.com/ptbench/ptbench/peft"
)

// newExportCmd: `ptbench export RUN --format peft|native --out OUT`.
func newExportCmd() *cobra.Command {
	var format, out, results, taskType, output string
	var force bool
	cmd := &cobra.Command{
		Use:   "export RUN [OUT] --format peft|native --out OUT",
		Short: "Write a trained run as a Hugging Face PEFT adapter folder (" + strings.Join(peft.Methods(), ", ") + ") or in ptbench's native format (any method)",
		Long: `RUN is a run key from RESULTS/results.jsonl (see ` + "`ptbench leaderboard -o json`" + `) or a checkpoint file.

--format peft writes OUT/adapter_config.json and OUT/adapter_model.safetensors as Hugging Face
PEFT saves them: pt as PROMPT_TUNING (prompt_embeddings, num_transformer_submodules 1), lora as
LORA (base_model.model.<module>.lora_A.weight / lora_B.weight, target_modules, lora_alpha);
base_model_name_or_path is the run's backbone, task_type SEQ_2_SEQ_LM (T5) or CAUSAL_LM (Llama).
` + "`ptbench run --methods pt --init-from OUT`" + ` loads such a folder back.

--format native writes OUT/<method>.safetensors (the checkpoint's tensors) and OUT/<method>.json
(method, config, backbone, the method's equation, each tensor's name, shape, dtype and role), for
any method, including those PEFT lacks (DePT, EPT, …).`,
		Example: `  ptbench export pt.rte.s42.0123456789 --format peft --out exported/pt-rte
  ptbench export runs/checkpoints/ept.rte.s42.0123456789.safetensors --format native --out exported/ept-rte`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				if out != "" && filepath.Clean(out) != filepath.Clean(args[1]) {
					return usageError{fmt.Errorf("OUT given twice: %q and --out %q", args[1], out)}
				}
				out = args[1]
			}
			if out == "" {
				return usageError{fmt.Errorf("--out OUT (the folder to write) is required")}
			}
			if format != "peft" && format != "native" {
				return usageError{fmt.Errorf("--format must be peft or native, got %q", format)}
			}
			if output != "text" && output != "json" {
				return usageError{fmt.Errorf("-o must be text or json, got %q", output)}
			}
			if err := checkExportTarget(out, force); err != nil {
				return err
			}
			src, known, err := exportSource(args[0], results, taskType)
			if err != nil {
				return err
			}
			var w *peft.Written
			if format == "peft" {
				if plugin, ok := src.Config["_plugin"]; ok { // host.Method records "name@version"
					return fmt.Errorf("%s is a plugin run (%v): PEFT has no equivalent of a plugin method; use --format native (the plugin's state tensors and its config)", src.Method, plugin)
				}
				if !known {
					return fmt.Errorf("%s has no results row saying what kind of backbone it ran on (PEFT's task_type): pass --results DIR (its results folder) or --task-type %s|%s", src.Checkpoint, peft.Seq2SeqLM, peft.CausalLM)
				}
				w, err = peft.Export(src, out)
			} else {
				w, err = peft.ExportNative(src, out)
			}
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(w)
			}
			what := w.PeftType
			if what == "" {
				what = "native"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (%s, %d tensors): %s\n", src.Method, what, len(w.Tensors), strings.Join(w.Files, ", "))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "peft", "peft (Hugging Face PEFT adapter folder: "+strings.Join(peft.Methods(), ", ")+") or native (any method)")
	f.StringVar(&out, "out", "", "folder to write")
	addResultsFlag(f, &results, "results folder holding results.jsonl and checkpoints/") // vocab.go
	f.StringVar(&taskType, "task-type", "", "SEQ_2_SEQ_LM or CAUSAL_LM, for a checkpoint with no results row")
	addOutputFlag(f, &output, "text", "text or json (what was written)") // vocab.go
	f.BoolVar(&force, "force", false, "write into an OUT folder that already holds files (its files of the same names are replaced)")
	return cmd
}

// checkExportTarget refuses to write into a folder that already holds files unless --force:
// an earlier export (or anything else) there would be replaced silently.
func checkExportTarget(out string, force bool) error {
	ents, err := os.ReadDir(out)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		if st, serr := os.Stat(out); serr == nil && !st.IsDir() {
			return usageError{fmt.Errorf("--out %s is a file, not a folder", out)}
		}
		return err
	}
	if len(ents) == 0 || force {
		return nil
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		if len(names) == 3 {
			break
		}
	}
	more := ""
	if len(ents) > len(names) {
		more = fmt.Sprintf(" and %d more", len(ents)-len(names))
	}
	return usageError{fmt.Errorf("--out %s already holds files (%s%s): give --force to write over them, or choose another folder", out, strings.Join(names, ", "), more)}
}

// exportSource finds what RUN names: a run key in dir/results.jsonl, or a checkpoint file
// (its row looked up in dir, then in the results folder the checkpoint lies in; without a
// row, its own metadata: method, config, backbone name).
// known is false when nothing says whether the backbone is an encoder–decoder.
func exportSource(run, dir, taskType string) (src peft.Source, known bool, err error) {
	if st, err := os.Stat(run); err == nil && !st.IsDir() || strings.HasSuffix(run, ".safetensors") {
		return checkpointSource(run, dir, taskType)
	}
	path := filepath.Join(dir, storage.ResultsFile)
	rows, err := storage.ReadResults(path)
	if err != nil {
		return src, false, err
	}
	var row *storage.ResultRow
	matched := 0
	for i := range rows {
		if rows[i].RunKey != run && !strings.HasPrefix(rows[i].RunKey, run+"/") {
			continue
		}
		matched++
		if rows[i].Checkpoint != "" {
			row = &rows[i]
		}
	}
	switch {
	case matched == 0:
		return src, false, fmt.Errorf("run %q is not in %s (%d rows; run keys look like pt.rte.s42.0123456789; or pass a checkpoint file)", run, path, len(rows))
	case row == nil:
		return src, false, fmt.Errorf("run %q in %s has no checkpoint (a failed run?)", run, path)
	}
	src = rowSource(*row, dir)
	return src, true, applyTaskType(&src, taskType)
}

func rowSource(row storage.ResultRow, dir string) peft.Source {
	cfg, _ := row.MethodConfig.(map[string]any)
	key, _, _ := strings.Cut(row.RunKey, "/")
	return peft.Source{Method: row.Method, Config: cfg, Backbone: row.Backbone, Checkpoint: filepath.Join(dir, row.Checkpoint), RunKey: key}
}

// applyTaskType sets the backbone kind from --task-type (overriding the row's).
func applyTaskType(src *peft.Source, taskType string) error {
	switch taskType {
	case "":
	case peft.Seq2SeqLM:
		src.Backbone.EncoderDecoder = true
	case peft.CausalLM:
		src.Backbone.EncoderDecoder = false
	default:
		return usageError{fmt.Errorf("--task-type must be %s or %s, got %q", peft.Seq2SeqLM, peft.CausalLM, taskType)}
	}
	return nil
}

func checkpointSource(ckpt, dir, taskType string) (src peft.Source, known bool, err error) {
	abs, err := filepath.Abs(ckpt)
	if err != nil {
		return src, false, err
	}
	for _, d := range []string{dir, filepath.Dir(filepath.Dir(ckpt))} {
		rows, err := storage.ReadResults(filepath.Join(d, storage.ResultsFile))
		if err != nil {
			return src, false, err
		}
		for i := len(rows) - 1; i >= 0; i-- {
			if rows[i].Checkpoint == "" {
				continue
			}
			if p, err := filepath.Abs(filepath.Join(d, rows[i].Checkpoint)); err == nil && p == abs {
				src = rowSource(rows[i], d)
				src.Checkpoint = ckpt
				return src, true, applyTaskType(&src, taskType)
			}
		}
	}
	h, err := safetensors.ReadHeader(ckpt)
	if err != nil {
		return src, false, err
	}
	src = peft.Source{Method: h.Metadata["method"], Checkpoint: ckpt, Backbone: core.BackboneInfo{Name: h.Metadata["backbone"]}}
	if src.Method == "" {
		return src, false, fmt.Errorf("%s: no results row and no \"method\" in its metadata: not a ptbench checkpoint?", ckpt)
	}
	if c := h.Metadata["config"]; c != "" {
		if err := json.Unmarshal([]byte(c), &src.Config); err != nil {
			return src, false, fmt.Errorf("%s: metadata config: %w", ckpt, err)
		}
	}
	src.RunKey = strings.TrimSuffix(filepath.Base(ckpt), ".safetensors")
	return src, taskType != "", applyTaskType(&src, taskType)
}
