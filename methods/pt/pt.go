// Package pt is prompt tuning (Lester et al., 2021): a soft prompt P ∈ R^{l×d} is prepended
// to the frozen input embeddings, H0 = [P ; E], with the attention mask extended by ones.
// Only P is trained (l·d parameters: 76,800 for l = 100 on t5-base), by AdamW with the
// reference's decoupled weight decay 1e-5 (ATTEMPT's prompt_tuning.json).
//
// Initialisation: rows of the vocabulary embedding sampled (seeded) from the first 5,000
// ids, or the embeddings of an instruction text tiled/truncated to l, or (InitFromPEFT,
// `ptbench run --init-from`) a PEFT PROMPT_TUNING adapter's prompt_embeddings. PT exports
// to and imports from PEFT as PROMPT_TUNING with num_transformer_submodules 1 (package peft).
package pt

import (
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/methods/internal/promptbank"
	"github.com/ptbench/ptbench/peft"
)

// Config is PT's hyperparameters; each field's doc tag is its line in `ptbench methods pt`.
type Config struct {
	Length     int     `json:"length" check:">0" doc:"l, the number of soft prompt tokens"`
	LR         float64 `json:"lr" check:">0" doc:"learning rate of the prompt"`
	Init       string  `json:"init" check:"oneof=vocab|text" doc:"prompt initialisation: vocab (sampled vocabulary rows) or text (the embeddings of init_text)"`
	InitText   string  `json:"init_text" doc:"instruction text tiled/truncated to l tokens (init text)"`
	VocabLimit int     `json:"vocab_limit" doc:"init vocab samples ids in [0, vocab_limit)"`
	// WeightDecay is the reference's (ATTEMPT's prompt_tuning.json): the prompt is not named
	// "bias", so its Trainer decays it.
	WeightDecay float64 `json:"weight_decay" check:"finite>=0" doc:"AdamW weight decay of the prompt (the reference's 1e-5)"`
}

// DefaultConfig is the paper's setting.
func DefaultConfig() Config {
	return Config{Length: 100, LR: 0.3, Init: "vocab", VocabLimit: 5000,
		InitText: "Classify the input and answer with the label.", WeightDecay: 1e-5}
}

// Validate is the rule between settings that the check tags cannot state.
func (c Config) Validate() error { return promptbank.CheckVocabLimit(c.Init, c.VocabLimit) }

func init() {
	core.RegisterConfigured(core.Description{
		Name: "pt", Label: "PT", Family: core.FamilyInput,
		// AdamW's ε as the reference trains it: ATTEMPT runs prompt_tuning.json through Hugging Face's
		// Trainer (run_seq2seq.py), whose AdamW takes TrainingArguments.adam_epsilon, 1e-8
		// (docs/fidelity.md).
		AdamEps: 1e-8,
		About:   "Prompt tuning (Lester et al. 2021): soft prompt P (l×d) prepended to the input",
		// The baseline: other methods' step times are quoted relative to PT's.
		StepCost: 1, Baseline: true,
		PEFT: peft.PromptTuning,
		Tensors: &core.TensorDoc{
			Equation: "H0 = [P ; E], attention mask extended by ones   (prompt tuning, Lester et al. 2021)",
			Tensors:  []core.TensorRole{{Pattern: "prompt", Role: "P ∈ R^{l×d}: the soft prompt prepended to the frozen input embeddings E"}},
		},
	}, DefaultConfig, func(c Config) core.Method {
		return &Method{Prompt: promptbank.Prompt{LR: c.LR, WeightDecay: c.WeightDecay}, cfg: c}
	})
}

// Method is PT: the soft prompt (promptbank.Prompt: its parameter group, Transform and
// Close) started from the vocabulary or a text.
type Method struct {
	promptbank.Prompt
	cfg  Config
	init *peft.Adapter // loaded at the end of Setup (InitFromPEFT)
}

func (m *Method) Config() any { return m.cfg }

// PromptLength is l, the number of encoder positions PT adds.
func (m *Method) PromptLength() int { return m.cfg.Length }

// Setup initialises P.
func (m *Method) Setup(env core.SetupEnv) error {
	p, err := InitPrompt(env.Backbone, m.cfg.Length, m.cfg.Init, m.cfg.InitText, m.cfg.VocabLimit, env.Seed)
	if err != nil {
		return err
	}
	m.P = p
	if m.init != nil {
		return peft.Load(m, m.init, env.Backbone.Info())
	}
	return nil
}

// InitPrompt makes a trainable [length, d] prompt from the backbone's frozen embeddings:
// "vocab" samples ids uniformly from [0, vocabLimit) with a seeded generator; "text" uses
// the tokens of text (the tokenizer's, without special tokens), tiled/truncated to length.
// It is promptbank.Init, the initialiser every prompt method shares.
func InitPrompt(bb core.Backbone, length int, how, text string, vocabLimit int, seed int64) (*ts.Tensor, error) {
	return promptbank.Init(bb, promptbank.Spec{Length: length, How: how, Text: text, VocabLimit: vocabLimit}, seed)
}
