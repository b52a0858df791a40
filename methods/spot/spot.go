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
	"fmt"
	"math"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/methods/internal/promptbank"
)

// Config is SPoT's settings; each field's doc tag is its line in `ptbench methods spot`.
type Config struct {
	Source      string  `json:"source" doc:"the source task whose PT prompt initialises P (MNLI in the comparison tables)"`
	Length      int     `json:"length" doc:"l, the number of soft prompt tokens (the source prompt's too)"`
	LR          float64 `json:"lr" doc:"learning rate of the prompt on the target task"`
	SourceSeed  int64   `json:"source_seed" doc:"seed of the source prompt's run (fixed across target seeds)"`
	SourceSteps int     `json:"source_steps" doc:"training steps of the source prompt (0: the run's --steps)"`
}

// DefaultConfig transfers from MNLI with PT's settings.
func DefaultConfig() Config {
	return Config{Source: "mnli", Length: 100, LR: 0.3, SourceSeed: 42}
}

// Validate rejects settings that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Source == "":
		return fmt.Errorf("source must name a task")
	case c.Length <= 0:
		return fmt.Errorf("length must be > 0, got %d", c.Length)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("lr must be a positive number, got %v", c.LR)
	case c.SourceSteps < 0:
		return fmt.Errorf("source_steps must be ≥ 0, got %d", c.SourceSteps)
	}
	return nil
}

func init() {
	core.RegisterConfigured(core.Description{
		Name: "spot", Label: "SPoT", Family: core.FamilyInput,
		About:    "SPoT (Vu et al. 2022): PT initialised from a PT prompt trained on a source task",
		StepCost: 1, // PT's step
		Needs:    core.Needs{Artefacts: true},
	}, DefaultConfig, func(c Config) core.Method { return &Method{cfg: c} })
}

// Method is SPoT.
type Method struct {
	cfg    Config
	prompt *ts.Tensor
}

func (m *Method) Config() any       { return m.cfg }
func (m *Method) PromptLength() int { return m.cfg.Length }

// NeededArtefacts is the source PT prompt.
func (m *Method) NeededArtefacts() []core.ArtefactSpec {
	return []core.ArtefactSpec{SourcePrompt(m.cfg.Source, m.cfg.Length, m.cfg.SourceSeed, m.cfg.SourceSteps)}
}

// SourcePrompt is the artefact spec of a PT prompt trained on one source task
// (promptbank.SourceSpec, shared with ATTEMPT and MPT).
func SourcePrompt(task string, length int, seed int64, steps int) core.ArtefactSpec {
	return promptbank.SourceSpec(task, length, seed, steps)
}

// SourcePrompts are the specs of one PT prompt per source task.
func SourcePrompts(tasks []string, length int, seed int64, steps int) []core.ArtefactSpec {
	return promptbank.SourceSpecs(tasks, length, seed, steps)
}

// LoadSourcePromptStack fetches every spec's prompt and stacks them: [n, l, d].
func LoadSourcePromptStack(env core.SetupEnv, specs []core.ArtefactSpec) (*ts.Tensor, error) {
	return promptbank.LoadSourceStack(env, specs)
}

// LoadSourcePrompt fetches a source PT prompt: a detached copy [l, d] (caller owns it).
func LoadSourcePrompt(env core.SetupEnv, spec core.ArtefactSpec) (*ts.Tensor, error) {
	return promptbank.LoadSource(env, spec)
}

// Setup starts P from the source prompt.
func (m *Method) Setup(env core.SetupEnv) error {
	p, err := LoadSourcePrompt(env, m.NeededArtefacts()[0])
	if err != nil {
		return err
	}
	p.MustRequiresGrad_(true)
	m.prompt = p
	return nil
}

func (m *Method) ParamGroups() []core.ParamGroup {
	return []core.ParamGroup{{Name: "prompt", LR: m.cfg.LR, Params: []core.NamedTensor{{Name: "prompt", Tensor: m.prompt}}}}
}

// Transform prepends P.
func (m *Method) Transform(in core.Input, train bool) (core.Input, error) {
	return core.PrependPrompt(in, m.prompt)
}

func (m *Method) Close() {
	if m.prompt != nil {
		m.prompt.MustDrop()
		m.prompt = nil
	}
}
