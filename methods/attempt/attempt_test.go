package attempt_test

import (
	"math"
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/methods/attempt"
)

func TestParameterCountOnT5Base(t *testing.T) {
	coretest.LockThread(t)
	bb := coretest.NewEmbeddingOnly(5000, 768)
	defer bb.Close()
	m, err := core.NewMethod("attempt", nil) // six sources
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	store := &coretest.Artefacts{D: 768}
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, Artefacts: store}); err != nil {
		t.Fatal(err)
	}
	if n := core.TrainableParams(m); n != 231936 {
		t.Errorf("ATTEMPT trains %d parameters, want 231,936", n)
	}
	if store.Asked != 6 {
		t.Errorf("asked the store %d times, want one per source (6)", store.Asked)
	}
}

// Attention weights sum to 1 per example, and two different inputs get different prompts.
func TestAttentionPerExample(t *testing.T) {
	coretest.LockThread(t)
	bb := coretest.NewEmbeddingOnly(300, 64)
	defer bb.Close()
	m, err := core.NewMethod("attempt", map[string]any{"sources": []any{"a", "b", "c"}, "length": 5, "temperature": 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, Artefacts: &coretest.Artefacts{D: 64}}); err != nil {
		t.Fatal(err)
	}
	am := m.(*attempt.Method)
	am.RecordWeights(true)
	b, err := core.CollateWith([]core.Encoded{{Source: []int64{5, 6, 7}}, {Source: []int64{200, 201}}}, core.CollateOptions{NoLabels: true}, core.PadRight, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	in := core.EmbedBatch(bb, b)
	defer in.Drop()
	x, err := am.Transform(in, false)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Drop()
	w := am.LastWeights
	if len(w) != 6 {
		t.Fatalf("weights %v, want 2 rows of 3", w)
	}
	for r := 0; r < 2; r++ {
		if s := w[3*r] + w[3*r+1] + w[3*r+2]; math.Abs(float64(s)-1) > 1e-6 {
			t.Errorf("row %d weights %v sum to %v", r, w[3*r:3*r+3], s)
		}
	}
	if w[0] == w[3] && w[1] == w[4] {
		t.Errorf("two different inputs got the same attention %v", w)
	}
	p := core.Float32s(x.Embeds) // [2, 5+3, 64]: the prompt is the first 5 rows of each example
	same := true
	for i := 0; i < 5*64; i++ {
		if p[i] != p[8*64+i] {
			same = false
		}
	}
	if same {
		t.Error("two different inputs got the same prompt")
	}
}
