// Package spot is SPoT, soft prompt transfer (Vu et al., ACL 2022): prompt tuning whose prompt
// starts from a PT prompt trained on a source task instead of vocabulary embeddings.
//
//	P_0 = P_source        (PT, l × d, trained on the source task, e.g. MNLI)
//	H0  = [P ; E]         (then trained on the target task exactly as PT)
//
// The source prompt is an artefact: trained once per backbone, source task, PT config and
// source seed, stored under its stable name and reused by every target task and seed. Only P
// is trained on the target: l·d parameters (76,800 for l = 100 on t5-base).
package spot

import (
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/methods/internal/promptbank"
)

// Config is SPoT's settings; each field's doc tag is its line in `ptbench methods spot`.
type Config struct {
	Source      string  `json:"source" check:"nonempty" doc:"the source task whose PT prompt initialises P (MNLI in the comparison tables)"`
	Length      int     `json:"length" check:">0" doc:"l, the number of soft prompt tokens (the source prompt's too)"`
	LR          float64 `json:"lr" check:"finite>0" doc:"learning rate of the prompt on the target task"`
	SourceSeed  int64   `json:"source_seed" doc:"seed of the source prompt's run (fixed across target seeds)"`
	SourceSteps int     `json:"source_steps" check:">=0" doc:"training steps of the source prompt (0: the run's --steps)"`
}

// DefaultConfig transfers from MNLI with PT's settings.
func DefaultConfig() Config {
	return Config{Source: "mnli", Length: 100, LR: 0.3, SourceSeed: 42}
}

func init() {
	core.RegisterConfigured(core.Description{
		Name: "spot", Label: "SPoT", Family: core.FamilyInput,
		// AdamW's ε as the reference trains it: ATTEMPT runs spot.json through Hugging Face's Trainer,
		// whose AdamW takes TrainingArguments.adam_epsilon, 1e-8 (docs/fidelity.md).
		AdamEps:  1e-8,
		About:    "SPoT (Vu et al. 2022): PT initialised from a PT prompt trained on a source task",
		StepCost: 1, // PT's step
		Needs:    core.Needs{Artefacts: true},
	}, DefaultConfig, func(c Config) core.Method { return &Method{Prompt: promptbank.Prompt{LR: c.LR}, cfg: c} })
}

// Method is SPoT: PT's soft prompt (promptbank.Prompt: its parameter group, Transform and
// Close) started from the source task's PT prompt.
type Method struct {
	promptbank.Prompt
	cfg Config
}

func (m *Method) Config() any       { return m.cfg }
func (m *Method) PromptLength() int { return m.cfg.Length }

// NeededArtefacts is the source PT prompt.
func (m *Method) NeededArtefacts() []core.ArtefactSpec {
	// promptbank.SourceSpec: the spec ATTEMPT and MPT ask for too, so they share the prompt.
	return []core.ArtefactSpec{promptbank.SourceSpec(m.cfg.Source, m.cfg.Length, m.cfg.SourceSeed, m.cfg.SourceSteps)}
}

// Setup starts P from the source prompt, a trainable copy.
func (m *Method) Setup(env core.SetupEnv) error {
	p, err := promptbank.LoadSource(env, m.NeededArtefacts()[0])
	if err != nil {
		return err
	}
	m.P = p
	return p.RequiresGrad_(true) // on failure Close frees P
}
