// Package hyperformer is HyperFormer++ (Karimi Mahabadi et al., ACL 2021) as its reference
// code computes it (rabeehk/hyperformer, configs/hyperformer++.json: meta-adapter with
// efficient_unique_hyper_net). Each stack (encoder, decoder) has one hypernetwork that
// generates every adapter of the stack from a task, a layer and a block type:
//
//	z_τ ∈ R^t    learned task embedding (t = 64), one per task of the run, N(0, 1)
//	l_i ∈ R^t    layer-id embedding of block i of this stack
//	p_j ∈ R^t    block-type embedding: FFN (0) or self-attention (1)
//	s   = LN(W_2 ReLU(W_1 [z_τ ; l_i ; p_j] + c_1) + c_2) ∈ R^p      (hidden 128, p = 64, LN ε 1e-6)
//	W_down, b_down, W_up, b_up, γ, β = linear heads of s           (b = d / 32)
//	y'  = y + LayerNorm_{γ,β}(W_up · gelu_new(W_down · y + b_down) + b_up)
//
// on the output y of every self-attention and FFN sublayer (not cross-attention), before
// dropout and the residual; each row of a batch gets the adapters of its own task. Every
// linear of the projector and the heads starts N(0, 10⁻⁴) with zero bias (linear_layer), so
// γ starts near zero and the model starts close to, not equal to, the frozen backbone. T5's
// own layer norms train too (unfreeze_layer_norms: true); the rest of T5 is frozen. One
// learning rate, 3e-4, for everything.
//
// Trainable parameters on t5-base with 8 tasks (d = 768, b = 24, t = p = 64, hidden 128):
// per stack, embeddings (12 + 2)·64 = 896, projector 192·128 + 128 + 128·64 + 64 = 32,960,
// its layer norm 128, up heads 64·18,432 + 18,432 + 64·768 + 768 = 1,248,000, down heads
// 64·18,432 + 18,432 + 64·24 + 24 = 1,199,640, layer-norm heads 2·(64·768 + 768) = 99,840:
// 2,581,464; two stacks 5,162,928, task embeddings 8·64 = 512, T5's 62 layer norms 47,616 —
// 5,211,056 in all, 651,382 per task (the published 638K per task is 2% below).
//
// Trained multi-task (`ptbench run --multi-task`), the paper's setting; a single-task run is
// a one-task mixture.
package hyperformer

import (
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/methods/internal/adapters"
	"github.com/ptbench/ptbench/methods/internal/hypernet"
	"github.com/ptbench/ptbench/methods/internal/params"
)

// Config is HyperFormer++'s settings, named as the reference's adapter arguments are; each
// field's doc tag is its line in `ptbench methods hyperformer`.
type Config struct {
	ReductionFactor int     `json:"reduction_factor" check:">0" doc:"the adapters' bottleneck is d_model / reduction_factor"`
	TaskDim         int     `json:"task_embedding_dim" check:">0" doc:"t, the size of the task, layer-id and block-type embeddings"`
	ProjectedDim    int     `json:"projected_task_embedding_dim" check:">0" doc:"p, the projector's output size (the heads' input)"`
	TaskHiddenDim   int     `json:"task_hidden_dim" check:">0" doc:"the task projector's hidden size"`
	Activation      string  `json:"non_linearity" doc:"the adapters' nonlinearity: relu, gelu_new, gelu or silu"`
	InitStd         float64 `json:"init_std" check:"finite>=0" doc:"std of every generator weight (the reference's linear_layer default, 1e-2)"`
	ProjectedNorm   bool    `json:"unique_hyper_net_layer_norm" doc:"layer norm on the projected task embedding"`
	TrainNorms      bool    `json:"unfreeze_layer_norms" doc:"train T5's layer norms"`
	LR              float64 `json:"lr" check:"finite>0" doc:"learning rate of everything trained (AdamW)"`
	MaxTasks        int     `json:"max_tasks" check:">=0" doc:"task embeddings to allocate (0: the run's tasks)"`
}

// DefaultConfig is configs/hyperformer++.json with the training_args defaults it leaves
// unset: reduction factor 32, t = p = 64, hidden 128, gelu_new, std 10⁻², the projected
// embedding's layer norm on, T5's layer norms trained, lr 3e-4.
func DefaultConfig() Config {
	return Config{ReductionFactor: 32, TaskDim: 64, ProjectedDim: 64, TaskHiddenDim: 128,
		Activation: string(adapters.GeLUNew), InitStd: 1e-2, ProjectedNorm: true, TrainNorms: true, LR: 3e-4}
}

// Validate checks the activation by its own list (adapters.Activation); the check tags
// hold the rest.
func (c Config) Validate() error { return adapters.Activation(c.Activation).Validate() }

func init() {
	core.RegisterConfigured(core.Description{
		Name: "hyperformer", Label: "HyperFormer++", Family: core.FamilyBackbone,
		// AdamW's ε as the reference trains it: third_party/trainers/t5_trainer.py builds AdamW with
		// eps=args.adam_epsilon, TrainingArguments' 1e-8 (docs/fidelity.md).
		AdamEps: 1e-8,
		About:   "HyperFormer++ (Karimi Mahabadi et al. 2021): per stack, one hypernetwork generates every adapter from task, layer and block-type embeddings; T5's layer norms train",
		// Estimated: adapters (no prompt lengthens the input) plus their per-batch generation.
		StepCost: 0.85,
	}, DefaultConfig, func(c Config) core.Method { return &Method{cfg: c} })
}

// Site is an adapter place: a self-attention or FFN sublayer site, its block within its
// stack and its block type (blockFFN or blockSelfAttn).
type Site struct {
	core.HookSite
	Block, BlockType int
}

// AdapterSites picks the self-attention and FFN sublayer sites of the backbone and the
// number of blocks of each stack.
func AdapterSites(bb core.Backbone) ([]Site, map[string]int) {
	depth := map[string]int{}
	var out []Site
	for _, s := range bb.HookSites() {
		if s.Kind != core.HookSublayer {
			continue
		}
		depth[s.Stack] = max(depth[s.Stack], s.Layer+1)
		switch s.Role {
		case core.RoleSelfAttn:
			out = append(out, Site{HookSite: s, Block: s.Layer, BlockType: blockSelfAttn})
		case core.RoleFFN:
			out = append(out, Site{HookSite: s, Block: s.Layer, BlockType: blockFFN})
		}
	}
	return out, depth
}

// Method is HyperFormer++.
type Method struct {
	cfg    Config
	act    adapters.Activation
	tasks  *ts.Tensor // [K, t]
	nTasks int
	nets   map[string]*stackNet // by stack
	order  []string             // stacks in backbone order
	sites  map[string]Site
	norms  []core.NamedTensor // T5's layer-norm weights (borrowed from the backbone)
}

func (m *Method) Config() any { return m.cfg }

// EditsWeights: training T5's layer norms changes backbone weights, which the harness
// restores after the run.
func (m *Method) EditsWeights() bool { return m.cfg.TrainNorms }

// Setup makes the task embeddings and one hypernetwork per stack, and unfreezes the
// backbone's layer norms.
func (m *Method) Setup(env core.SetupEnv) error {
	sites, depth := AdapterSites(env.Backbone)
	if len(sites) == 0 {
		return fmt.Errorf("hyperformer: the backbone lists no self-attention or FFN sublayer sites")
	}
	m.act = adapters.Activation(m.cfg.Activation)
	m.sites, m.nets = map[string]Site{}, map[string]*stackNet{}
	for _, s := range sites {
		m.sites[s.Name] = s
		if m.nets[s.Stack] != nil {
			continue
		}
		net, err := newStackNet(env.Backbone.Device(), s.Stack, depth[s.Stack], s.Out, m.cfg)
		if err != nil {
			m.Close()
			return err
		}
		m.nets[s.Stack] = net
		m.order = append(m.order, s.Stack)
	}
	m.nTasks = max(1, len(env.Tasks), m.cfg.MaxTasks)
	var err error
	if m.tasks, err = hypernet.NewEmbedding(env.Backbone.Device(), int64(m.nTasks), int64(m.cfg.TaskDim)); err != nil {
		m.Close()
		return fmt.Errorf("hyperformer: task embeddings: %w", err)
	}
	if m.cfg.TrainNorms {
		if m.norms, err = unfreezeNorms(env.Backbone); err != nil {
			m.Close()
			return fmt.Errorf("hyperformer: %w", err)
		}
	}
	return nil
}

// unfreezeNorms makes every layer-norm weight of the backbone (each norm hook site's
// site + ".weight": T5's T5LayerNorm modules, final norms included) require grad.
func unfreezeNorms(bb core.Backbone) ([]core.NamedTensor, error) {
	weights := map[string]*ts.Tensor{}
	for _, w := range bb.Weights() {
		weights[w.Name] = w.Tensor
	}
	var out []core.NamedTensor
	for _, s := range bb.HookSites() {
		if s.Kind != core.HookNorm {
			continue
		}
		w, ok := weights[s.Name+".weight"]
		if !ok {
			return nil, fmt.Errorf("norm site %s has no backbone weight %s.weight", s.Name, s.Name)
		}
		if err := w.RequiresGrad_(true); err != nil {
			return nil, err
		}
		out = append(out, core.NamedTensor{Name: s.Name + ".weight", Tensor: w})
	}
	return out, nil
}

func (m *Method) ParamGroups() []core.ParamGroup {
	g := core.ParamGroup{Name: "hypernetwork", LR: m.cfg.LR, Params: []core.NamedTensor{
		{Name: "task_embedding_controller.task_to_embeddings", Tensor: m.tasks}}}
	for _, st := range m.order {
		g.Params = append(g.Params, m.nets[st].params()...)
	}
	groups := []core.ParamGroup{g}
	if len(m.norms) > 0 {
		groups = append(groups, core.ParamGroup{Name: "layer_norms", LR: m.cfg.LR, Params: m.norms})
	}
	return groups
}

// GenerateFor returns the adapters a site gets for the given task of each row (tests and
// inspection; caller drops).
func (m *Method) GenerateFor(site string, taskIdx []int64) (hypernet.Generated, error) {
	s, ok := m.sites[site]
	if !ok {
		return hypernet.Generated{}, fmt.Errorf("hyperformer: no adapter at %s", site)
	}
	for _, k := range taskIdx {
		if k < 0 || k >= int64(m.nTasks) {
			return hypernet.Generated{}, fmt.Errorf("hyperformer: row task %d outside the %d task embeddings", k, m.nTasks)
		}
	}
	idx, err := ts.OfSlice(taskIdx)
	if err == nil {
		idx, err = core.OnDeviceOf(idx, m.tasks) // the rows' tasks, where the embeddings are
	}
	if err != nil {
		return hypernet.Generated{}, err
	}
	z, err := m.tasks.IndexSelect(0, idx, false) // [R, t]
	idx.MustDrop()
	if err != nil {
		return hypernet.Generated{}, err
	}
	net := m.nets[s.Stack]
	src, err := net.source(z, s.Block, s.BlockType)
	z.MustDrop()
	if err != nil {
		return hypernet.Generated{}, err
	}
	defer src.MustDrop()
	return net.heads.Generate(src)
}

// Sites lists the adapter sites' names.
func (m *Method) Sites() []string {
	var out []string
	for n := range m.sites {
		out = append(out, n)
	}
	return out
}

// rowTasks is each row's task index (task 0 without a batch).
func rowTasks(b *core.Batch, rows int64) []int64 {
	out := make([]int64, rows)
	if b != nil {
		for i := range out {
			if i < len(b.Tasks) {
				out[i] = int64(b.Tasks[i])
			}
		}
	}
	return out
}

// apply is y + Δ(y) with each row's generated adapter.
func (m *Method) apply(c core.HookCall, y *ts.Tensor) (*ts.Tensor, error) {
	g, err := m.GenerateFor(c.Site, rowTasks(c.Batch, y.MustSize()[0]))
	if err != nil {
		return nil, err
	}
	defer g.Drop()
	d, err := g.Delta(y, m.act)
	if err != nil {
		return nil, err
	}
	out, err := y.Add(d, false)
	d.MustDrop()
	return out, err
}

// Hooks applies each row's generated adapter at every adapter site.
func (m *Method) Hooks() *core.Hooks {
	return &core.Hooks{Sublayer: func(c core.HookCall, y *ts.Tensor) *ts.Tensor {
		if _, ok := m.sites[c.Site]; !ok {
			return y
		}
		out, err := m.apply(c, y)
		if err != nil {
			panic(fmt.Errorf("hyperformer at %s: %w", c.Site, err)) // the grid recovers it as the run's error
		}
		return out
	}}
}

// Close frees the method's tensors; the layer norms belong to the backbone (the harness
// refreezes and restores them).
func (m *Method) Close() {
	params.Drop(&m.tasks)
	for _, n := range m.nets {
		n.close()
	}
	*m = Method{cfg: m.cfg}
}
