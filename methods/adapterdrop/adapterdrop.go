// Package adapterdrop is AdapterDrop (Rücklé et al., 2021): the Houlsby adapter of
// methods/adapter with the adapters of the lowest k blocks of each stack removed, in training
// and evaluation alike (default k = 5). The layer norms stay trainable. This is the
// Compacter code base's setting (rabeehk/compacter seq2seq/configs/adapters_drop.json:
// task_adapter_layers_encoder/decoder [5 … 11], gelu_new, reduction factor 32, lr 3e-4),
// whose adapter settings and initialisation are the adapter method's defaults.
//
//	h' = h                                                   (block < k)
//	h' = h + W_up · gelu_new(W_down · h + b_down) + b_up     (block ≥ k)
//
// On t5-base (12 + 12 blocks): 28 adapters × 37,656 + 62 norms × 768 = 1,101,984 trainable
// parameters.
package adapterdrop

import (
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/methods/adapter"
)

// Config is the adapter's settings plus k.
type Config struct {
	adapter.Config
	K int `json:"k" check:">=0" doc:"blocks 0..k-1 of each stack get no adapter"`
}

// DefaultConfig is the adapter's defaults with k = 5.
func DefaultConfig() Config { return Config{Config: adapter.DefaultConfig(), K: 5} }

func init() {
	core.RegisterConfigured(core.Description{
		Name: "adapterdrop", Label: "AdapterDrop", Family: core.FamilyBackbone,
		// AdamW's ε as the reference trains it: Compacter's adapters_drop.json runs under its Trainer,
		// eps=args.adam_epsilon: 1e-8 (docs/fidelity.md).
		AdamEps: 1e-8,
		About:   "AdapterDrop: the Houlsby adapter (gelu_new) without the adapters of the lowest k blocks of each stack",
		// Estimated: the adapter's step without the lowest blocks' adapters.
		StepCost: 0.75,
	}, DefaultConfig, func(c Config) core.Method { return &Method{Method: adapter.New(c.Config, c.K), cfg: c} })
}

// Method is an adapter.Method that drops the lowest k blocks' adapters.
type Method struct {
	*adapter.Method
	cfg Config
}

func (m *Method) Config() any { return m.cfg }
