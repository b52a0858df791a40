// Package adapter is the Houlsby adapter (Houlsby et al., 2019) on the backbone's sublayers.
//
// After the self-attention and the feed-forward sublayer of every block of both stacks (not
// cross-attention), on the sublayer's output h before dropout and the residual:
//
//	h' = h + W_up · ReLU(W_down · h + b_down) + b_up     W_down ∈ R^{b×d}, W_up ∈ R^{d×b}
//
// with bottleneck b (default 24 = 768/32). Every layer-norm weight of the backbone (the
// weight of each norm hook site, named site + ".weight") is trained too. Init: W_down
// ~ N(0, 10⁻²) (Houlsby's near-identity scale, untruncated), b_down, W_up, b_up zeros — so
// at initialisation the model is exactly the frozen backbone.
//
// Trainable parameters: (2·d·b + b + d) per adapter plus the norms; on t5-base
// 48 adapters × 37,656 + 62 norms × 768 = 1,855,104.
//
// Training the norms changes backbone weights, so the method declares core.WeightEditor and
// the harness restores them after the run. Sites are chosen by role (self_attention, ffn),
// stack and layer, so the same code runs on every backbone listing sublayer and norm sites.
// New with a positive dropBelow leaves out the adapters of the lowest blocks of each stack
// (AdapterDrop, methods/adapterdrop).
package adapter

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// Config is the adapter's hyperparameters.
type Config struct {
	Bottleneck  int     `json:"bottleneck"` // b
	LR          float64 `json:"lr"`         // adapters' learning rate
	NormLR      float64 `json:"norm_lr"`    // layer norms' learning rate
	InitStd     float64 `json:"init_std"`   // std of W_down
	WeightDecay float64 `json:"weight_decay"`
}

// DefaultConfig is bottleneck 24 at lr 1e-3, the top of Houlsby et al.'s learning-rate grid
// {3e-5, 1e-4, 3e-4, 1e-3}: with W_up = 0 and W_down ~ N(0, 10⁻²) the adapters start slowly,
// and at 3e-4 a 300-step smoke run on t5-tiny never leaves the frozen model's outputs.
func DefaultConfig() Config {
	return Config{Bottleneck: 24, LR: 1e-3, NormLR: 1e-3, InitStd: 1e-2}
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Validate rejects settings that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Bottleneck <= 0:
		return fmt.Errorf("bottleneck must be > 0, got %d", c.Bottleneck)
	case !finite(c.LR) || c.LR <= 0:
		return fmt.Errorf("lr must be a finite number > 0, got %g", c.LR)
	case !finite(c.NormLR) || c.NormLR <= 0:
		return fmt.Errorf("norm_lr must be a finite number > 0, got %g", c.NormLR)
	case !finite(c.InitStd) || c.InitStd < 0:
		return fmt.Errorf("init_std must be a finite number >= 0, got %g", c.InitStd)
	case !finite(c.WeightDecay) || c.WeightDecay < 0:
		return fmt.Errorf("weight_decay must be a finite number >= 0, got %g", c.WeightDecay)
	}
	return nil
}

func init() {
	core.RegisterConfigured("adapter", "Houlsby adapter: h + W_up ReLU(W_down h + b_down) + b_up after self-attention and FFN of every block; layer norms trained",
		DefaultConfig, func(c Config) core.Method { return New(c, 0) })
}

// Adapter is one bottleneck module.
type Adapter struct {
	Site                 core.HookSite
	Down, DownB, Up, UpB *ts.Tensor // [b, d], [b], [d, b], [d]
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
func (m *Method) Label() string      { return "Adapter" }
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
	b := int64(m.cfg.Bottleneck)
	for _, s := range env.Backbone.HookSites() {
		switch {
		case s.Kind == core.HookNorm:
			w, ok := weights[s.Name+".weight"]
			if !ok {
				return fmt.Errorf("adapter: norm site %s has no backbone weight %s.weight", s.Name, s.Name)
			}
			w.MustRequiresGrad_(true)
			m.norms = append(m.norms, core.NamedTensor{Name: s.Name + ".weight", Tensor: w})
		case s.Kind == core.HookSublayer && (s.Role == core.RoleSelfAttn || s.Role == core.RoleFFN) && s.Layer >= m.dropBelow:
			d := s.Out
			a := &Adapter{Site: s}
			a.Down = ts.MustRandn([]int64{b, d}, gotch.Float, gotch.CPU).MustMulScalar(ts.FloatScalar(m.cfg.InitStd), true)
			a.DownB = ts.MustZeros([]int64{b}, gotch.Float, gotch.CPU)
			a.Up = ts.MustZeros([]int64{d, b}, gotch.Float, gotch.CPU)
			a.UpB = ts.MustZeros([]int64{d}, gotch.Float, gotch.CPU)
			for _, t := range []*ts.Tensor{a.Down, a.DownB, a.Up, a.UpB} {
				t.MustRequiresGrad_(true)
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

func (m *Method) ParamGroups() []core.ParamGroup {
	g := core.ParamGroup{Name: "adapters", LR: m.cfg.LR, WeightDecay: m.cfg.WeightDecay}
	for _, a := range m.adapters {
		p := a.Site.Name + ".adapter."
		g.Params = append(g.Params,
			core.NamedTensor{Name: p + "down.weight", Tensor: a.Down}, core.NamedTensor{Name: p + "down.bias", Tensor: a.DownB},
			core.NamedTensor{Name: p + "up.weight", Tensor: a.Up}, core.NamedTensor{Name: p + "up.bias", Tensor: a.UpB})
	}
	return []core.ParamGroup{g, {Name: "layer_norms", LR: m.cfg.NormLR, Params: m.norms}}
}

// Hooks applies the adapter of the sublayer, if it has one.
func (m *Method) Hooks() *core.Hooks {
	return &core.Hooks{Sublayer: func(c core.HookCall, h *ts.Tensor) *ts.Tensor {
		a, ok := m.bySite[c.Site]
		if !ok {
			return h
		}
		z := ts.MustLinear(h, a.Down, a.DownB).MustRelu(true)
		u := ts.MustLinear(z, a.Up, a.UpB)
		z.MustDrop()
		out := h.MustAdd(u, false)
		u.MustDrop()
		return out
	}}
}

// Close frees the adapters; the layer norms belong to the backbone (the harness refreezes
// and restores them).
func (m *Method) Close() {
	for _, a := range m.adapters {
		for _, t := range []*ts.Tensor{a.Down, a.DownB, a.Up, a.UpB} {
			t.MustDrop()
		}
	}
	m.adapters, m.bySite, m.norms = nil, nil, nil
}
