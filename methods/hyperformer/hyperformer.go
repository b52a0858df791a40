// Package hyperformer is HyperFormer++ (Karimi Mahabadi et al., ACL 2021): one shared
// hypernetwork generates the weights of every adapter from a task, a layer and a position.
//
//	z_τ ∈ R^t      learned task embedding (t = 64), one per task of the run
//	l_i ∈ R^t      learned layer-id embedding, one per block (encoder blocks, then decoder)
//	p_j ∈ R^t      learned adapter-position embedding: after attention (0) or after the FFN (1)
//	I   = W_2 ReLU(W_1 [z_τ ; l_i ; p_j] + c_1) + c_2 ∈ R^t        (the task projector, hidden h = 128)
//	(W_down, b_down, W_up, b_up, γ, β) = heads(I)                  (linear heads, Hypernet)
//	h'  = h + LayerNorm_{γ,β}(W_up · GELU(W_down · h + b_down) + b_up)
//
// Adapters sit where the `adapter` method puts them — after the self-attention and the FFN
// sublayer of every encoder and decoder block — with bottleneck 24; each row of a batch gets
// the adapters of its own task (the batch carries every row's task). The backbone stays
// frozen, its layer norms included. At step 0 every generated adapter is the identity (the
// heads of W_up, b_up and β start at zero, γ at one), so the model equals the frozen backbone.
//
// Trainable parameters on t5-base with 8 tasks (d = 768, b = 24, t = 64, h = 128):
// heads 64·(2·24·768 + 24 + 3·768) + (2·24·768 + 24 + 3·768) = 2,547,480; projector
// 192·128 + 128 + 128·64 + 64 = 32,960; embeddings 8·64 + 24·64 + 2·64 = 2,176 — 2,582,616 in
// all, shared by the tasks (≈ 323K per task). DePT's table lists 638K per task: HyperFormer++'s
// own base configuration generates with larger projector/embedding sizes; these are settings.
//
// Trained multi-task (`ptbench run --multi-task`), the paper's setting; a single-task run is
// a one-task mixture.
package hyperformer

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// Config is HyperFormer's settings.
type Config struct {
	Bottleneck int     `json:"bottleneck"` // b
	TaskDim    int     `json:"task_dim"`   // t: task, layer and position embeddings; the projector's output
	HiddenDim  int     `json:"hidden_dim"` // the task projector's hidden size
	LR         float64 `json:"lr"`         // everything (Adam)
	MaxTasks   int     `json:"max_tasks"`  // task embeddings to allocate (0: the run's tasks)
}

// DefaultConfig is bottleneck 24 and 64-dimensional embeddings.
func DefaultConfig() Config { return Config{Bottleneck: 24, TaskDim: 64, HiddenDim: 128, LR: 3e-4} }

// Validate rejects settings that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Bottleneck <= 0 || c.TaskDim <= 0 || c.HiddenDim <= 0:
		return fmt.Errorf("bottleneck, task_dim and hidden_dim must be > 0 (got %d, %d, %d)", c.Bottleneck, c.TaskDim, c.HiddenDim)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("lr must be a positive number, got %v", c.LR)
	case c.MaxTasks < 0:
		return fmt.Errorf("max_tasks must be ≥ 0, got %d", c.MaxTasks)
	}
	return nil
}

func init() {
	core.RegisterConfigured("hyperformer", "HyperFormer++ (Karimi Mahabadi et al. 2021): one hypernetwork generates every adapter from task, layer and position embeddings",
		DefaultConfig, func(c Config) core.Method { return &Method{cfg: c} })
}

// Site is an adapter place: a sublayer site with its block index across both stacks and its
// position (0 after attention, 1 after the FFN).
type Site struct {
	core.HookSite
	Block, Position int
}

// AdapterSites picks the self-attention and FFN sublayer sites (by role) of the stacks given
// (nil: every stack) and numbers blocks across stacks, encoder first.
func AdapterSites(bb core.Backbone, stacks ...string) ([]Site, int) {
	want := map[string]bool{}
	for _, s := range stacks {
		want[s] = true
	}
	depth := map[string]int{} // blocks per stack, from the sublayer sites (norm and lm_head sites sit past the last block)
	for _, s := range bb.HookSites() {
		if s.Kind == core.HookSublayer {
			depth[s.Stack] = max(depth[s.Stack], s.Layer+1)
		}
	}
	var out []Site
	for _, s := range bb.HookSites() {
		if s.Kind != core.HookSublayer || (s.Role != core.RoleSelfAttn && s.Role != core.RoleFFN) {
			continue
		}
		if len(want) > 0 && !want[s.Stack] {
			continue
		}
		block := s.Layer
		if s.Stack == "decoder" {
			block += depth["encoder"]
		}
		pos := 0
		if s.Role == core.RoleFFN {
			pos = 1
		}
		out = append(out, Site{HookSite: s, Block: block, Position: pos})
	}
	return out, depth["encoder"] + depth["decoder"]
}

// Method is HyperFormer++.
type Method struct {
	cfg                      Config
	tasks, layers, positions *ts.Tensor // [K, t], [blocks, t], [2, t]
	proj                     *Projector // task projector
	net                      *Hypernet
	sites                    map[string]Site
	nTasks                   int
}

func (m *Method) Config() any   { return m.cfg }
func (m *Method) Label() string { return "HyperFormer++" }

// Setup makes the embeddings, the projector and the heads for the backbone's adapter sites.
func (m *Method) Setup(env core.SetupEnv) error {
	sites, blocks := AdapterSites(env.Backbone)
	if len(sites) == 0 {
		return fmt.Errorf("hyperformer: the backbone lists no self-attention or FFN sublayer sites")
	}
	m.sites = map[string]Site{}
	for _, s := range sites {
		m.sites[s.Name] = s
	}
	m.nTasks = max(1, len(env.Tasks), m.cfg.MaxTasks)
	t, h := int64(m.cfg.TaskDim), int64(m.cfg.HiddenDim)
	randn := func(shape ...int64) *ts.Tensor {
		return ts.MustRandn(shape, gotch.Float, gotch.CPU).MustMulScalar(ts.FloatScalar(0.5), true)
	}
	m.tasks, m.layers, m.positions = randn(int64(m.nTasks), t), randn(int64(blocks), t), randn(2, t)
	m.proj = NewProjector(t, h)
	for _, x := range []*ts.Tensor{m.tasks, m.layers, m.positions} {
		x.MustRequiresGrad_(true)
	}
	m.net = NewHypernet(sites[0].Out, int64(m.cfg.Bottleneck), t)
	return nil
}

func (m *Method) ParamGroups() []core.ParamGroup {
	g := core.ParamGroup{Name: "hypernetwork", LR: m.cfg.LR, Params: []core.NamedTensor{
		{Name: "task_embeddings", Tensor: m.tasks}, {Name: "layer_embeddings", Tensor: m.layers},
		{Name: "position_embeddings", Tensor: m.positions},
	}}
	g.Params = append(g.Params, m.proj.Params()...)
	g.Params = append(g.Params, m.net.Params()...)
	return []core.ParamGroup{g}
}

// sourceEmbeddings is I for each row of a batch at one site: [R, t].
func (m *Method) sourceEmbeddings(taskIdx []int64, s Site) (*ts.Tensor, error) {
	for _, k := range taskIdx {
		if k < 0 || k >= int64(m.nTasks) {
			return nil, fmt.Errorf("hyperformer: row task %d outside the %d task embeddings", k, m.nTasks)
		}
	}
	idx := ts.MustOfSlice(taskIdx)
	z := m.tasks.MustIndexSelect(0, idx, false) // [R, t]
	idx.MustDrop()
	defer z.MustDrop()
	return m.proj.Project(z, m.layers, m.positions, s.Block, s.Position), nil
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

// GenerateFor returns the adapter weights a site gets for the given task of each row (tests
// and inspection; caller drops).
func (m *Method) GenerateFor(site string, taskIdx []int64) (Generated, error) {
	s, ok := m.sites[site]
	if !ok {
		return Generated{}, fmt.Errorf("hyperformer: no adapter at %s", site)
	}
	src, err := m.sourceEmbeddings(taskIdx, s)
	if err != nil {
		return Generated{}, err
	}
	defer src.MustDrop()
	return m.net.Generate(src), nil
}

// Sites lists the adapter sites' names.
func (m *Method) Sites() []string {
	var out []string
	for n := range m.sites {
		out = append(out, n)
	}
	return out
}

// Hooks applies each row's generated adapter at every adapter site.
func (m *Method) Hooks() *core.Hooks {
	return &core.Hooks{Sublayer: func(c core.HookCall, h *ts.Tensor) *ts.Tensor {
		if _, ok := m.sites[c.Site]; !ok {
			return h
		}
		g, err := m.GenerateFor(c.Site, rowTasks(c.Batch, h.MustSize()[0]))
		if err != nil {
			panic(err) // becomes the run's error (the grid recovers panics into failed rows)
		}
		defer g.Drop()
		return g.Apply(h)
	}}
}

func (m *Method) Close() {
	for _, x := range []*ts.Tensor{m.tasks, m.layers, m.positions} {
		if x != nil {
			x.MustDrop()
		}
	}
	if m.proj != nil {
		m.proj.Close()
	}
	if m.net != nil {
		m.net.Close()
	}
	*m = Method{cfg: m.cfg}
}
