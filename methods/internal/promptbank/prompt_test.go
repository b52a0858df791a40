package promptbank

import (
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// Prompt is PT's and SPoT's trainable state: one group "prompt" at its rate, P prepended to
// every row with its mask columns set, and Close frees P (twice is harmless).
func TestPromptGroupsPrependsAndCloses(t *testing.T) {
	p := &Prompt{P: ts.MustOnes([]int64{3, 4}, gotch.Float, gotch.CPU), LR: 0.3}
	g := p.ParamGroups()
	if len(g) != 1 || g[0].Name != "prompt" || g[0].LR != 0.3 || len(g[0].Params) != 1 ||
		g[0].Params[0].Name != "prompt" || g[0].Params[0].Tensor != p.P {
		t.Fatalf("groups %+v", g)
	}
	in := core.Input{Embeds: ts.MustZeros([]int64{2, 5, 4}, gotch.Float, gotch.CPU), Mask: ts.MustZeros([]int64{2, 5}, gotch.Float, gotch.CPU)}
	defer in.Drop()
	out, err := p.Transform(in, true)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Drop()
	if sz := out.Embeds.MustSize(); sz[0] != 2 || sz[1] != 8 || sz[2] != 4 {
		t.Errorf("embeds %v, want [2 8 4]", sz)
	}
	mask := core.Float32s(out.Mask) // row 0: three prompt columns, then the input's zeros
	if len(mask) != 16 || mask[0] != 1 || mask[2] != 1 || mask[3] != 0 {
		t.Errorf("mask %v", mask)
	}
	if e := core.Float32s(out.Embeds); e[0] != 1 || e[3*4] != 0 {
		t.Errorf("embeds row 0 starts %v", e[:16])
	}
	p.Close()
	p.Close()
	if p.P != nil {
		t.Error("Close kept P")
	}
}

func TestCheckVocabLimitOnlyForVocab(t *testing.T) {
	for _, c := range []struct {
		how   string
		limit int
		ok    bool
	}{{"vocab", 5000, true}, {"vocab", 0, false}, {"text", 0, true}} {
		if err := CheckVocabLimit(c.how, c.limit); (err == nil) != c.ok {
			t.Errorf("%s %d: %v", c.how, c.limit, err)
		}
	}
}
