package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ptbench/ptbench/backbones/llama"
	"github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/backbones/tokenizers"
)

func newVerifyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "verify", Short: "Check a backbone or tokenizer against reference outputs",
		Example: `  ptbench verify backbone --model t5-small-dir/ --cases cases.json
  ptbench verify tokenizer --model spiece.model --cases cases.jsonl --field ids`}
	cmd.AddCommand(newVerifyBackboneCmd(), newVerifyTokenizerCmd())
	return cmd
}

func newVerifyBackboneCmd() *cobra.Command {
	var model, cases, output string
	tol := t5.DefaultTolerances
	ltol := llama.DefaultTolerances
	cmd := &cobra.Command{
		Use:   "backbone --model DIR|FILE --cases FILE",
		Short: "Run every case of a reference file and report the max error per output",
		Long: `Runs every case of a reference file (format of shared/fixtures/t5/*/cases.json, with
expected.safetensors beside it) on the model in DIR and prints the max absolute error per output
(relative for losses). Exits 1 when any output exceeds its tolerance.

A llama2.c reference file (shared/fixtures/llama/stories260K-reference.json: "forced" and
"greedy" runs) is recognised by its content; --model is then a llama2.c .bin or an HF
LlamaForCausalLM directory, and every forced case's logits (|Δ| ≤ --logit-tol), final
RMSNorm'd hidden state (≤ --hidden-tol), argmax where the reference margin > 1e-3, and the
greedy ids are checked.`,
		Example: `  ptbench verify backbone --model t5-small-dir/ --cases cases.json
  ptbench verify backbone --model stories260K.bin --cases stories260K-reference.json -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if model == "" || cases == "" {
				return usageError{fmt.Errorf("--model and --cases are required")}
			}
			var checks []t5.Check
			var err error
			if llama.IsReference(cases) {
				var lc []llama.Check
				if lc, err = llama.VerifyCases(model, cases, ltol); err != nil {
					return err
				}
				for _, c := range lc {
					checks = append(checks, t5.Check(c))
				}
			} else if checks, err = t5.VerifyCases(model, cases, tol); err != nil {
				return err
			}
			failed := 0
			for _, c := range checks {
				if !c.Pass {
					failed++
				}
			}
			out := cmd.OutOrStdout()
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(checks); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "%-16s %-28s %12s %10s\n", "case", "output", "error", "tolerance")
				for _, c := range checks {
					mark := "ok"
					if !c.Pass {
						mark = "FAIL"
					}
					fmt.Fprintf(out, "%-16s %-28s %12.3g %10.0e %s\n", c.Case, c.Output, c.Error, c.Tol, mark)
				}
				fmt.Fprintf(out, "%d checks, %d failed\n", len(checks), failed)
			}
			if failed > 0 {
				return fmt.Errorf("%s: %d of %d checks exceed tolerance", cases, failed, len(checks))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "Hugging Face model directory (or a llama2.c .bin for a llama reference)")
	cmd.Flags().StringVar(&cases, "cases", "", "reference cases.json")
	cmd.Flags().Float64Var(&tol.Abs, "tol", tol.Abs, "absolute tolerance on hidden states and logits")
	cmd.Flags().Float64Var(&tol.LossRel, "loss-tol", tol.LossRel, "relative tolerance on losses")
	cmd.Flags().Float64Var(&ltol.Logit, "logit-tol", ltol.Logit, "llama reference: absolute tolerance on logits")
	cmd.Flags().Float64Var(&ltol.Hidden, "hidden-tol", ltol.Hidden, "llama reference: absolute tolerance on the final hidden state")
	addOutputFlag(cmd.Flags(), &output, "text", "") // vocab.go
	return cmd
}

func newVerifyTokenizerCmd() *cobra.Command {
	var model, cases, field, output string
	cmd := &cobra.Command{
		Use:   "tokenizer --model FILE --cases FILE --field NAME",
		Short: "Check a tokenizer against expected ids (one JSON object per line)",
		Example: `  ptbench verify tokenizer --model spiece.model --cases cases.jsonl --field ids
  ptbench verify tokenizer --model byte --cases cases.jsonl --field byte_ids -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if model == "" || cases == "" || field == "" {
				return usageError{fmt.Errorf("--model, --cases and --field are required")}
			}
			if output != "text" && output != "json" {
				return usageError{fmt.Errorf("-o %q: want text or json", output)}
			}
			tok, err := tokenizers.Load(model)
			if err != nil {
				return err
			}
			rep, err := tokenizers.VerifyCases(tok, cases, field)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(struct {
					tokenizers.Report
					Passed bool `json:"passed"`
				}{rep, rep.Passed()}); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), rep.String())
			}
			if !rep.Passed() {
				return fmt.Errorf("%s: tokenizer %s does not reproduce field %q", cases, model, field)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "tokenizer file (.model, tokenizer.json) or \"byte\"")
	cmd.Flags().StringVar(&cases, "cases", "", "JSONL cases file")
	cmd.Flags().StringVar(&field, "field", "", "field holding the expected ids")
	addOutputFlag(cmd.Flags(), &output, "text", "") // vocab.go
	return cmd
}
