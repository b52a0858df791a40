// Package lora is low-rank adaptation (Hu et al., 2022) of the backbone's linear maps.
//
// On every linear hook site whose role is one of Config.Targets (default q and v, on every
// attention of both stacks, self and cross, as PEFT's default for T5), the frozen map
// y = W x becomes
//
//	y = W x + (α/r) · B A dropout(x)      A ∈ R^{r×in}, B ∈ R^{out×r}
//
// with dropout on x only in training steps (rate Config.Dropout, default 0). Init as PEFT:
// A Kaiming-uniform(a = √5), i.e. U(±1/√in), B zeros — so at initialisation the model is
// exactly the frozen backbone. Trainable parameters: r·(in + out) per site; with r = 8 on q
// and v of t5-base: 36 attentions (12 encoder self, 12 decoder self, 12 cross) × 2 ×
// 8·(768 + 768) = 884,736. The 3.8M that DePT's and EPT's tables quote for LoRA (taken from
// MPT's table) matches no configuration in the DePT, ATTEMPT or EPT sources, nor any
// standard rank and target set on T5-Base (r 16 on q, k, v, o or r 32 on q, v give
// 3,538,944); docs/fidelity.md says more.
//
// Merging (Config.Merge): evaluation batches run with W' = W + (α/r)·B A written into the
// backbone's weights (the site's weight is the backbone weight named site + ".weight") and
// the hook passes y through; training batches restore W first. Outputs equal the unmerged
// model's within float32 rounding (1e-5). A merged LoRA edits the backbone, so it declares
// core.WeightEditor and the harness restores the weights after the run; unmerged it does
// not.
//
// PEFT: LoRA exports to and imports from Hugging Face PEFT's LORA (ExportPEFT, ImportPEFT,
// InitFromPEFT for `ptbench run --init-from`): A and B under
// base_model.model.<site>.lora_A.weight / .lora_B.weight, lora_alpha = α, r = rank,
// target_modules the adapted modules' names (["q", "v"] by default) — see package peft.
package lora

import (
	"fmt"
	"math"
	"slices"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/methods/internal/params"
	"github.com/ptbench/ptbench/peft"
)

// Config is LoRA's hyperparameters; each field's doc tag is its line in `ptbench methods lora`.
type Config struct {
	Rank        int      `json:"rank" check:">0" doc:"r, the rank of B A"`
	Alpha       float64  `json:"alpha" check:"finite>0" doc:"α; the update is scaled by α/r"`
	Dropout     float64  `json:"dropout" check:"in[0,1)" doc:"dropout on x before A in training steps"`
	Targets     []string `json:"targets" check:"nonempty distinct" doc:"roles of the linear sites to adapt (q, k, v, o, ffn_in, ffn_out, lm_head)"`
	LR          float64  `json:"lr" check:"finite>0" doc:"learning rate of A and B"`
	WeightDecay float64  `json:"weight_decay" check:"finite>=0" doc:"AdamW weight decay of A and B"`
	Merge       bool     `json:"merge" doc:"evaluate with B A merged into W"`
}

// DefaultConfig is PEFT's LoraConfig default for T5: r 8, lora_alpha 8 (scaling 1) on q and v.
func DefaultConfig() Config {
	return Config{Rank: 8, Alpha: 8, Targets: []string{string(core.RoleQ), string(core.RoleV)}, LR: 5e-4}
}

var linearRoles = []core.HookRole{core.RoleQ, core.RoleK, core.RoleV, core.RoleO, core.RoleFFNIn, core.RoleFFNOut, core.RoleLMHead}

// Validate checks the targets against core's linear roles (the one list of them); the check
// tags hold the rest.
func (c Config) Validate() error {
	for _, t := range c.Targets {
		if !slices.Contains(linearRoles, core.HookRole(t)) {
			return fmt.Errorf("targets: %q is not a linear role (%v)", t, linearRoles)
		}
	}
	return nil
}

func init() {
	core.RegisterConfigured(core.Description{
		Name: "lora", Label: "LoRA", Family: core.FamilyBackbone,
		About: "LoRA (Hu et al. 2022): W x + (α/r)·B A x on the q and v projections of every attention",
		// Estimated from what a step computes: no prompt lengthens the input.
		StepCost: 0.8,
		PEFT:     peft.LoRA,
		Tensors: &core.TensorDoc{
			Equation: "y = W x + (α/r)·B A dropout(x) at every adapted linear site   (LoRA, Hu et al. 2022)",
			Tensors: []core.TensorRole{
				{Pattern: "*.lora_A", Role: "A ∈ R^{r×in}: the site's down projection"},
				{Pattern: "*.lora_B", Role: "B ∈ R^{out×r}: the site's up projection"},
			},
		},
	}, DefaultConfig, func(c Config) core.Method { return &Method{cfg: c} })
}

// pair is one adapted site.
type pair struct {
	site   string
	a, b   *ts.Tensor // [r, in], [out, r]
	weight *ts.Tensor // the backbone's W [out, in] (merge only; borrowed)
	orig   *ts.Tensor // a copy of W before merging (merge only; owned)
}

// Method is LoRA.
type Method struct {
	cfg    Config
	pairs  []*pair
	bySite map[string]*pair
	merged bool
	init   *peft.Adapter // loaded at the end of Setup (InitFromPEFT)
}

func (m *Method) Config() any        { return m.cfg }
func (m *Method) EditsWeights() bool { return m.cfg.Merge }

// Sites lists the adapted site names in backbone order.
func (m *Method) Sites() []string {
	out := make([]string, len(m.pairs))
	for i, p := range m.pairs {
		out[i] = p.site
	}
	return out
}

// Setup makes A and B for every linear site whose role is a target.
func (m *Method) Setup(env core.SetupEnv) error {
	targets := map[core.HookRole]bool{}
	for _, t := range m.cfg.Targets {
		targets[core.HookRole(t)] = true
	}
	var weights map[string]*ts.Tensor
	if m.cfg.Merge {
		weights = map[string]*ts.Tensor{}
		for _, w := range env.Backbone.Weights() {
			weights[w.Name] = w.Tensor
		}
	}
	m.bySite = map[string]*pair{}
	r := int64(m.cfg.Rank)
	dev := env.Backbone.Device()
	for _, s := range env.Backbone.HookSites() {
		if s.Kind != core.HookLinear || !targets[s.Role] {
			continue
		}
		p := &pair{site: s.Name}
		bound := 1 / math.Sqrt(float64(s.In)) // kaiming_uniform_(a=√5) on an [r, in] weight
		// Drawn on the CPU, then moved: the same values on every device (core.Device.Param).
		a, err := ts.Zeros([]int64{r, s.In}, gotch.Float, gotch.CPU)
		if err != nil {
			return err
		}
		if err := a.Uniform_(-bound, bound); err != nil {
			a.MustDrop()
			return err
		}
		if p.a, err = dev.Param(a); err != nil {
			return err
		}
		if p.b, err = ts.Zeros([]int64{s.Out, r}, gotch.Float, dev.Torch()); err != nil {
			p.a.MustDrop()
			return err
		}
		p.b.MustRequiresGrad_(true)
		m.pairs = append(m.pairs, p)
		m.bySite[s.Name] = p
		if m.cfg.Merge {
			w, ok := weights[s.Name+".weight"]
			if !ok {
				return fmt.Errorf("lora: merge: site %s has no backbone weight %s.weight", s.Name, s.Name)
			}
			p.weight, p.orig = w, w.MustDetachCopy(false)
		}
	}
	if len(m.pairs) == 0 {
		return fmt.Errorf("lora: the backbone has no linear site with a role in %v", m.cfg.Targets)
	}
	if m.init != nil {
		return peft.Load(m, m.init, env.Backbone.Info())
	}
	return nil
}

func (m *Method) ParamGroups() []core.ParamGroup {
	g := core.ParamGroup{Name: "lora", LR: m.cfg.LR, WeightDecay: m.cfg.WeightDecay}
	for _, p := range m.pairs {
		g.Params = append(g.Params, core.NamedTensor{Name: p.site + ".lora_A", Tensor: p.a},
			core.NamedTensor{Name: p.site + ".lora_B", Tensor: p.b})
	}
	return []core.ParamGroup{g}
}

func (m *Method) scale() float64 { return m.cfg.Alpha / float64(m.cfg.Rank) }

// Hooks adds (α/r)·B A x to y at the adapted sites, unless B A is merged into W.
func (m *Method) Hooks() *core.Hooks {
	return &core.Hooks{Linear: func(c core.HookCall, x, y *ts.Tensor) *ts.Tensor {
		p, ok := m.bySite[c.Site]
		if !ok || m.merged {
			return y
		}
		in := x
		if m.cfg.Dropout > 0 && c.Train() {
			in = ts.MustDropout(x, m.cfg.Dropout, true)
		}
		at := p.a.MustTranspose(0, 1, false)
		h := in.MustMatmul(at, false)
		at.MustDrop()
		if in != x {
			in.MustDrop()
		}
		bt := p.b.MustTranspose(0, 1, false)
		d := h.MustMatmul(bt, true)
		bt.MustDrop()
		d = d.MustMulScalar(ts.FloatScalar(m.scale()), true)
		out := y.MustAdd(d, false)
		d.MustDrop()
		return out
	}}
}

// Begin merges B A into W before an evaluation batch (recomputed from the original W every
// time, so restored or updated A and B are always what is merged) and unmerges before a
// training batch. Without Merge it does nothing.
func (m *Method) Begin(b *core.Batch) error {
	if !m.cfg.Merge {
		return nil
	}
	if b.Train {
		m.Unmerge()
		return nil
	}
	m.Merge()
	return nil
}

// Merge writes W + (α/r)·B A into every adapted weight (requires Config.Merge).
func (m *Method) Merge() {
	ts.NoGrad(func() {
		for _, p := range m.pairs {
			if p.orig == nil {
				continue
			}
			ba := p.b.MustMatmul(p.a, false).MustMulScalar(ts.FloatScalar(m.scale()), true)
			w := p.orig.MustAdd(ba, false)
			ba.MustDrop()
			p.weight.Copy_(w)
			w.MustDrop()
		}
	})
	m.merged = true
}

// Unmerge restores the original weights.
func (m *Method) Unmerge() {
	if !m.merged {
		return
	}
	ts.NoGrad(func() {
		for _, p := range m.pairs {
			if p.orig != nil {
				p.weight.Copy_(p.orig)
			}
		}
	})
	m.merged = false
}

func (m *Method) Close() {
	for _, p := range m.pairs {
		params.Drop(&p.a, &p.b, &p.orig)
	}
	m.pairs, m.bySite, m.merged = nil, nil, false
}
