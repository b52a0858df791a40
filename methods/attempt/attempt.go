// Package attempt is ATTEMPT (Asai et al., EMNLP 2022): attentional mixtures of frozen source
// prompts and a trainable target prompt, per example.
//
//	x̂   = max over the real tokens of the input embeddings E            ∈ R^d
//	p̂_j = max over the tokens of source prompt P_j                       ∈ R^d
//	h   = LayerNorm(W_up · SiLU(W_down · x̂))       W_down ∈ R^{d×k}, W_up ∈ R^{k×d}, no biases
//	a   = softmax_j(p̂_j · h / T)                   T = 2087 (d·e in the ATTEMPT code)
//	P   = Σ_j a_j P_j + P_t                          per example, prepended: H0 = [P ; E]
//
// P_1..P_n are PT prompts (l = 100) trained on the source tasks (MNLI, QNLI, QQP, SST-2, SQuAD,
// ReCoRD by default), frozen, fetched from the artefact store (trained once if missing). The
// target prompt P_t starts as PT's (vocabulary rows). Trainable: P_t, W_down, W_up and the
// LayerNorm's weight and bias — l·d + 2·d·k + 2·d = 231,936 on t5-base (k = 100); the frozen
// sources are not counted. W_down and W_up start as small uniform maps (a Linear's default
// bounds) so that the mixture depends on the input from step 0; the LayerNorm starts at (1, 0).
//
// Learning rates: P_t at PT's 0.3, the attention module at 1e-2 (as EPT's projection: Adam at
// 0.3 on a product of two matrices diverges).
package attempt

import (
	"fmt"
	"math"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/methods/pt"
	"github.com/ptbench/ptbench/methods/spot"
)

// Config is ATTEMPT's settings.
type Config struct {
	Sources     []string `json:"sources"`      // source tasks, one frozen PT prompt each
	Length      int      `json:"length"`       // l (sources and target)
	Bottleneck  int      `json:"bottleneck"`   // k, the attention module's hidden size
	Temperature float64  `json:"temperature"`  // T in softmax(p̂·h / T)
	PromptLR    float64  `json:"prompt_lr"`    // P_t
	AttnLR      float64  `json:"attn_lr"`      // W_down, W_up, LayerNorm
	SourceSeed  int64    `json:"source_seed"`  // the source prompts' seed (fixed across targets)
	SourceSteps int      `json:"source_steps"` // source training steps (0: the run's --steps)
}

// DefaultConfig is the paper's six sources.
func DefaultConfig() Config {
	return Config{Sources: []string{"mnli", "qnli", "qqp", "sst2", "squad", "record"}, Length: 100, Bottleneck: 100,
		Temperature: 2087, PromptLR: 0.3, AttnLR: 1e-2, SourceSeed: 42}
}

// Validate rejects settings that cannot work.
func (c Config) Validate() error {
	finitePos := func(v float64) bool { return v > 0 && !math.IsInf(v, 0) }
	switch {
	case len(c.Sources) == 0:
		return fmt.Errorf("sources must name at least one task")
	case c.Length <= 0 || c.Bottleneck <= 0:
		return fmt.Errorf("length and bottleneck must be > 0 (got %d, %d)", c.Length, c.Bottleneck)
	case !finitePos(c.Temperature):
		return fmt.Errorf("temperature must be a positive number, got %v", c.Temperature)
	case !finitePos(c.PromptLR) || !finitePos(c.AttnLR):
		return fmt.Errorf("prompt_lr and attn_lr must be positive numbers (got %v, %v)", c.PromptLR, c.AttnLR)
	case c.SourceSteps < 0:
		return fmt.Errorf("source_steps must be ≥ 0, got %d", c.SourceSteps)
	}
	seen := map[string]bool{}
	for _, s := range c.Sources {
		if s == "" || seen[s] {
			return fmt.Errorf("sources %v: empty or repeated task", c.Sources)
		}
		seen[s] = true
	}
	return nil
}

func init() {
	core.RegisterConfigured("attempt", "ATTEMPT (Asai et al. 2022): per-example attention over frozen source prompts + a target prompt",
		DefaultConfig, func(c Config) core.Method { return &Method{cfg: c} })
}

// Method is ATTEMPT.
type Method struct {
	cfg          Config
	sources      *ts.Tensor // [n, l·d] frozen
	sourceKeys   *ts.Tensor // p̂ [n, d] frozen
	target       *ts.Tensor // P_t [l, d]
	down, up     *ts.Tensor // [d, k], [k, d]
	lnW, lnB     *ts.Tensor // [d]
	d            int64
	LastWeights  []float32 // a of the latest batch, [B·n] (for inspection and tests)
	recordWeight bool
}

func (m *Method) Config() any       { return m.cfg }
func (m *Method) Label() string     { return "ATTEMPT" }
func (m *Method) PromptLength() int { return m.cfg.Length }

// NeededArtefacts are the source PT prompts.
func (m *Method) NeededArtefacts() []core.ArtefactSpec {
	return spot.SourcePrompts(m.cfg.Sources, m.cfg.Length, m.cfg.SourceSeed, m.cfg.SourceSteps)
}

// Setup fetches the source prompts and creates P_t and the attention module.
func (m *Method) Setup(env core.SetupEnv) error {
	d := env.Backbone.Info().DModel
	m.d = d
	stack, err := spot.LoadSourcePromptStack(env, m.NeededArtefacts()) // [n, l, d]
	if err != nil {
		return fmt.Errorf("ATTEMPT needs a PT prompt per source task: %w\n(obtain the data with `ptbench data --task T`, then `ptbench sources train --method attempt --sources %s`)",
			err, strings.Join(m.cfg.Sources, ","))
	}
	m.sourceKeys = stack.MustAmax([]int64{1}, false, false)
	n := int64(len(m.cfg.Sources))
	m.sources = stack.MustView([]int64{n, int64(m.cfg.Length) * d}, true)

	target, err := pt.InitPrompt(env.Backbone, m.cfg.Length, "vocab", "", 5000, env.Seed)
	if err != nil {
		return err
	}
	m.target = target
	k := int64(m.cfg.Bottleneck)
	// Small random maps (Kaiming-uniform bounds of a Linear): h depends on the input at step 0.
	m.down = uniform([]int64{d, k}, 1/math.Sqrt(float64(d)))
	m.up = uniform([]int64{k, d}, 1/math.Sqrt(float64(k)))
	m.lnW = ts.MustOnes([]int64{d}, gotch.Float, gotch.CPU)
	m.lnB = ts.MustZeros([]int64{d}, gotch.Float, gotch.CPU)
	for _, t := range []*ts.Tensor{m.down, m.up, m.lnW, m.lnB} {
		t.MustRequiresGrad_(true)
	}
	return nil
}

func uniform(shape []int64, bound float64) *ts.Tensor {
	t := ts.MustRand(shape, gotch.Float, gotch.CPU)
	return t.MustMulScalar(ts.FloatScalar(2*bound), true).MustSubScalar(ts.FloatScalar(bound), true)
}

func (m *Method) ParamGroups() []core.ParamGroup {
	return []core.ParamGroup{
		{Name: "target_prompt", LR: m.cfg.PromptLR, Params: []core.NamedTensor{{Name: "prompt", Tensor: m.target}}},
		{Name: "attention", LR: m.cfg.AttnLR, Params: []core.NamedTensor{
			{Name: "attn.down", Tensor: m.down}, {Name: "attn.up", Tensor: m.up},
			{Name: "attn.ln.weight", Tensor: m.lnW}, {Name: "attn.ln.bias", Tensor: m.lnB}}},
	}
}

// Weights returns the attention weights a [B, n] for a batch (caller drops).
func (m *Method) Weights(in core.Input) *ts.Tensor {
	// x̂: max over real tokens (padding set to the lowest float first).
	mask := in.Mask.MustUnsqueeze(-1, false) // [B, L, 1]
	pad := mask.MustRsubScalar(ts.FloatScalar(1), false).MustMulScalar(ts.FloatScalar(-math.MaxFloat32), true)
	masked := in.Embeds.MustAdd(pad, false)
	pad.MustDrop()
	mask.MustDrop()
	x := masked.MustAmax([]int64{1}, false, true) // [B, d]
	hidden := x.MustMatmul(m.down, true).MustSilu(true)
	h := hidden.MustMatmul(m.up, true)
	normed := ts.MustLayerNorm(h, []int64{m.d}, m.lnW, m.lnB, 1e-5, false)
	h.MustDrop()
	keysT := m.sourceKeys.MustTranspose(0, 1, false)
	scores := normed.MustMatmul(keysT, true).MustDivScalar(ts.FloatScalar(m.cfg.Temperature), true) // [B, n]
	keysT.MustDrop()
	return scores.MustSoftmax(-1, gotch.Float, true)
}

// Transform builds each example's prompt Σ_j a_j P_j + P_t and prepends it.
func (m *Method) Transform(in core.Input, train bool) (core.Input, error) {
	a := m.Weights(in)
	B := a.MustSize()[0]
	mixed := a.MustMatmul(m.sources, false).MustView([]int64{B, int64(m.cfg.Length), m.d}, true) // [B, l, d]
	if m.recordWeight {
		m.LastWeights = core.Float32s(a)
	}
	a.MustDrop()
	prompt := mixed.MustAdd(m.target, true)
	defer prompt.MustDrop()
	return core.PrependPrompt(in, prompt)
}

// RecordWeights keeps each batch's attention weights in LastWeights.
func (m *Method) RecordWeights(on bool) { m.recordWeight = on }

func (m *Method) Close() {
	for _, t := range []*ts.Tensor{m.sources, m.sourceKeys, m.target, m.down, m.up, m.lnW, m.lnB} {
		if t != nil {
			t.MustDrop()
		}
	}
	*m = Method{cfg: m.cfg}
}
