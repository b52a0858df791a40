// Package sdkpt is prompt tuning (methods/pt) written against the plugin SDK: the same
// configuration, the same seeded initialisation and, through the SDK's AdamW, the same
// updates. The tests run it as a plugin and compiled in and require both to reproduce the
// in-process PT bit for bit.
package sdkpt

import (
	"fmt"
	"math"

	"github.com/ptbench/ptbench/plugins/sdk"
)

// Config mirrors methods/pt.Config (same keys, same defaults).
type Config struct {
	Length      int     `json:"length"`
	LR          float64 `json:"lr"`
	Init        string  `json:"init"`
	InitText    string  `json:"init_text"`
	VocabLimit  int     `json:"vocab_limit"`
	WeightDecay float64 `json:"weight_decay"`
}

func defaults() Config {
	return Config{Length: 100, LR: 0.3, Init: "vocab", VocabLimit: 5000,
		InitText: "Classify the input and answer with the label.", WeightDecay: 1e-5}
}

// Plugin returns PT as an SDK plugin named name.
func Plugin(name string) sdk.Plugin {
	return sdk.Plugin{
		Info: sdk.Info{Name: name, Version: "1.0.0", About: "Prompt tuning through the plugin SDK (test reference)",
			Input: sdk.InputNone, Prefix: true, Defaults: defaults(), AdamEps: 1e-8, // PT's (docs/fidelity.md)
			ConfigDoc: map[string]string{"length": "l, soft tokens", "lr": "learning rate",
				"init": `"vocab" or "text"`, "init_text": "text of the text init", "vocab_limit": "vocab init samples ids below this",
				"weight_decay": "AdamW weight decay of the prompt"}},
		New: func(config []byte) (sdk.Method, error) { return New(config) },
	}
}

// New builds the method from a JSON configuration.
func New(config []byte) (*Method, error) {
	cfg := defaults()
	if err := sdk.DecodeConfig(config, &cfg); err != nil {
		return nil, err
	}
	switch {
	case cfg.Length <= 0:
		return nil, fmt.Errorf("length must be > 0, got %d", cfg.Length)
	case cfg.LR <= 0:
		return nil, fmt.Errorf("lr must be > 0, got %g", cfg.LR)
	case !(cfg.WeightDecay >= 0) || math.IsInf(cfg.WeightDecay, 1):
		return nil, fmt.Errorf("weight_decay must be a finite number >= 0, got %g", cfg.WeightDecay)
	case cfg.Init != "vocab" && cfg.Init != "text":
		return nil, fmt.Errorf(`init must be "vocab" or "text", got %q`, cfg.Init)
	case cfg.Init == "vocab" && cfg.VocabLimit <= 0:
		return nil, fmt.Errorf("vocab_limit must be > 0, got %d", cfg.VocabLimit)
	}
	return &Method{cfg: cfg}, nil
}

// Method is PT.
type Method struct {
	cfg    Config
	prompt *sdk.Param
}

func (m *Method) Config() any          { return m.cfg }
func (m *Method) PrefixLen() int       { return m.cfg.Length }
func (m *Method) Params() []*sdk.Param { return []*sdk.Param{m.prompt} }

// Needs asks for the embedding rows of the init: the ids methods/pt.InitPrompt samples (same
// generator, same seed) or the tokens of the init text.
func (m *Method) Needs(env sdk.Env) (sdk.Needs, error) {
	if m.cfg.Init == "text" {
		return sdk.Needs{Texts: []string{m.cfg.InitText}}, nil
	}
	return sdk.Needs{EmbeddingRows: m.vocabIDs(env)}, nil
}

func (m *Method) vocabIDs(env sdk.Env) []int64 {
	return sdk.VocabInitIDs(env.Seed, m.cfg.Length, env.Vocab, m.cfg.VocabLimit)
}

// Setup copies the asked-for rows into P.
func (m *Method) Setup(env sdk.Env) error {
	ids := m.vocabIDs(env)
	if m.cfg.Init == "text" {
		toks := env.Tokens[m.cfg.InitText]
		if len(toks) == 0 {
			return fmt.Errorf("init_text %q has no tokens", m.cfg.InitText)
		}
		for i := range ids {
			ids[i] = toks[i%len(toks)]
		}
	}
	m.prompt = sdk.NewParam("prompt", m.cfg.LR, m.cfg.Length, env.DModel)
	m.prompt.WeightDecay = m.cfg.WeightDecay
	return sdk.CopyRows(m.prompt.Data, env, ids)
}

// Forward returns P, shared by the batch.
func (m *Method) Forward(sdk.Batch) (sdk.Outputs, error) {
	return sdk.Outputs{Prefix: &sdk.Tensor{Shape: m.prompt.Shape, Data: m.prompt.Data}}, nil
}

// Backward: d loss / d P is the gradient of the prefix itself.
func (m *Method) Backward(g sdk.Outputs) error {
	for i, v := range g.Prefix.Data {
		m.prompt.Grad[i] += v
	}
	return nil
}
