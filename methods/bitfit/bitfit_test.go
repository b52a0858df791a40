package bitfit

import (
	"strings"
	"testing"

	_ "github.com/ptbench/ptbench/backbones/t5"
	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
)

// A zero bias on every attention and FFN linear, every layer norm and the LM head, sized by
// the site's output; nothing else; trained at the reference's 3e-4.
func TestBiasSites(t *testing.T) {
	coretest.LockThread(t)
	bb, err := core.OpenBackbone("t5-tiny", core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	m := &Method{cfg: DefaultConfig()}
	defer m.Close()
	if err := m.Setup(core.SetupEnv{Backbone: bb}); err != nil {
		t.Fatal(err)
	}
	var linear, norms int
	for _, s := range bb.HookSites() {
		b, ok := m.bySite[s.Name]
		switch {
		case s.Kind == core.HookSublayer:
			if ok {
				t.Errorf("bias on sublayer %s", s.Name)
			}
			continue
		case strings.HasSuffix(s.Name, "final_layer_norm"): // the reference's has no bias
			if ok {
				t.Errorf("bias on %s", s.Name)
			}
			continue
		case !ok:
			t.Errorf("no bias on %s", s.Name)
			continue
		}
		if n := b.MustSize(); len(n) != 1 || n[0] != s.Out {
			t.Errorf("%s: bias %v, out %d", s.Name, n, s.Out)
		}
		for _, x := range core.Float32s(b) {
			if x != 0 {
				t.Fatalf("%s: bias not zero", s.Name)
			}
		}
		if s.Kind == core.HookNorm {
			norms++
		} else {
			linear++
		}
	}
	// 6 attentions × 4 + 4 FFNs × 2 + lm_head; 10 block norms (not the 2 final ones).
	if linear != 6*4+4*2+1 || norms != 10 {
		t.Errorf("%d linear biases, %d norm biases", linear, norms)
	}
	if g := m.ParamGroups()[0]; g.LR != 3e-4 || g.WeightDecay != 0 {
		t.Errorf("lr %v, weight decay %v: want the reference configs' 3e-4 and 0", g.LR, g.WeightDecay)
	}
	for _, p := range m.ParamGroups()[0].Params {
		if !strings.HasSuffix(p.Name, ".bias") {
			t.Errorf("parameter %s", p.Name)
		}
	}
}

// Weight decay would do nothing in the reference (its Trainer never decays a bias), so a run
// that asks for it is refused before anything loads, naming the setting.
func TestWeightDecayIsRefused(t *testing.T) {
	if _, err := core.NewMethod("bitfit", map[string]any{"weight_decay": 0.01}); err == nil || !strings.Contains(err.Error(), "weight_decay") {
		t.Errorf("weight_decay 0.01: error %v, want one naming weight_decay", err)
	}
	if _, err := core.NewMethod("bitfit", map[string]any{"weight_decay": 0}); err != nil {
		t.Errorf("weight_decay 0: %v", err)
	}
}
