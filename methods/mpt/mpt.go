// Package mpt is multitask prompt tuning (Wang et al., ICLR 2023), in its two stages.
//
// Stage 1, on the source tasks (`mpt-source`, trained multi-task, an artefact):
//
//	teachers   P_k = a PT prompt trained on source task k alone (k = 1..K)
//	student    P̃_k = P* ∘ (u_k v_kᵀ)     one shared P* ∈ R^{l×d}, a rank-one factor per task
//	loss       L = CE(student) + λ_KL · KL(p_teacher ‖ p_student) + λ_H · MSE(H_student, H_teacher)
//
// on each row's task k: KL between the teacher's and the student's output distributions over
// the target tokens, MSE between their encoders' last hidden states. P* starts as the mean of
// the teachers, u_k and v_k as ones.
//
// Stage 2, on a target task (`mpt`):
//
//	P = P* ∘ (u vᵀ),   u ∈ R^l, v ∈ R^d,  H0 = [P ; E]
//
// with P*, u and v starting from stage 1, as Hugging Face PEFT's MultitaskPromptEmbedding
// (src/peft/tuners/multitask_prompt_tuning/model.py) loads them: init "average" (the
// default; PEFT's AVERAGE_SOURCE_TASKS) starts u, v at the mean of the K source factors
// u_k, v_k, "exact" (EXACT_SOURCE_TASK) at source init_task's, and "ones" at ones (P = P* at
// step 0; no PEFT counterpart). Trainable P*, u, v: l·d + l + d = 77,668 on t5-base. Stage 1
// runs once per backbone, source set and settings; every target task and seed reuses it.
package mpt

import (
	"fmt"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/methods/internal/params"
	"github.com/ptbench/ptbench/methods/internal/promptbank"
	_ "github.com/ptbench/ptbench/methods/pt" // the source prompts are PT artefacts
)

// SourceConfig is stage 1's settings; each field's doc tag is its line in `ptbench methods
// mpt-source`.
type SourceConfig struct {
	Sources      []string `json:"sources" check:"nonempty each=nonempty distinct" doc:"source tasks, one PT teacher each"`
	Length       int      `json:"length" check:">0" doc:"l, the number of soft prompt tokens"`
	LR           float64  `json:"lr" check:"finite>0" doc:"learning rate of P*, u_k and v_k"`
	KLWeight     float64  `json:"kl_weight" check:"finite>=0" doc:"λ_KL, the weight of the distillation's KL term"`
	HiddenWeight float64  `json:"hidden_weight" check:"finite>=0" doc:"λ_H, the weight of the distillation's hidden-state term"`
	SourceSeed   int64    `json:"source_seed" doc:"seed of the teachers' runs"`
	SourceSteps  int      `json:"source_steps" check:">=0" doc:"training steps of each teacher (0: the run's --steps)"`
}

// Config is stage 2's settings (and which stage-1 artefact it starts from); each field's doc
// tag is its line in `ptbench methods mpt`.
type Config struct {
	Sources      []string `json:"sources" check:"nonempty each=nonempty distinct" doc:"source tasks of stage 1, one PT teacher each"`
	Length       int      `json:"length" check:">0" doc:"l, the number of soft prompt tokens"`
	LR           float64  `json:"lr" check:"finite>0" doc:"learning rate of P* (stages 1 and 2)"`
	FactorLR     float64  `json:"factor_lr" check:"finite>0" doc:"learning rate of the target factors u and v"`
	KLWeight     float64  `json:"kl_weight" check:"finite>=0" doc:"λ_KL of stage 1's distillation"`
	HiddenWeight float64  `json:"hidden_weight" check:"finite>=0" doc:"λ_H of stage 1's distillation"`
	SourceSeed   int64    `json:"source_seed" doc:"seed of the teachers' runs"`
	SourceSteps  int      `json:"source_steps" check:">=0" doc:"training steps of each teacher (0: the run's --steps)"`
	DistillSteps int      `json:"distill_steps" check:">=0" doc:"training steps of stage 1 (0: the run's --steps)"`
	Init         string   `json:"init" check:"oneof=average|exact|ones" doc:"where u and v start: average (of the sources' factors), exact (source init_task's) or ones"`
	InitTask     int      `json:"init_task" doc:"init exact: the index of the source whose u_k and v_k start u and v"`
}

// DefaultConfig uses the six sources of the comparison tables.
func DefaultConfig() Config {
	return Config{Sources: []string{"mnli", "qnli", "qqp", "sst2", "squad", "record"}, Length: 100, LR: 0.3, FactorLR: 0.3,
		KLWeight: 1, HiddenWeight: 1, SourceSeed: 42, Init: "average"}
}

// DefaultSourceConfig matches DefaultConfig.
func DefaultSourceConfig() SourceConfig {
	c := DefaultConfig()
	return SourceConfig{Sources: c.Sources, Length: c.Length, LR: c.LR, KLWeight: c.KLWeight, HiddenWeight: c.HiddenWeight, SourceSeed: c.SourceSeed}
}

// Validate is the rule between settings that the check tags cannot state.
func (c Config) Validate() error {
	if c.Init == "exact" && (c.InitTask < 0 || c.InitTask >= len(c.Sources)) {
		return fmt.Errorf("init_task %d is not a source index (0..%d)", c.InitTask, len(c.Sources)-1)
	}
	return nil
}

func init() {
	core.RegisterConfigured(core.Description{
		Name: "mpt", Label: "MPT", Family: core.FamilyInput,
		About:    "MPT (Wang et al. 2023): a distilled multi-task prompt P* with a rank-one target factor, P* ∘ (u vᵀ)",
		StepCost: 1, // PT's step: one prompt of PT's length
		Needs:    core.Needs{Artefacts: true},
	}, DefaultConfig, func(c Config) core.Method { return &Method{cfg: c} })
	core.RegisterConfigured(core.Description{
		Name: "mpt-source", Label: "MPT (source stage)", Family: core.FamilyInput,
		About: "MPT stage 1 (source tasks, multi-task): P* distilled from per-task PT teachers",
		Needs: core.Needs{Artefacts: true, MultiTask: true},
	}, DefaultSourceConfig, func(c SourceConfig) core.Method { return &Source{cfg: c} })
}

// ---- stage 2 ---------------------------------------------------------------------------------

// Method is MPT on a target task.
type Method struct {
	cfg          Config
	shared, u, v *ts.Tensor
}

func (m *Method) Config() any       { return m.cfg }
func (m *Method) PromptLength() int { return m.cfg.Length }

func (m *Method) sourceConfig() SourceConfig {
	return SourceConfig{Sources: m.cfg.Sources, Length: m.cfg.Length, LR: m.cfg.LR, KLWeight: m.cfg.KLWeight,
		HiddenWeight: m.cfg.HiddenWeight, SourceSeed: m.cfg.SourceSeed, SourceSteps: m.cfg.SourceSteps}
}

// NeededArtefacts is the stage-1 shared prompt (which itself needs one teacher per source).
func (m *Method) NeededArtefacts() []core.ArtefactSpec {
	c := m.sourceConfig()
	return []core.ArtefactSpec{{Method: "mpt-source", Config: map[string]any{
		"sources": c.Sources, "length": c.Length, "lr": c.LR, "kl_weight": c.KLWeight, "hidden_weight": c.HiddenWeight,
		"source_seed": c.SourceSeed, "source_steps": c.SourceSteps}, Tasks: c.Sources, Seed: c.SourceSeed, Steps: m.cfg.DistillSteps}}
}

// Setup loads P* and starts u, v from stage 1's factors (or ones).
func (m *Method) Setup(env core.SetupEnv) error {
	if env.Artefacts == nil {
		return fmt.Errorf("MPT needs its stage-1 prompt; this run offers no artefact store (use `ptbench run` or `ptbench sources train --method mpt`)")
	}
	spec := m.NeededArtefacts()[0]
	art, err := env.Artefacts.Artefact(spec)
	if err != nil {
		return fmt.Errorf("MPT stage 1 on %s: %w (train it with `ptbench sources train --method mpt --sources %s`)",
			strings.Join(spec.Tasks, ","), err, strings.Join(spec.Tasks, ","))
	}
	defer art.Close()
	p, err := art.Tensor("prompt_shared")
	if err != nil {
		return err
	}
	d := env.Backbone.Info().DModel
	if sz := p.Tensor.MustSize(); len(sz) != 2 || sz[0] != int64(m.cfg.Length) || sz[1] != d {
		return fmt.Errorf("artefact %s: prompt_shared has shape %v, want [%d %d]", art.Name, sz, m.cfg.Length, d)
	}
	if m.u, m.v, err = m.initFactors(art, d); err != nil {
		return fmt.Errorf("artefact %s: %w", art.Name, err)
	}
	m.shared = core.DetachedCopy(p.Tensor)
	dev := env.Backbone.Device() // the artefact's tensors and the factors are on the CPU
	for _, t := range []**ts.Tensor{&m.shared, &m.u, &m.v} {
		if *t, err = dev.Param(*t); err != nil {
			return err
		}
	}
	return nil
}

// initFactors makes u [l] and v [d] from stage 1's u_k [K, l] and v_k [K, d] as cfg.Init says.
func (m *Method) initFactors(art *core.Artefact, d int64) (u, v *ts.Tensor, err error) {
	l, K := int64(m.cfg.Length), int64(len(m.cfg.Sources))
	if m.cfg.Init == "ones" {
		return ts.MustOnes([]int64{l}, gotch.Float, gotch.CPU), ts.MustOnes([]int64{d}, gotch.Float, gotch.CPU), nil // moved by Setup
	}
	pick := func(name string, width int64) (*ts.Tensor, error) {
		f, err := art.Tensor(name)
		if err != nil {
			return nil, fmt.Errorf("%w (init %q needs stage 1's factors; init \"ones\" does not)", err, m.cfg.Init)
		}
		if sz := f.Tensor.MustSize(); len(sz) != 2 || sz[0] != K || sz[1] != width {
			return nil, fmt.Errorf("%s has shape %v, want [%d %d]", name, sz, K, width)
		}
		if m.cfg.Init == "exact" {
			row, err := f.Tensor.Select(0, int64(m.cfg.InitTask), false)
			if err != nil {
				return nil, err
			}
			return row.DetachCopy(true)
		}
		return f.Tensor.MeanDim([]int64{0}, false, gotch.Float, false)
	}
	if u, err = pick("u", l); err != nil {
		return nil, nil, err
	}
	if v, err = pick("v", d); err != nil {
		u.MustDrop()
		return nil, nil, err
	}
	return u, v, nil
}

func (m *Method) ParamGroups() []core.ParamGroup {
	return []core.ParamGroup{
		{Name: "prompt_shared", LR: m.cfg.LR, Params: []core.NamedTensor{{Name: "prompt_shared", Tensor: m.shared}}},
		{Name: "factor", LR: m.cfg.FactorLR, Params: []core.NamedTensor{{Name: "u", Tensor: m.u}, {Name: "v", Tensor: m.v}}},
	}
}

// Prompt is P* ∘ (u vᵀ) (caller drops).
func (m *Method) Prompt() *ts.Tensor {
	uv := m.u.MustUnsqueeze(1, false).MustMul(m.v, true) // [l, d] outer product
	return uv.MustMul(m.shared, true)
}

// Transform prepends P* ∘ (u vᵀ).
func (m *Method) Transform(in core.Input, train bool) (core.Input, error) {
	p := m.Prompt()
	defer p.MustDrop()
	return core.PrependPrompt(in, p)
}

func (m *Method) Close() {
	params.Drop(&m.shared, &m.u, &m.v)
}

// ---- stage 1 ---------------------------------------------------------------------------------

// Source is MPT's stage 1, trained over the source tasks at once (the run's tasks, in the
// order Batch.Tasks indexes them).
type Source struct {
	cfg      SourceConfig
	shared   *ts.Tensor // P* [l, d]
	u, v     *ts.Tensor // [K, l], [K, d]
	teachers *ts.Tensor // [K, l·d] frozen
	d        int64
}

func (s *Source) Config() any       { return s.cfg }
func (s *Source) PromptLength() int { return s.cfg.Length }

// NeededArtefacts are the teachers.
func (s *Source) NeededArtefacts() []core.ArtefactSpec {
	return promptbank.SourceSpecs(s.cfg.Sources, s.cfg.Length, s.cfg.SourceSeed, s.cfg.SourceSteps)
}

// Setup fetches one teacher per task and starts P* at their mean.
func (s *Source) Setup(env core.SetupEnv) error {
	if len(env.Tasks) != len(s.cfg.Sources) {
		return fmt.Errorf("mpt-source trains on its sources %v at once (multi-task); this run's tasks are %v", s.cfg.Sources, env.Tasks)
	}
	for i, t := range env.Tasks {
		if t != s.cfg.Sources[i] {
			return fmt.Errorf("mpt-source: run task %d is %s, want the sources in order %v", i, t, s.cfg.Sources)
		}
	}
	stack, err := promptbank.LoadSourceStack(env, s.NeededArtefacts()) // [K, l, d]
	if err != nil {
		return fmt.Errorf("MPT teachers: %w", err)
	}
	d := env.Backbone.Info().DModel
	s.d = d
	K, l := int64(len(s.cfg.Sources)), int64(s.cfg.Length)
	s.shared = stack.MustMeanDim([]int64{0}, false, gotch.Float, false)
	s.teachers = stack.MustView([]int64{K, l * d}, true)
	dev := env.Backbone.Device().Torch() // the stack is there already (promptbank.LoadSource)
	s.u = ts.MustOnes([]int64{K, l}, gotch.Float, dev)
	s.v = ts.MustOnes([]int64{K, d}, gotch.Float, dev)
	for _, t := range []*ts.Tensor{s.shared, s.u, s.v} {
		t.MustRequiresGrad_(true)
	}
	return nil
}

func (s *Source) ParamGroups() []core.ParamGroup {
	return []core.ParamGroup{{Name: "prompt", LR: s.cfg.LR, Params: []core.NamedTensor{
		{Name: "prompt_shared", Tensor: s.shared}, {Name: "u", Tensor: s.u}, {Name: "v", Tensor: s.v}}}}
}

// rowTasks is the batch's task index per row as a tensor on the inputs' device (row 0's task
// when there is no batch).
func rowTasks(in core.Input) *ts.Tensor {
	B := in.Embeds.MustSize()[0]
	idx := make([]int64, B)
	if in.Batch != nil {
		for i := range idx {
			idx[i] = int64(in.Batch.Tasks[i])
		}
	}
	return core.MustOnDeviceOf(ts.MustOfSlice(idx), in.Embeds)
}

// Transform prepends each row's student prompt P* ∘ (u_k v_kᵀ).
func (s *Source) Transform(in core.Input, train bool) (core.Input, error) {
	idx := rowTasks(in)
	u := s.u.MustIndexSelect(0, idx, false).MustUnsqueeze(2, true) // [B, l, 1]
	v := s.v.MustIndexSelect(0, idx, false).MustUnsqueeze(1, true) // [B, 1, d]
	idx.MustDrop()
	uv := u.MustMul(v, true)
	v.MustDrop()
	p := uv.MustMul(s.shared, true)
	defer p.MustDrop()
	return core.PrependPrompt(in, p)
}

// TrainingLoss is CE + λ_KL·KL(teacher ‖ student) + λ_H·MSE(encoder states) on each row's task.
func (s *Source) TrainingLoss(bb core.Backbone, in core.Input, b *core.Batch) (*ts.Tensor, error) {
	ob, ok := bb.(core.OutputsBackbone)
	if !ok {
		return nil, fmt.Errorf("MPT distillation needs a backbone that returns logits (core.OutputsBackbone)")
	}
	student, err := ob.ForwardOutputs(in, b.Labels)
	if err != nil {
		return nil, err
	}
	defer student.Drop()
	var teacher core.Outputs
	ts.NoGrad(func() {
		eval := *b
		eval.Train = false // the teacher runs without dropout
		base := core.EmbedBatch(bb, &eval)
		defer base.Drop()
		idx := rowTasks(base)
		B := idx.MustSize()[0]
		p := s.teachers.MustIndexSelect(0, idx, false).MustView([]int64{B, int64(s.cfg.Length), s.d}, true)
		idx.MustDrop()
		var x core.Input
		if x, err = core.PrependPrompt(base, p); err != nil {
			p.MustDrop()
			return
		}
		p.MustDrop()
		teacher, err = ob.ForwardOutputs(x, b.Labels)
		x.Drop()
	})
	if err != nil {
		return nil, err
	}
	defer teacher.Drop()

	// KL over the vocabulary at every target position that counts (labels ≠ -100).
	logS := student.Logits.MustLogSoftmax(-1, gotch.Float, false)
	logT := teacher.Logits.MustLogSoftmax(-1, gotch.Float, false)
	pT := logT.MustExp(false)
	diff := logT.MustSub(logS, true)
	logS.MustDrop()
	perPos := pT.MustMul(diff, true).MustSumDimIntlist([]int64{-1}, false, gotch.Float, true) // [B, T]
	diff.MustDrop()
	valid := b.Labels.MustNe(ts.IntScalar(-100), false).MustTotype(gotch.Float, true)
	count := valid.MustSum(gotch.Float, false)
	kl := perPos.MustMul(valid, true).MustSum(gotch.Float, true).MustDiv(count, true)
	valid.MustDrop()
	count.MustDrop()

	// MSE between the encoders' last hidden states (every position: both share the padding).
	mse := student.Encoder.MustMseLoss(teacher.Encoder, 1, false) // mean
	klw := kl.MustMulScalar(ts.FloatScalar(s.cfg.KLWeight), true)
	msew := mse.MustMulScalar(ts.FloatScalar(s.cfg.HiddenWeight), true)
	total := student.Loss.MustAdd(klw, false).MustAdd(msew, true)
	klw.MustDrop()
	msew.MustDrop()
	return total, nil
}

func (s *Source) Close() {
	params.Drop(&s.shared, &s.u, &s.v, &s.teachers)
}
