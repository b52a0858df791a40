package adapter

import (
	"testing"

	_ "github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
)

// An adapter sits after the self-attention and the FFN of every block of both stacks, never
// after cross-attention; W_up and both biases start at zero; every layer norm trains and
// its weight is unfrozen until the session ends.
func TestSitesInitAndNorms(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	m := New(DefaultConfig(), 0)
	defer m.Close()
	sess, err := core.StartSession(bb, m, core.SetupEnv{Backbone: bb, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	roles := map[core.HookRole]int{}
	for _, a := range m.Adapters() {
		roles[a.Site.Role]++
		for _, z := range [][]float32{core.Float32s(a.Up), core.Float32s(a.UpB), core.Float32s(a.DownB)} {
			for _, x := range z {
				if x != 0 {
					t.Fatalf("%s: W_up or a bias is not zero", a.Site.Name)
				}
			}
		}
		if s := a.Down.MustSize(); s[0] != 24 || s[1] != 64 {
			t.Errorf("%s: W_down %v", a.Site.Name, s)
		}
	}
	if roles[core.RoleSelfAttn] != 4 || roles[core.RoleFFN] != 4 || roles[core.RoleCrossAttn] != 0 {
		t.Errorf("adapters by role %v", roles)
	}
	norms := m.ParamGroups()[1].Params
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
