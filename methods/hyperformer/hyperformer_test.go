package hyperformer_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	_ "github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/methods/hyperformer"
)

func tiny(t *testing.T) core.Backbone {
	t.Helper()
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bb.Close)
	return bb
}

func batch(t *testing.T, bb core.Backbone, tasks ...int) *core.Batch {
	t.Helper()
	var rows []core.Encoded
	for i, k := range tasks {
		rows = append(rows, core.Encoded{Source: bb.EncodeSource([]string{"some input", "another one here"}[i%2], 32),
			Target: bb.EncodeTarget("yes", 4), Task: k})
	}
	b, err := bb.Collate(rows, core.CollateOptions{Train: true, TaskNames: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func loss(t *testing.T, bb core.Backbone, m core.Method, b *core.Batch) float64 {
	t.Helper()
	x, err := core.MethodInput(bb, m, b)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Drop()
	l, err := bb.Loss(x, b.Labels)
	if err != nil {
		t.Fatal(err)
	}
	defer l.MustDrop()
	return l.Float64Values()[0]
}

func setup(t *testing.T, bb core.Backbone) (*hyperformer.Method, *core.Session) {
	t.Helper()
	m, err := core.NewMethod("hyperformer", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	sess, err := core.StartSession(bb, m, core.SetupEnv{Backbone: bb, Seed: 1, Tasks: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sess.Close)
	return m.(*hyperformer.Method), sess
}

// Generated adapters differ between tasks and are identical for the same task.
func TestGeneratedWeightsPerTask(t *testing.T) {
	coretest.LockThread(t)
	bb := tiny(t)
	m, _ := setup(t, bb)
	site := m.Sites()[0]
	g, err := m.GenerateFor(site, []int64{0, 1, 0})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Drop()
	down := core.Float32s(g.DownT) // [3, d, b]
	n := len(down) / 3
	if !slices.Equal(down[:n], down[2*n:]) {
		t.Error("the same task got different adapters")
	}
	if slices.Equal(down[:n], down[n:2*n]) {
		t.Error("two tasks got the same adapter")
	}
	if g.Gamma == nil || g.Beta == nil {
		t.Error("no layer norm generated after the adapter")
	}
}

// Each stack has its own hypernetwork (the reference builds one per T5Stack): both stacks'
// parameter sets exist, named as the reference's modules, with the projected embedding's
// layer norm; and the same task, block and block type get different adapters in the two stacks.
func TestOneHypernetworkPerStack(t *testing.T) {
	coretest.LockThread(t)
	bb := tiny(t)
	m, _ := setup(t, bb)
	names := map[string]bool{}
	for _, g := range m.ParamGroups() {
		for _, p := range g.Params {
			names[p.Name] = true
		}
	}
	for _, stack := range []string{"encoder", "decoder"} {
		for _, n := range []string{"layer_id_embeddings.weight", "adapters_block_type.weight", "LayerNorm.weight",
			"task_hypernet.task_embeding_generator.0.weight", "up_sampler_hyper_net.weight_generator.0.weight",
			"down_sampler_hyper_net.bias_generator.0.weight", "post_layernorm_hypernet.weight_generator.weight"} {
			if full := stack + ".adapter_layers_hyper_net." + n; !names[full] {
				t.Errorf("no parameter %s", full)
			}
		}
	}
	gen := func(site string) []float32 {
		g, err := m.GenerateFor(site, []int64{0})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Drop()
		return core.Float32s(g.DownT)
	}
	enc, dec := gen("encoder.block.0.layer.1.DenseReluDense"), gen("decoder.block.0.layer.2.DenseReluDense")
	if slices.Equal(enc, dec) {
		t.Error("encoder and decoder block 0 FFN adapters are the same: one hypernetwork for both stacks")
	}
}

// Adapters sit after every self-attention and FFN sublayer of both stacks, never after
// cross-attention.
func TestAdapterSites(t *testing.T) {
	coretest.LockThread(t)
	bb := tiny(t)
	m, _ := setup(t, bb)
	sites := m.Sites()
	want := 0
	for _, s := range bb.HookSites() {
		if s.Kind == core.HookSublayer && (s.Role == core.RoleSelfAttn || s.Role == core.RoleFFN) {
			want++
		}
		if s.Kind == core.HookSublayer && s.Role == core.RoleCrossAttn && slices.Contains(sites, s.Name) {
			t.Errorf("adapter at cross-attention %s", s.Name)
		}
	}
	if len(sites) != want {
		t.Errorf("%d adapter sites, want %d", len(sites), want)
	}
}

// A step trains the hypernetworks, the task embeddings and T5's layer norms
// (unfreeze_layer_norms) and nothing else of the backbone; closing the session restores and
// refreezes the norms.
func TestTrainsTheHypernetworksAndT5LayerNorms(t *testing.T) {
	coretest.LockThread(t)
	bb := tiny(t)
	b := batch(t, bb, 0, 1)
	before := map[string][]float32{}
	for _, w := range bb.Weights() {
		before[w.Name] = core.Float32s(w.Tensor)
	}
	m, sess := setup(t, bb)
	if _, err := sess.Step(b, 1, 1); err != nil {
		t.Fatal(err)
	}
	norms := 0
	for _, g := range m.ParamGroups() {
		for _, p := range g.Params {
			if gr := p.Tensor.MustGrad(false); !gr.MustDefined() {
				t.Errorf("%s got no gradient", p.Name)
			}
			if g.Name == "layer_norms" {
				norms++
			}
		}
	}
	isNorm := map[string]bool{}
	for _, s := range bb.HookSites() {
		if s.Kind == core.HookNorm {
			isNorm[s.Name+".weight"] = true
		}
	}
	if norms != len(isNorm) || norms == 0 {
		t.Fatalf("%d layer norms train, the backbone has %d", norms, len(isNorm))
	}
	for _, w := range bb.Weights() {
		changed := !slices.Equal(before[w.Name], core.Float32s(w.Tensor))
		if changed != isNorm[w.Name] {
			t.Errorf("backbone weight %s: changed %v, is a layer norm %v", w.Name, changed, isNorm[w.Name])
		}
	}
	sess.Close()
	for _, w := range bb.Weights() {
		if w.Tensor.MustRequiresGrad() || !slices.Equal(before[w.Name], core.Float32s(w.Tensor)) {
			t.Errorf("after the session %s is trainable or not restored", w.Name)
		}
	}
}

// The reference's initialisation: every generator weight N(0, 10⁻⁴) and bias zero
// (linear_layer), so a generated layer-norm weight γ is the raw head output, near zero (not
// 1 + a head, which would make the adapter start at full scale), and the model does not start
// exactly as the frozen backbone.
func TestInitialisationIsTheReferences(t *testing.T) {
	coretest.LockThread(t)
	bb := tiny(t)
	b := batch(t, bb, 0, 1)
	plain := loss(t, bb, noop{}, b)
	m, _ := setup(t, bb)
	for _, g := range m.ParamGroups() {
		for _, p := range g.Params {
			if !strings.Contains(p.Name, "_generator") && !strings.Contains(p.Name, "hyper_net.") {
				continue
			}
			v := core.Float32s(p.Tensor)
			var sq float64
			for _, x := range v {
				sq += float64(x) * float64(x)
			}
			std := math.Sqrt(sq / float64(len(v)))
			if strings.HasSuffix(p.Name, ".bias") && std != 0 {
				t.Errorf("%s: bias not zero", p.Name)
			}
			if strings.HasSuffix(p.Name, ".weight") && len(v) > 1000 && math.Abs(std-1e-2) > 1e-3 {
				t.Errorf("%s: std %v, want 1e-2", p.Name, std)
			}
		}
	}
	g, err := m.GenerateFor(m.Sites()[0], []int64{0})
	if err != nil {
		t.Fatal(err)
	}
	var big float64
	for _, x := range core.Float32s(g.Gamma) {
		big = math.Max(big, math.Abs(float64(x)))
	}
	g.Drop()
	if big > 0.5 {
		t.Errorf("generated γ reaches %v; the reference's starts near 0", big)
	}
	if got := loss(t, bb, m, b); got == plain {
		t.Error("step-0 loss equals the frozen backbone's: the adapters start as the identity")
	}
}

// TestParameterCountOnT5Base: the package doc's count, with 8 tasks.
func TestParameterCountOnT5Base(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-base", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	m, _ := core.NewMethod("hyperformer", nil)
	defer m.Close()
	tasks := []string{"cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte"}
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, Tasks: tasks}); err != nil {
		t.Fatal(err)
	}
	if n := core.TrainableParams(m); n != 5211056 {
		t.Errorf("HyperFormer++ on t5-base with 8 tasks: %d trainable, want 5,211,056", n)
	}
}

type noop struct{}

func (noop) Setup(core.SetupEnv) error      { return nil }
func (noop) ParamGroups() []core.ParamGroup { return nil }
func (noop) Config() any                    { return nil }
func (noop) Close()                         {}
func (noop) Hooks() *core.Hooks             { return nil }
