package adapterdrop

import (
	"testing"

	"github.com/sugarme/gotch/ts"

	_ "github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
)

// Blocks below k have no adapter (their sublayer hook passes h through untouched, in
// training and evaluation); blocks at or above k have one on the self-attention and FFN
// sublayers, never on cross-attention. The layer norms train in every block.
func TestNoAdapterBelowK(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	for _, k := range []int{0, 1, 2, 5} {
		m, err := core.NewMethod("adapterdrop", map[string]any{"k": k})
		if err != nil {
			t.Fatal(err)
		}
		am := m.(*Method)
		sess, err := core.StartSession(bb, m, core.SetupEnv{Backbone: bb, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, a := range am.Adapters() {
			if a.Site.Layer < k {
				t.Errorf("k %d: adapter on %s (block %d)", k, a.Site.Name, a.Site.Layer)
			}
			if a.Site.Role == core.RoleCrossAttn {
				t.Errorf("k %d: adapter on cross-attention %s", k, a.Site.Name)
			}
			have[a.Site.Name] = true
		}
		if want := 2 * 2 * max(0, 2-k); len(have) != want { // 2 stacks × 2 sublayers × blocks ≥ k
			t.Errorf("k %d: %d adapters, want %d", k, len(have), want)
		}
		norms := m.ParamGroups()[1].Params
		if len(norms) != 2*2+2*3+2 {
			t.Errorf("k %d: %d trainable norms", k, len(norms))
		}
		hooks := am.Hooks()
		h := ts.MustOnes([]int64{1, 2, 64}, bb.Weights()[0].Tensor.DType(), bb.Weights()[0].Tensor.MustDevice())
		for _, s := range bb.HookSites() {
			if s.Kind != core.HookSublayer {
				continue
			}
			for _, train := range []bool{true, false} {
				out := hooks.Sublayer(core.HookCall{Site: s.Name, Batch: &core.Batch{Train: train}}, h)
				if (out == h) == have[s.Name] {
					t.Errorf("k %d: site %s (block %d) adapted %v, hook passed through %v", k, s.Name, s.Layer, have[s.Name], out == h)
				}
				if out != h {
					out.MustDrop()
				}
			}
		}
		h.MustDrop()
		sess.Close()
		m.Close()
	}
}

// k is a setting of its own; the adapter settings are inherited (the reference's), and the
// resolved config shows both.
func TestConfig(t *testing.T) {
	m, err := core.NewMethod("adapterdrop", map[string]any{"k": 3, "bottleneck": 8})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := m.Config().(Config)
	if c.K != 3 || c.Bottleneck != 8 || c.LR <= 0 {
		t.Fatalf("config %+v", c)
	}
	// The Compacter adapters_drop.json settings: gelu_new, W_up ~ N(0, 0.01), lr 3e-4, k 5.
	if d := DefaultConfig(); d.K != 5 || d.Activation != "gelu_new" || d.UpStd != 1e-2 || d.LR != 3e-4 || d.NormLR != 3e-4 {
		t.Errorf("defaults %+v", d)
	}
	if core.MethodLabel("adapterdrop", m) != "AdapterDrop" {
		t.Errorf("label %q", core.MethodLabel("adapterdrop", m))
	}
}
