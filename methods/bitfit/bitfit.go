// Package bitfit is BitFit (Ben Zaken et al., 2022) for backbones without biases.
//
// T5 has no bias terms, so BitFit adds one, zero-initialised, at every attention and FFN
// linear (roles q, k, v, o, ffn_in, ffn_out), every block's layer norms (norm sites; not a
// stack's final norm, which the reference builds without its bitfit option) and the LM head,
// and trains only those:
//
//	y = W x + b          (linear sites)
//	n = RMSNorm(x)·w + b (norm sites)
//
// b ∈ R^{out} starts at 0, so at initialisation the model is exactly the frozen backbone. No
// backbone weight changes. On t5-base: 36 attentions (12 encoder self, 12 decoder self, 12
// cross) × 4 × 768 + 24 FFNs × (3072 + 768) + 60 norms × 768 + 32,128 (LM head) = 280,960
// trainable parameters.
//
// This is the Compacter code base's BitFit for T5 (rabeehk/compacter
// seq2seq/third_party/models/t5/modeling_t5.py: bias=True on q, k, v, o, wi, wo and lm_head
// and a bias on T5LayerNorm when bitfit is set — its blocks' norms, built with the adapter
// config, not T5Stack's final_layer_norm, built without; seq2seq/utils/utils.py trains every ".bias"
// and, with freeze_bitfit_lm_head, the LM head's bias only), whose _init_weights zeroes an
// nn.Linear's bias, at its configs' learning rate 3e-4 (seq2seq/configs/bitfit.json,
// AkariAsai/ATTEMPT attempt/configs/baselines/bitfit.json).
package bitfit

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// Config is BitFit's hyperparameters; each field's doc tag is its line in `ptbench methods
// bitfit`.
type Config struct {
	LR          float64 `json:"lr" check:"finite>0" doc:"learning rate of the biases"`
	WeightDecay float64 `json:"weight_decay" check:"finite>=0" doc:"AdamW weight decay: must stay 0 (the reference never decays a bias)"`
}

// DefaultConfig is the reference configs' lr 3e-4, no weight decay.
func DefaultConfig() Config { return Config{LR: 3e-4} }

func init() {
	core.RegisterConfigured(core.Description{
		Name: "bitfit", Label: "BitFit", Family: core.FamilyBackbone,
		// AdamW's ε as the reference trains it: Compacter's and ATTEMPT's bitfit.json run under Hugging
		// Face's Trainer: TrainingArguments.adam_epsilon, 1e-8 (docs/fidelity.md).
		AdamEps: 1e-8,
		About:   "BitFit: zero-initialised biases on every attention/FFN linear, block layer norm and the LM head; only they train",
		// 1: a stack's final layer norm has no bias (it had one; the reference's has none).
		Revision: 1,
		// Estimated from what a step computes: no prompt lengthens the input.
		StepCost: 0.8,
	}, DefaultConfig, func(c Config) core.Method { return &Method{cfg: c} })
}

// roles are the linear sites that get a bias.
var roles = map[core.HookRole]bool{core.RoleQ: true, core.RoleK: true, core.RoleV: true, core.RoleO: true,
	core.RoleFFNIn: true, core.RoleFFNOut: true, core.RoleLMHead: true}

// Method is BitFit.
type Method struct {
	cfg    Config
	biases []core.NamedTensor
	bySite map[string]*ts.Tensor
}

func (m *Method) Config() any { return m.cfg }

// Setup makes a zero bias for every biased site.
func (m *Method) Setup(env core.SetupEnv) error {
	m.bySite = map[string]*ts.Tensor{}
	sites := env.Backbone.HookSites()
	blocks := map[string]int{} // stack → its number of blocks; its final norm has Layer = that
	for _, s := range sites {
		if s.Kind == core.HookSublayer {
			blocks[s.Stack] = max(blocks[s.Stack], s.Layer+1)
		}
	}
	for _, s := range sites {
		if !(s.Kind == core.HookLinear && roles[s.Role]) && s.Kind != core.HookNorm {
			continue
		}
		if s.Kind == core.HookNorm && s.Layer >= blocks[s.Stack] {
			continue // the reference's final_layer_norm is a T5LayerNorm without bitfit
		}
		b := ts.MustZeros([]int64{s.Out}, gotch.Float, env.Backbone.Device().Torch())
		b.MustRequiresGrad_(true)
		m.biases = append(m.biases, core.NamedTensor{Name: s.Name + ".bias", Tensor: b})
		m.bySite[s.Name] = b
	}
	if len(m.biases) == 0 {
		return fmt.Errorf("bitfit: the backbone lists no linear or norm hook sites")
	}
	return nil
}

func (m *Method) ParamGroups() []core.ParamGroup {
	return []core.ParamGroup{{Name: "biases", LR: m.cfg.LR, Params: m.biases}}
}

// Validate refuses weight decay: BitFit trains only biases, and the reference's Trainer never
// decays a parameter named "bias" (core.WithoutBiasDecay), so a decay would do nothing there.
func (c Config) Validate() error {
	if c.WeightDecay != 0 {
		return fmt.Errorf("weight_decay %g: BitFit trains only biases, which the reference's trainer (Hugging Face's) never decays; leave it 0", c.WeightDecay)
	}
	return nil
}

// Hooks adds each site's bias to its output.
func (m *Method) Hooks() *core.Hooks {
	add := func(c core.HookCall, y *ts.Tensor) *ts.Tensor {
		if b, ok := m.bySite[c.Site]; ok {
			return y.MustAdd(b, false)
		}
		return y
	}
	return &core.Hooks{
		Linear: func(c core.HookCall, x, y *ts.Tensor) *ts.Tensor { return add(c, y) },
		Norm:   add,
	}
}

func (m *Method) Close() {
	core.DropNamed(m.biases)
	m.biases, m.bySite = nil, nil
}
