// Package attempt is ATTEMPT (Asai et al., EMNLP 2022): an attentional mixture, per example,
// of frozen source prompts and the trainable target prompt — as AkariAsai/ATTEMPT computes it
// with attn_method "sub" (attempt/third_party/models/t5/modeling_t5.py, T5Stack.forward):
//
//	x̂   = max over the positions of the padded input embeddings E   ∈ R^d   (padding included)
//	P_{n+1} = P_t                      the candidates are the n sources and the target
//	p̂_j = max over the tokens of P_j                       j = 1..n+1    ∈ R^d
//	h   = LayerNorm(W_up · SiLU(W_down · x̂))     W_down ∈ R^{d×k}, W_up ∈ R^{k×d}, no biases
//	a   = softmax_j(p̂_j · h / T)               over n+1 candidates, T = 2087
//	P   = Σ_{j=1}^{n+1} a_j P_j + P_t            per example, prepended: H0 = [P ; E]
//
// P_1..P_n are PT prompts (l = 100) trained on the source tasks (MNLI, QNLI, QQP, SST-2,
// SQuAD, ReCoRD by default, attempt/configs/attempt/sinlge_task.json), frozen, fetched from
// the artefact store (trained once if missing). P_t starts as a copy of the first source
// prompt (MNLI): run_seq2seq.py calls update_prefix_weights_single(shared_params[0]) for
// single-task training. W_down and W_up start N(0, 10⁻²) (the model's _init_weights for
// nn.Linear); the LayerNorm is nn.LayerNorm's (1, 0) and stays frozen, because
// freeze_model_params (attempt/utils/utils.py) unfreezes only attn_W_down, attn_W_up and
// prefix_shared for "sub". One learning rate, 0.3, for everything (attn_learning_rate is
// unset in the configs).
//
// x̂ includes padding as the reference does: it pads every source to max_source_length (256)
// and takes torch.max over all positions, so a source shorter than that has the pad
// embedding among its maxima. With dynamic padding this package gets the same x̂ by taking
// the maximum with the pad embedding for every row shorter than the run's max source length.
//
// Trainable: P_t, W_down, W_up — l·d + 2·d·k = 230,400 on t5-base (k = 100); the frozen
// sources are not counted. The paper's 232K (231,936) counts the LayerNorm's 2·d as well;
// train_layer_norm: true trains it and gives that count.
package attempt

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

// Config is ATTEMPT's settings; each field's doc tag is its line in `ptbench methods attempt`.
type Config struct {
	Sources     []string `json:"sources" check:"nonempty each=nonempty distinct" doc:"source tasks, one frozen PT prompt each"`
	Length      int      `json:"length" check:">0" doc:"l, the number of soft prompt tokens (sources and target)"`
	Bottleneck  int      `json:"bottleneck" check:">0" doc:"k, the attention module's hidden size"`
	Temperature float64  `json:"temperature" check:"finite>0" doc:"T in the attention softmax(p̂·h / T)"`
	LR          float64  `json:"lr" check:"finite>0" doc:"learning rate of every trainable tensor (the reference's learning_rate)"`
	// AttnLR is the attention module's own rate (the reference's attn_learning_rate); 0 = LR.
	AttnLR         float64 `json:"attn_lr" check:"finite>=0" doc:"learning rate of the attention module (0: lr)"`
	AttnInitStd    float64 `json:"attn_init_std" check:"finite>=0" doc:"std of W_down and W_up at initialisation"`
	TrainLayerNorm bool    `json:"train_layer_norm" doc:"train the attention's layer norm (the reference freezes it)"`
	// TargetInit is where P_t starts: "first_source" (the reference: a copy of the first
	// source prompt) or "vocab" (vocabulary rows, as PT).
	TargetInit string `json:"target_init" check:"oneof=first_source|vocab" doc:"where the target prompt starts: first_source (a copy of the first source prompt) or vocab"`
	// Pool is what x̂ maxes over: "padded" (the reference: the input padded to the max source
	// length) or "real" (the real tokens only).
	Pool        string `json:"pool" check:"oneof=padded|real" doc:"what the input summary maxes over: padded (the reference) or real (real tokens only)"`
	SourceSeed  int64  `json:"source_seed" doc:"seed of the source prompts' runs (fixed across targets)"`
	SourceSteps int    `json:"source_steps" check:">=0" doc:"training steps of each source prompt (0: the run's --steps)"`
}

// DefaultConfig is the reference's single-task configuration with its six sources.
func DefaultConfig() Config {
	return Config{Sources: []string{"mnli", "qnli", "qqp", "sst2", "squad", "record"}, Length: 100, Bottleneck: 100,
		Temperature: 2087, LR: 0.3, AttnInitStd: 1e-2, TargetInit: "first_source", Pool: "padded", SourceSeed: 42}
}

func init() {
	core.RegisterConfigured(core.Description{
		Name: "attempt", Label: "ATTEMPT", Family: core.FamilyInput,
		// AdamW's ε as the reference trains it: sinlge_task.json sets no attn_learning_rate, so
		// run_seq2seq.py leaves the optimiser to Hugging Face's Trainer: TrainingArguments.adam_epsilon,
		// 1e-8 (docs/fidelity.md).
		AdamEps: 1e-8,
		About:   "ATTEMPT (Asai et al. 2022): per-example attention over frozen source prompts and the target prompt, plus the target prompt",
		// Estimated: PT's step plus the attention over the source prompts.
		StepCost: 1.05,
		Needs:    core.Needs{Artefacts: true},
	}, DefaultConfig, func(c Config) core.Method { return &Method{cfg: c} })
}

// Method is ATTEMPT.
type Method struct {
	cfg          Config
	sources      *ts.Tensor // [n, l·d] frozen
	sourceKeys   *ts.Tensor // p̂ of the sources [n, d] frozen
	target       *ts.Tensor // P_t [l, d]
	down, up     *ts.Tensor // [d, k], [k, d]
	lnW, lnB     *ts.Tensor // [d]
	padEmb       *ts.Tensor // the pad token's embedding [d] ("padded" pooling)
	maxLen       int        // the run's max source length: shorter rows were padded in the reference
	d            int64
	LastWeights  []float32 // a of the latest batch, [B·(n+1)], the target last (for inspection and tests)
	recordWeight bool
}

func (m *Method) Config() any       { return m.cfg }
func (m *Method) PromptLength() int { return m.cfg.Length }

// NeededArtefacts are the source PT prompts.
func (m *Method) NeededArtefacts() []core.ArtefactSpec {
	return promptbank.SourceSpecs(m.cfg.Sources, m.cfg.Length, m.cfg.SourceSeed, m.cfg.SourceSteps)
}

// Candidates is n + 1: the sources and the target.
func (m *Method) Candidates() int { return len(m.cfg.Sources) + 1 }

// Target is P_t (borrowed).
func (m *Method) Target() *ts.Tensor { return m.target }

// Setup fetches the source prompts and creates P_t and the attention module.
func (m *Method) Setup(env core.SetupEnv) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("attempt setup: %v", p)
		}
	}()
	d := env.Backbone.Info().DModel
	m.d, m.maxLen = d, env.MaxSourceLen
	stack, err := promptbank.LoadSourceStack(env, m.NeededArtefacts()) // [n, l, d]
	if err != nil {
		return fmt.Errorf("ATTEMPT needs a PT prompt per source task: %w\n(obtain the data with `ptbench data --task T`, then `ptbench sources train --method attempt --sources %s`)",
			err, strings.Join(m.cfg.Sources, ","))
	}
	if m.sourceKeys, err = stack.Amax([]int64{1}, false, false); err != nil {
		stack.MustDrop()
		return err
	}
	switch m.cfg.TargetInit {
	case "first_source":
		first, err := stack.Select(0, 0, false)
		if err == nil {
			m.target, err = first.DetachCopy(true)
		}
		if err != nil {
			stack.MustDrop()
			return err
		}
		if err := m.target.RequiresGrad_(true); err != nil {
			stack.MustDrop()
			return err
		}
	default:
		if m.target, err = promptbank.Init(env.Backbone, promptbank.Spec{Length: m.cfg.Length, How: "vocab", VocabLimit: 5000}, env.Seed); err != nil {
			stack.MustDrop()
			return err
		}
	}
	n := int64(len(m.cfg.Sources))
	if m.sources, err = stack.View([]int64{n, int64(m.cfg.Length) * d}, true); err != nil {
		return err
	}
	k := int64(m.cfg.Bottleneck)
	// Drawn on the CPU, then moved: the same values on every device (core.Device.Param).
	m.down = ts.MustZeros([]int64{d, k}, gotch.Float, gotch.CPU)
	m.up = ts.MustZeros([]int64{k, d}, gotch.Float, gotch.CPU)
	if m.cfg.AttnInitStd > 0 {
		m.down.MustNormal_(0, m.cfg.AttnInitStd)
		m.up.MustNormal_(0, m.cfg.AttnInitStd)
	}
	dev := env.Backbone.Device()
	m.lnW = ts.MustOnes([]int64{d}, gotch.Float, dev.Torch())
	m.lnB = ts.MustZeros([]int64{d}, gotch.Float, dev.Torch())
	for _, t := range []**ts.Tensor{&m.down, &m.up} {
		if *t, err = dev.Param(*t); err != nil {
			return err
		}
	}
	if m.cfg.TrainLayerNorm {
		for _, t := range []*ts.Tensor{m.lnW, m.lnB} {
			t.MustRequiresGrad_(true)
		}
	}
	if m.cfg.Pool == "padded" {
		m.padEmb, err = padEmbedding(env.Backbone)
	}
	return err
}

// padEmbedding is the embedding [d] of the id the backbone pads sources with, found by
// collating a one-token row with a two-token row.
func padEmbedding(bb core.Backbone) (*ts.Tensor, error) {
	b, err := bb.Collate([]core.Encoded{{Source: []int64{1}}, {Source: []int64{1, 1}}}, core.CollateOptions{NoLabels: true})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	ids := b.IDs.Int64Values()
	mask := core.Float32s(b.Mask)
	for i, v := range mask {
		if v == 0 {
			row, err := bb.Device().Move(ts.MustOfSlice([]int64{ids[i]}).MustView([]int64{1, 1}, true))
			if err != nil {
				return nil, err
			}
			e := bb.Embed(row)
			row.MustDrop()
			return e.View([]int64{bb.Info().DModel}, true)
		}
	}
	return nil, fmt.Errorf("attempt: the backbone did not pad a short row; cannot find its pad embedding")
}

func (m *Method) ParamGroups() []core.ParamGroup {
	attn := []core.NamedTensor{{Name: "attn.down", Tensor: m.down}, {Name: "attn.up", Tensor: m.up}}
	if m.cfg.TrainLayerNorm {
		attn = append(attn, core.NamedTensor{Name: "attn.ln.weight", Tensor: m.lnW}, core.NamedTensor{Name: "attn.ln.bias", Tensor: m.lnB})
	}
	return []core.ParamGroup{
		{Name: "target_prompt", LR: m.cfg.LR, Params: []core.NamedTensor{{Name: "prompt", Tensor: m.target}}},
		{Name: "attention", LR: params.Rate(m.cfg.AttnLR, m.cfg.LR), Params: attn},
	}
}

func (m *Method) Close() {
	params.Drop(&m.sources, &m.sourceKeys, &m.target, &m.down, &m.up, &m.lnW, &m.lnB, &m.padEmb)
	*m = Method{cfg: m.cfg}
}
