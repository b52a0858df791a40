// Package adapter is the Houlsby adapter (Houlsby et al., 2019) on the backbone's sublayers,
// as the Compacter and ATTEMPT code bases run it for T5 (rabeehk/compacter
// seq2seq/configs/adapters.json, AkariAsai/ATTEMPT attempt/configs/baselines/adapter.json).
//
// After the self-attention and the feed-forward sublayer of every block of both stacks (not
// cross-attention), on the sublayer's output h before dropout and the residual:
//
//	h' = h + W_up · gelu_new(W_down · h + b_down) + b_up     W_down ∈ R^{b×d}, W_up ∈ R^{d×b}
//
// with bottleneck b = d/32 (task_reduction_factor 32: 24 on t5-base). Every layer-norm weight
// of the backbone (unfreeze_layer_norms) is trained too. Init as the reference's
// _init_weights: W_down, W_up ~ N(0, 10⁻²), biases zero — so the model at step 0 is close
// to, not exactly, the frozen backbone (up_std 0 gives the exact identity). One learning
// rate, 3e-4, for adapters and norms (the reference has a single optimizer group).
//
// Trainable parameters: (2·d·b + b + d) per adapter plus the norms; on t5-base
// 48 adapters × 37,656 + 62 norms × 768 = 1,855,104.
//
// The adapter module itself is Adapter (methods/internal/adapters.Bottleneck), which other
// methods reuse (HyperDecoder's encoder adapters): NewAdapter(device, site, spec), Apply(h),
// Params(prefix), Close().
//
// Training the norms changes backbone weights, so the method declares core.WeightEditor and
// the harness restores them after the run. Sites are chosen by role (self_attention, ffn),
// stack and layer, so the same code runs on every backbone listing sublayer and norm sites.
// New with a positive dropBelow leaves out the adapters of the lowest blocks of each stack
// (AdapterDrop, methods/adapterdrop).
package adapter

import (
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/methods/internal/adapters"
)

// Adapter is one bottleneck adapter at one sublayer site (shared with other methods).
type Adapter = adapters.Bottleneck

// Spec is an adapter's bottleneck, activation and initialisation.
type Spec = adapters.Spec

// NewAdapter makes the adapter of a sublayer site (width site.Out) on d; its tensors require
// grad.
func NewAdapter(d core.Device, site core.HookSite, spec Spec) (*Adapter, error) {
	return adapters.New(d, site, spec)
}

// Config is the adapter's hyperparameters; each field's doc tag is its line in `ptbench
// methods adapter`.
type Config struct {
	Bottleneck  int     `json:"bottleneck" check:">0" doc:"b, the adapter's hidden size"`
	Activation  string  `json:"activation" doc:"the adapter's nonlinearity: relu, gelu_new, gelu or silu"`
	LR          float64 `json:"lr" check:"finite>0" doc:"learning rate of the adapters"`
	NormLR      float64 `json:"norm_lr" check:"finite>0" doc:"learning rate of the backbone's layer norms"`
	InitStd     float64 `json:"init_std" check:"finite>=0" doc:"std of W_down at initialisation"`
	UpStd       float64 `json:"up_std" check:"finite>=0" doc:"std of W_up at initialisation (0: zeros, the adapter starts as the identity)"`
	WeightDecay float64 `json:"weight_decay" check:"finite>=0" doc:"AdamW weight decay"`
}

// DefaultConfig is the reference setting: bottleneck 24 (d/32), gelu_new, both weight
// matrices N(0, 10⁻²), one learning rate 3e-4 for adapters and layer norms.
func DefaultConfig() Config {
	return Config{Bottleneck: 24, Activation: string(adapters.GeLUNew), LR: 3e-4, NormLR: 3e-4, InitStd: 1e-2, UpStd: 1e-2}
}

// Spec is the per-adapter part of the config.
func (c Config) Spec() Spec {
	return Spec{Bottleneck: c.Bottleneck, Activation: adapters.Activation(c.Activation), DownStd: c.InitStd, UpStd: c.UpStd}
}

// Validate checks the activation by its own list (adapters.Activation); the check tags
// hold the rest. AdapterDrop's config inherits it.
func (c Config) Validate() error { return adapters.Activation(c.Activation).Validate() }

func init() {
	core.RegisterConfigured(core.Description{
		Name: "adapter", Label: "Adapter", Family: core.FamilyBackbone,
		// AdamW's ε as the reference trains it: Compacter's and ATTEMPT's adapter configs run under
		// Hugging Face's Trainer: TrainingArguments.adam_epsilon, 1e-8 (docs/fidelity.md).
		AdamEps: 1e-8,
		About:   "Houlsby adapter: h + W_up gelu_new(W_down h + b_down) + b_up after self-attention and FFN of every block; layer norms trained",
		// Estimated from what a step computes: no prompt lengthens the input.
		StepCost: 0.8,
	}, DefaultConfig, func(c Config) core.Method { return New(c, 0) })
}

// Method is the Houlsby adapter (optionally without the lowest blocks' adapters).
type Method struct {
	cfg       Config
	dropBelow int
	adapters  []*Adapter
	bySite    map[string]*Adapter
	norms     []core.NamedTensor // the backbone's layer-norm weights (borrowed)
}

// New builds an adapter method; blocks with Layer < dropBelow get no adapter (AdapterDrop).
func New(cfg Config, dropBelow int) *Method { return &Method{cfg: cfg, dropBelow: dropBelow} }

func (m *Method) Config() any        { return m.cfg }
func (m *Method) EditsWeights() bool { return true }

// Adapters lists the adapters in backbone order.
func (m *Method) Adapters() []*Adapter { return m.adapters }

// Setup makes an adapter for every self-attention and FFN sublayer site at or above
// dropBelow and unfreezes every layer-norm weight.
func (m *Method) Setup(env core.SetupEnv) error {
	weights := map[string]*ts.Tensor{}
	for _, w := range env.Backbone.Weights() {
		weights[w.Name] = w.Tensor
	}
	m.bySite = map[string]*Adapter{}
	for _, s := range env.Backbone.HookSites() {
		switch {
		case s.Kind == core.HookNorm:
			w, ok := weights[s.Name+".weight"]
			if !ok {
				return fmt.Errorf("adapter: norm site %s has no backbone weight %s.weight", s.Name, s.Name)
			}
			if err := w.RequiresGrad_(true); err != nil {
				return err
			}
			m.norms = append(m.norms, core.NamedTensor{Name: s.Name + ".weight", Tensor: w})
		case s.Kind == core.HookSublayer && (s.Role == core.RoleSelfAttn || s.Role == core.RoleFFN) && s.Layer >= m.dropBelow:
			a, err := NewAdapter(env.Backbone.Device(), s, m.cfg.Spec())
			if err != nil {
				return err
			}
			m.adapters = append(m.adapters, a)
			m.bySite[s.Name] = a
		}
	}
	if len(m.adapters) == 0 && m.dropBelow == 0 {
		return fmt.Errorf("adapter: the backbone has no self-attention or FFN sublayer site")
	}
	// With dropBelow at or above the backbone's depth (AdapterDrop k = 5 on a 2-block model)
	// no adapter is left and only the layer norms train.
	return nil
}

// ParamGroups is the adapters at lr and the layer norms at norm_lr; weight decay as the
// reference's Trainer applies it: not on the adapters' biases, on T5's layer norms.
func (m *Method) ParamGroups() []core.ParamGroup {
	g := core.ParamGroup{Name: "adapters", LR: m.cfg.LR, WeightDecay: m.cfg.WeightDecay}
	for _, a := range m.adapters {
		g.Params = append(g.Params, a.Params(a.Site.Name+".adapter.")...)
	}
	return append(core.WithoutBiasDecay(g), core.ParamGroup{Name: "layer_norms", LR: m.cfg.NormLR, WeightDecay: m.cfg.WeightDecay, Params: m.norms})
}

// ConfigRevision (core.RevisedConfig) is 1 with weight decay: the adapters' biases were
// decayed and the layer norms not before they followed the reference's Trainer. Without decay
// nothing changed.
func (c Config) ConfigRevision() int {
	if c.WeightDecay > 0 {
		return 1
	}
	return 0
}

// Hooks applies the adapter of the sublayer, if it has one. A libtorch error panics with
// the error (hooks cannot return one; the trainer recovers it as the run's error).
func (m *Method) Hooks() *core.Hooks {
	return &core.Hooks{Sublayer: func(c core.HookCall, h *ts.Tensor) *ts.Tensor {
		a, ok := m.bySite[c.Site]
		if !ok {
			return h
		}
		out, err := a.Apply(h)
		if err != nil {
			panic(fmt.Errorf("adapter at %s: %w", c.Site, err))
		}
		return out
	}}
}

// Close frees the adapters; the layer norms belong to the backbone (the harness refreezes
// and restores them).
func (m *Method) Close() {
	for _, a := range m.adapters {
		a.Close()
	}
	m.adapters, m.bySite, m.norms = nil, nil, nil
}
