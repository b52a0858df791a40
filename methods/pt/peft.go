package pt

import (
	"fmt"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/safetensors"
	"github.com/ptbench/ptbench/peft"
)

// PT is PEFT's PROMPT_TUNING with num_transformer_submodules 1 (see package peft for the
// behaviour this matches): the checkpoint's "prompt" [l, d] is "prompt_embeddings". A T5
// folder with PEFT's seq2seq default 2 imports too: PEFT's prompt tuning uses only its first
// l rows.

func (m *Method) PEFTType() string { return peft.PromptTuning }

// ExportPEFT maps the checkpoint's prompt to PEFT's prompt_embeddings.
func (m *Method) ExportPEFT(ck map[string]*safetensors.Tensor, bb core.BackboneInfo) (map[string]any, []*safetensors.Tensor, error) {
	p, ok := ck["prompt"]
	if !ok {
		return nil, nil, fmt.Errorf(`no tensor "prompt" (is this a pt checkpoint?)`)
	}
	if len(p.Shape) != 2 || p.Shape[0] != int64(m.cfg.Length) || (bb.DModel > 0 && p.Shape[1] != bb.DModel) {
		return nil, nil, fmt.Errorf(`tensor "prompt" has shape %v, want [%d %d] (length, d_model)`, p.Shape, m.cfg.Length, bb.DModel)
	}
	fields := map[string]any{
		"num_virtual_tokens": m.cfg.Length, "token_dim": p.Shape[1], "num_transformer_submodules": 1,
		"num_attention_heads": nil, "num_layers": nil, "modules_to_save": nil,
		"prompt_tuning_init": "RANDOM", "prompt_tuning_init_text": nil,
		"tokenizer_name_or_path": nil, "tokenizer_kwargs": nil,
	}
	out := *p
	out.Name = "prompt_embeddings"
	return fields, []*safetensors.Tensor{&out}, nil
}

// CheckPEFTConfig checks what needs no backbone (peft.ConfigChecker): num_virtual_tokens
// against the method's length, no modules_to_save.
func (m *Method) CheckPEFTConfig(a *peft.Adapter) error {
	n, err := a.Int("num_virtual_tokens")
	if err != nil {
		return err
	}
	if !a.Empty("modules_to_save") { // PEFT would load and train those modules too
		return a.Errorf("modules_to_save is %v: ptbench's pt trains only the prompt", a.Config["modules_to_save"])
	}
	if n != m.cfg.Length {
		return a.Errorf("num_virtual_tokens is %d but the pt method's length is %d (set pt.length=%d)", n, m.cfg.Length, n)
	}
	return nil
}

// ImportPEFT copies prompt_embeddings into the prompt after checking num_virtual_tokens,
// token_dim and num_transformer_submodules against the method and the backbone.
func (m *Method) ImportPEFT(a *peft.Adapter, bb core.BackboneInfo) error {
	if m.P == nil {
		return fmt.Errorf("pt: ImportPEFT before Setup")
	}
	if err := m.CheckPEFTConfig(a); err != nil {
		return err
	}
	n, _ := a.Int("num_virtual_tokens")
	if d, ok, err := a.OptInt("token_dim"); err != nil {
		return err
	} else if ok && int64(d) != bb.DModel {
		return a.Errorf("token_dim is %d but backbone %s has d_model %d", d, bb.Name, bb.DModel)
	}
	k, ok, err := a.OptInt("num_transformer_submodules")
	if err != nil {
		return err
	}
	if !ok { // PEFT's default (peft_model.py, _setup_prompt_encoder)
		k = 1
		if tt, _ := a.OptString("task_type"); tt == peft.Seq2SeqLM {
			k = 2
		}
	}
	// PEFT keeps num_transformer_submodules × num_virtual_tokens rows, but its seq2seq
	// PROMPT_TUNING forward and generate prepend only the first num_virtual_tokens to the
	// encoder (peft_model.py, PeftModelForSeq2SeqLM; since v0.4.0): the rest are never used
	// or trained. So a T5 folder with PEFT's default 2 loads its first rows, as PEFT runs it.
	switch {
	case k == 1, k == 2 && bb.EncoderDecoder:
	default:
		return a.Errorf("num_transformer_submodules is %d: only 1, or 2 on an encoder-decoder backbone (PEFT's seq2seq default, whose prompt tuning uses the first num_virtual_tokens rows), loads", k)
	}
	t, err := a.Tensor("prompt_embeddings", []int64{int64(k * n), bb.DModel}, "num_transformer_submodules × num_virtual_tokens × token_dim")
	if err != nil {
		return err
	}
	if k > 1 {
		size, _ := safetensors.DTypeSize(t.DType) // a float type: Tensor checked it
		first := *t
		first.Shape = []int64{int64(n), bb.DModel}
		first.Data = t.Data[:int64(n)*bb.DModel*int64(size)]
		t = &first
	}
	if err := peft.CopyInto(m.P, t); err != nil {
		return fmt.Errorf("%s: %w", a.WeightsPath(), err)
	}
	return nil
}

// InitFromPEFT makes Setup end by loading a (`ptbench run --init-from`).
func (m *Method) InitFromPEFT(a *peft.Adapter) { m.init = a }
