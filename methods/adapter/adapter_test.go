package adapter

import (
	"math"
	"strings"
	"testing"

	_ "github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
)

func stats(x []float32) (mean, std float64) {
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	for _, v := range x {
		std += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, math.Sqrt(std / float64(len(x)))
}

// An adapter sits after the self-attention and the FFN of every block of both stacks, never
// after cross-attention; as the reference's _init_weights, W_down and W_up are N(0, 10⁻²)
// and both biases zero (a regression to a zero W_up or Kaiming bounds shows in the std);
// every layer norm trains and its weight is unfrozen until the session ends.
func TestSitesInitAndNorms(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	m := New(DefaultConfig(), 0)
	defer m.Close()
	core.SeedAll(1)
	sess, err := core.StartSession(bb, m, core.SetupEnv{Backbone: bb, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	roles := map[core.HookRole]int{}
	var down, up []float32
	for _, a := range m.Adapters() {
		roles[a.Site.Role]++
		for _, z := range [][]float32{core.Float32s(a.UpB), core.Float32s(a.DownB)} {
			for _, x := range z {
				if x != 0 {
					t.Fatalf("%s: a bias is not zero", a.Site.Name)
				}
			}
		}
		if s := a.Down.MustSize(); s[0] != 24 || s[1] != 64 {
			t.Errorf("%s: W_down %v", a.Site.Name, s)
		}
		if a.Act != "gelu_new" {
			t.Errorf("%s: activation %q, want gelu_new", a.Site.Name, a.Act)
		}
		down = append(down, core.Float32s(a.Down)...)
		up = append(up, core.Float32s(a.Up)...)
	}
	for name, w := range map[string][]float32{"W_down": down, "W_up": up} {
		if mean, std := stats(w); math.Abs(mean) > 2e-3 || math.Abs(std-1e-2) > 1e-3 {
			t.Errorf("%s: mean %.4g std %.4g, want N(0, 0.01)", name, mean, std)
		}
	}
	if roles[core.RoleSelfAttn] != 4 || roles[core.RoleFFN] != 4 || roles[core.RoleCrossAttn] != 0 {
		t.Errorf("adapters by role %v", roles)
	}
	groups := m.ParamGroups()
	if groups[0].LR != 3e-4 || groups[1].LR != 3e-4 {
		t.Errorf("learning rates %v / %v, want the reference's single 3e-4", groups[0].LR, groups[1].LR)
	}
	norms := groups[1].Params
	if len(norms) != 12 {
		t.Fatalf("%d norms", len(norms))
	}
	for _, n := range norms {
		if !n.Tensor.MustRequiresGrad() {
			t.Errorf("%s is frozen", n.Name)
		}
	}
	sess.Close()
	if w := core.UnfrozenWeight(bb); w != "" {
		t.Errorf("after the session %s still requires grad", w)
	}
}

// The config's activation and stds reach the adapters; bad values are refused.
func TestConfigReachesTheAdapters(t *testing.T) {
	for _, c := range []struct {
		raw   map[string]any
		valid bool
	}{
		{map[string]any{"activation": "relu", "up_std": 0}, true},
		{map[string]any{"activation": "silu"}, true},
		{map[string]any{"activation": "tanh"}, false},
		{map[string]any{"up_std": -1}, false},
		{map[string]any{"init_std": math.NaN()}, false},
	} {
		m, err := core.NewMethod("adapter", c.raw)
		if (err == nil) != c.valid {
			t.Errorf("%v: error %v, want valid %v", c.raw, err, c.valid)
		}
		if err == nil {
			m.Close()
		}
	}
}

// With weight decay the groups are the reference Trainer's: the adapters' weights and T5's
// layer norms decay, the adapters' biases do not; and only such a run's key changed.
func TestWeightDecayGroupsAsTheReference(t *testing.T) {
	bb := coretest.OpenPreset(t, "t5-tiny")
	cfg := DefaultConfig()
	cfg.WeightDecay = 0.01
	m := New(cfg, 0)
	defer m.Close()
	sess, err := core.StartSession(bb, m, core.SetupEnv{Backbone: bb, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	decayed := map[bool]int{}
	for _, g := range m.ParamGroups() {
		for _, p := range g.Params {
			if isBias := strings.HasSuffix(p.Name, ".bias"); isBias == (g.WeightDecay != 0) {
				t.Errorf("%s in group %s with weight decay %g", p.Name, g.Name, g.WeightDecay)
			}
			decayed[g.WeightDecay != 0]++
		}
	}
	if decayed[true] == 0 || decayed[false] == 0 {
		t.Errorf("decayed / not: %v", decayed)
	}
	if DefaultConfig().ConfigRevision() != 0 || cfg.ConfigRevision() != 1 {
		t.Error("the weight-decay fix must change the keys of decayed runs only")
	}
}
