// Package ept is this project's reconstruction of EPT — efficient prompt tuning by
// multi-space projection and prompt fusion (Lan et al., AAAI 2025). The paper released no
// code; leaderboards label it "EPT (reimpl.)". Four stages, as this package reads the paper:
//
//  1. Decomposition (exactly DePT): short prompt P_s ∈ R^{m×d}, A ∈ R^{s×r}, B ∈ R^{r×d};
//     E' = E + (α/√r)·(A B)[pos]   (each token's row by its position in the source).
//  2. Fusion: P_s attends over the low-rank knowledge K = V = (α/√r)·A B ∈ R^{s×d}:
//     F = softmax(P_s Kᵀ / √d) V,  P_f = P_s + F.
//     Options (fusion_kv): "ab" (default), "b" (K = V = B), "prompt_ab" (K = V = [P_s ; A B]).
//  3. Multi-space projection: N spaces (default 4) of rank k (default 8):
//     P^{(i)} = P_f W_down^{(i)} W_up^{(i)};
//     gate "pooled" (default): g = softmax(W_g · mean_rows(P_f) + b_g) ∈ R^N,
//     gate "token": g = softmax(P_f W_gᵀ + b_g) ∈ R^{m×N};
//     P_ms = Σ_i g_i P^{(i)}.
//  4. Reconstructed prompt: P* = P_f + P_ms;  H0 = [P* ; E'].
//
// Init: P_s as DePT's (by default the embedding of DePT's instruction text, as DePT's scripts
// run it; the EPT paper follows DePT's setup), A Kaiming-uniform, B zeros, W_up zeros, W_g
// and b_g zeros, so at step 0 A B = 0,
// F = 0 (fusion keys ab or b; prompt_ab attends over P_s too, so its F is not 0), P_ms = 0
// and EPT equals PT with the short prompt P_s. LR groups: prompt
// (3e-1); projection and gate (proj_lr, default 1e-2 — the spec groups them with the prompt;
// see Config.ProjLR for why they get their own rate); A and B (1e-4).
package ept

import (
	"math"
	"slices"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/methods/dept"
	"github.com/ptbench/ptbench/methods/internal/params"
)

// Config is EPT's hyperparameters: DePT's plus fusion and projection choices; each field's doc
// tag is its line in `ptbench methods ept`.
type Config struct {
	dept.Config
	Spaces     int    `json:"spaces" check:">0" doc:"N, the number of projection spaces"`
	ProjRank   int    `json:"proj_rank" check:">0" doc:"k, the rank of each space's W_down W_up"`
	Gate       string `json:"gate" check:"oneof=pooled|token" doc:"gate over the spaces: pooled (one weight per space) or token (per prompt token)"`
	FusionKV   string `json:"fusion_kv" check:"oneof=ab|b|prompt_ab" doc:"fusion keys and values: ab (α/√r·A B), b (B) or prompt_ab ([P_s ; A B])"`
	Fusion     *bool  `json:"fusion" doc:"ablation: false skips the fusion stage"`
	Projection *bool  `json:"projection" doc:"ablation: false skips the multi-space projection stage"`
	// ProjLR is the learning rate of W_down, W_up, W_g, b_g (0 = lr, the prompt's: the spec's
	// grouping). Default 1e-2: with Adam at the prompt's 0.3 both factors of W_down·W_up move
	// by ~0.3 per step, their product grows multiplicatively, and training stalls (measured
	// on t5-tiny: syn-keyword loss 2.52 / accuracy 0 at 0.3 vs 0.52 / 98% at 1e-2, RTE loss
	// stuck at 2.8 at 0.3).
	ProjLR float64 `json:"proj_lr" check:">=0" doc:"learning rate of the projections and the gate (0: lr, the prompt's)"`
	// Sources, if set, start every EPT tensor from an EPT trained multi-task on these tasks
	// (SPoT-style transfer, as the paper's few-shot EPT starts from source-pretrained
	// prompts; source.go).
	Sources     []string `json:"sources,omitempty" check:"each=nonempty" doc:"source tasks of a multi-task EPT run whose tensors initialise this one (empty: from scratch)"`
	SourceSeed  int64    `json:"source_seed,omitempty" doc:"seed of the source run (0: 42, fixed across target seeds)"`
	SourceSteps int      `json:"source_steps,omitempty" check:">=0" doc:"training steps of the source run (0: the run's --steps)"`
}

// keyConfig is Config as run keys hash it: DePT's part under its names from before the
// rename (dept.KeyConfig), EPT's own as they are, in the same order, so every EPT run kept
// its key.
type keyConfig struct {
	dept.KeyConfig
	Spaces     int     `json:"spaces"`
	ProjRank   int     `json:"proj_rank"`
	Gate       string  `json:"gate"`
	FusionKV   string  `json:"fusion_kv"`
	Fusion     *bool   `json:"fusion"`
	Projection *bool   `json:"projection"`
	ProjLR     float64 `json:"proj_lr"`
	// Source transfer (added later; omitted when unset so earlier runs keep their keys).
	Sources     []string `json:"sources,omitempty"`
	SourceSeed  int64    `json:"source_seed,omitempty"`
	SourceSteps int      `json:"source_steps,omitempty"`
}

// DefaultConfig is the paper's setting: DePT (60, 30), 4 spaces, rank 8.
func DefaultConfig() Config {
	on := true
	on2 := true
	return Config{Config: dept.DefaultConfig(), Spaces: 4, ProjRank: 8, Gate: "pooled", FusionKV: "ab", Fusion: &on, Projection: &on2, ProjLR: 1e-2}
}

func init() {
	core.RegisterConfigured(core.Description{
		Name: "ept", Label: "EPT (reimpl.)", Family: core.FamilyInput,
		About: "EPT (reimpl.; Lan et al. 2025): DePT decomposition + prompt fusion + gated multi-space projection",
		// Measured: DePT's short prompt plus the fusion and projection of a 60-token prompt.
		StepCost: 0.87,
		// With sources set, a multi-task EPT run on them (source.go); without, none.
		Needs: core.Needs{Artefacts: true},
		Published: &core.Published{
			Label: "EPT (paper, T5-Base)",
			Note: "per-task numbers not published; claims +12.9% max relative gain, −14% training time; " +
				"batch 16, 30,000 steps under 100k training examples and 300,000 above, rates searched in prompt {3e-1, 4e-1, 5e-1} × low-rank {1e-4, 5e-4, 5e-3}",
			// The abstract: "training time decreased by 14%".
			StepTime: "−14% vs PT (EPT paper)",
		},
		Tensors: &core.TensorDoc{
			Equation: "E' = E + (α/√r)·(A B)[pos];  F = softmax(P_s Kᵀ/√d) V with K = V = (α/√r)·A B;  P_f = P_s + F;  " +
				"P_ms = Σ_i g_i P_f W_down^(i) W_up^(i), g = softmax(W_g·mean_rows(P_f) + b_g);  H0 = [P_f + P_ms ; E']   (EPT reimpl.)",
			Tensors: []core.TensorRole{
				{Pattern: "prompt", Role: "P_s ∈ R^{m×d}: the short soft prompt (fused and projected before it is prepended)"},
				{Pattern: "lora_A", Role: "A ∈ R^{s×r}: DePT's position-wise offset factor"},
				{Pattern: "lora_B", Role: "B ∈ R^{r×d}: DePT's offset basis; (α/√r)·A B is the offset and the fusion's keys and values"},
				{Pattern: "proj_down", Role: "W_down ∈ R^{N×d×k}: the N spaces' down projections"},
				{Pattern: "proj_up", Role: "W_up ∈ R^{N×k×d}: the N spaces' up projections"},
				{Pattern: "gate_w", Role: "W_g ∈ R^{N×d}: the gate over the N spaces"},
				{Pattern: "gate_b", Role: "b_g ∈ R^N: the gate's bias"},
			},
		},
	}, DefaultConfig, func(c Config) core.Method { return &Method{cfg: c, dec: &dept.Method{Cfg: c.Config}} })
}

// Method is EPT.
type Method struct {
	cfg          Config
	dec          *dept.Method // P_s, A, B
	down, up     *ts.Tensor   // [N, d, k], [N, k, d]
	gateW, gateB *ts.Tensor   // [N, d], [N]
	d            int64
}

func (m *Method) Config() any { return m.cfg }
func (m *Method) KeyConfig() any {
	c := m.cfg
	return keyConfig{dept.KeyConfig(c.Config), c.Spaces, c.ProjRank, c.Gate, c.FusionKV, c.Fusion, c.Projection, c.ProjLR,
		c.Sources, c.SourceSeed, c.SourceSteps}
}
func (m *Method) PromptLength() int { return m.cfg.PromptLength }

// Setup creates the decomposition (as DePT) and the projection and gate (W_down Kaiming-
// uniform, W_up, W_g, b_g zeros).
func (m *Method) Setup(env core.SetupEnv) error {
	if err := m.dec.Setup(env); err != nil {
		return err
	}
	m.d = env.Backbone.Info().DModel
	N, k := int64(m.cfg.Spaces), int64(m.cfg.ProjRank)
	dev := env.Backbone.Device()
	var err error
	if m.down, err = dev.Param(dept.KaimingUniform([]int64{N, m.d, k}, m.d)); err != nil {
		return err
	}
	m.up = zerosParam(dev, N, k, m.d)
	m.gateW = zerosParam(dev, N, m.d)
	m.gateB = zerosParam(dev, N)
	return m.initFromSource(env) // source.go: no-op without sources
}

func zerosParam(d core.Device, shape ...int64) *ts.Tensor {
	t := ts.MustZeros(shape, gotch.Float, d.Torch())
	t.MustRequiresGrad_(true)
	return t
}

// CheckMaxSourceLen is DePT's (A's rows; see dept.Method.CheckMaxSourceLen).
func (m *Method) CheckMaxSourceLen(n int) error { return m.dec.CheckMaxSourceLen(n) }

// ParamGroups lists what trains; without the projection stage (the ablation) its weights and
// the gate take no part in the prompt, so they are neither trained nor counted.
func (m *Method) ParamGroups() []core.ParamGroup {
	groups := []core.ParamGroup{
		{Name: "prompt", LR: m.cfg.PromptLR, Params: []core.NamedTensor{{Name: "prompt", Tensor: m.dec.Prompt}}},
		{Name: "projection", LR: params.Rate(m.cfg.ProjLR, m.cfg.PromptLR), Params: []core.NamedTensor{
			{Name: "proj_down", Tensor: m.down}, {Name: "proj_up", Tensor: m.up},
			{Name: "gate_w", Tensor: m.gateW}, {Name: "gate_b", Tensor: m.gateB}}},
		{Name: "lowrank", LR: m.cfg.LowRankLR, Params: []core.NamedTensor{{Name: "lora_A", Tensor: m.dec.A}, {Name: "lora_B", Tensor: m.dec.B}}},
	}
	if m.cfg.Projection != nil && !*m.cfg.Projection {
		groups = slices.Delete(groups, 1, 2)
	}
	return groups
}

// Transform builds P* and applies the decomposition: H0 = [P* ; E + offset].
func (m *Method) Transform(in core.Input, train bool) (core.Input, error) {
	pStar, err := m.Reconstruct()
	if err != nil {
		return core.Input{}, err
	}
	defer pStar.MustDrop()
	return dept.ApplyDecomposition(m.dec, in, pStar)
}

// Reconstruct computes P* = P_f + P_ms from the current parameters ([m, d]).
func (m *Method) Reconstruct() (*ts.Tensor, error) {
	pf, err := m.fuse()
	if err != nil {
		return nil, err
	}
	if m.cfg.Projection != nil && !*m.cfg.Projection {
		return pf, nil
	}
	pms := m.project(pf)
	out := pf.MustAdd(pms, true)
	pms.MustDrop()
	return out, nil
}

// fuse is stage 2: P_f = P_s + softmax(P_s Kᵀ/√d) V.
func (m *Method) fuse() (*ts.Tensor, error) {
	ps := m.dec.Prompt
	if m.cfg.Fusion != nil && !*m.cfg.Fusion {
		return ps.MustShallowClone(), nil
	}
	var kv *ts.Tensor
	switch m.cfg.FusionKV {
	case "b":
		kv = m.dec.B.MustShallowClone()
	default:
		ab, err := m.dec.Offset(int64(m.dec.Cfg.MaxLen)) // (α/√r)·A B, all s rows (resolved by Setup)
		if err != nil {
			return nil, err
		}
		kv = ab
		if m.cfg.FusionKV == "prompt_ab" {
			kv = ts.MustCat([]*ts.Tensor{ps, ab}, 0)
			ab.MustDrop()
		}
	}
	kt := kv.MustTranspose(0, 1, false)
	scores := ps.MustMatmul(kt, false).MustMulScalar(ts.FloatScalar(1/math.Sqrt(float64(m.d))), true)
	kt.MustDrop()
	attn := scores.MustSoftmax(-1, gotch.Float, true)
	fused := attn.MustMatmul(kv, true)
	kv.MustDrop()
	pf := ps.MustAdd(fused, false)
	fused.MustDrop()
	return pf, nil
}

// project is stage 3: P_ms = Σ_i g_i · P_f W_down^{(i)} W_up^{(i)}.
func (m *Method) project(pf *ts.Tensor) *ts.Tensor {
	// spaces: [N, m, d] = P_f [m, d] @ down [N, d, k] @ up [N, k, d]
	low := pf.MustMatmul(m.down, false)  // [N, m, k]
	spaces := low.MustMatmul(m.up, true) // [N, m, d]
	var gate *ts.Tensor                  // broadcastable to [N, m, 1]
	if m.cfg.Gate == "token" {
		wt := m.gateW.MustTranspose(0, 1, false)
		logits := pf.MustMatmul(wt, false).MustAdd(m.gateB, true) // [m, N]
		wt.MustDrop()
		g := logits.MustSoftmax(-1, gotch.Float, true)             // [m, N]
		gate = g.MustTranspose(0, 1, true).MustUnsqueeze(-1, true) // [N, m, 1]
	} else {
		pooled := pf.MustMeanDim([]int64{0}, false, gotch.Float, false)    // [d]
		logits := m.gateW.MustMatmul(pooled, false).MustAdd(m.gateB, true) // [N]
		pooled.MustDrop()
		g := logits.MustSoftmax(-1, gotch.Float, true)
		gate = g.MustView([]int64{int64(m.cfg.Spaces), 1, 1}, true)
	}
	weighted := spaces.MustMul(gate, true)
	gate.MustDrop()
	return weighted.MustSumDimIntlist([]int64{0}, false, gotch.Float, true)
}

func (m *Method) Close() {
	m.dec.Close()
	params.Drop(&m.down, &m.up, &m.gateW, &m.gateB)
}
