package attempt_test

import (
	"math"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/methods/attempt"
	"github.com/ptbench/ptbench/methods/internal/promptbank"
)

// artefactNames are the tensors the fake artefact store hands out: source prompts are PT's
// "prompt", MPT's stage-1 state its "prompt_shared".
var artefactNames = map[string]string{"pt": "prompt", "mpt-source": "prompt_shared"}

func setup(t *testing.T, bb core.Backbone, raw map[string]any, store *coretest.Artefacts, maxLen int) *attempt.Method {
	t.Helper()
	m, err := core.NewMethod("attempt", raw)
	if err != nil {
		t.Fatal(err)
	}
	core.SeedAll(1)
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, Artefacts: store, MaxSourceLen: maxLen}); err != nil {
		m.Close()
		t.Fatal(err)
	}
	return m.(*attempt.Method)
}

// The reference trains P_t, W_down and W_up (230,400 on t5-base); train_layer_norm adds the
// LayerNorm's 2·d and gives the paper's 232K (231,936). One learning rate for everything,
// W_down and W_up drawn from N(0, 0.01), the LayerNorm frozen by default.
func TestParametersOnT5Base(t *testing.T) {
	coretest.LockThread(t)
	bb := coretest.NewEmbeddingOnly(5000, 768)
	defer bb.Close()
	for _, c := range []struct {
		raw  map[string]any
		want int64
	}{{nil, 230_400}, {map[string]any{"train_layer_norm": true}, 231_936}} {
		store := &coretest.Artefacts{D: 768, Names: artefactNames}
		m := setup(t, bb, c.raw, store, 256)
		if n := core.TrainableParams(m); n != c.want {
			t.Errorf("%v: ATTEMPT trains %d parameters, want %d", c.raw, n, c.want)
		}
		if store.Asked != 6 {
			t.Errorf("asked the store %d times, want one per source (6)", store.Asked)
		}
		lnTrained := false
		for _, g := range m.ParamGroups() {
			if g.LR != 0.3 {
				t.Errorf("group %s at lr %v, want the reference's single 0.3", g.Name, g.LR)
			}
			for _, p := range g.Params {
				if p.Name == "attn.down" || p.Name == "attn.up" {
					v := core.Float32s(p.Tensor)
					var s2 float64
					for _, x := range v {
						s2 += float64(x) * float64(x)
					}
					if std := math.Sqrt(s2 / float64(len(v))); math.Abs(std-0.01) > 5e-4 {
						t.Errorf("%s std %.4g, want N(0, 0.01)", p.Name, std)
					}
				}
				if p.Name == "attn.ln.weight" {
					lnTrained = true
				}
			}
		}
		if lnTrained != (c.raw != nil) {
			t.Errorf("%v: layer norm trained %v", c.raw, lnTrained)
		}
		m.Close()
	}
}

// At step 0 the target prompt is a copy of the first source prompt (MNLI), as run_seq2seq.py
// initialises prefix_shared from shared_params[0]; "vocab" starts it as PT instead.
func TestTargetStartsAsTheFirstSource(t *testing.T) {
	coretest.LockThread(t)
	bb := coretest.NewEmbeddingOnly(300, 16)
	defer bb.Close()
	store := &coretest.Artefacts{D: 16, Names: artefactNames}
	m := setup(t, bb, map[string]any{"sources": []any{"mnli", "qnli"}, "length": 4}, store, 32)
	defer m.Close()
	want := core.Float32s(store.Stored(promptbank.SourceSpec("mnli", 4, 42, 0)))
	got := core.Float32s(m.Target())
	if len(got) != len(want) {
		t.Fatalf("target %d values, mnli prompt %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("P_t[%d] = %v, MNLI source %v", i, got[i], want[i])
		}
	}
	if !m.Target().MustRequiresGrad() {
		t.Error("P_t does not train")
	}
	v := setup(t, bb, map[string]any{"sources": []any{"mnli", "qnli"}, "length": 4, "target_init": "vocab"}, store, 32)
	defer v.Close()
	if core.Float32s(v.Target())[0] == want[0] {
		t.Error(`target_init "vocab" still copied the MNLI prompt`)
	}
}

// The attention has n + 1 entries per example (the target is a candidate), each row sums to
// 1, and two different inputs get different prompts.
func TestAttentionOverSourcesAndTarget(t *testing.T) {
	coretest.LockThread(t)
	bb := coretest.NewEmbeddingOnly(300, 64)
	defer bb.Close()
	m := setup(t, bb, map[string]any{"sources": []any{"a", "b", "c"}, "length": 5, "temperature": 1, "attn_init_std": 0.3},
		&coretest.Artefacts{D: 64, Names: artefactNames}, 16)
	defer m.Close()
	if m.Candidates() != 4 {
		t.Fatalf("%d candidates, want n + 1 = 4", m.Candidates())
	}
	m.RecordWeights(true)
	b, err := core.CollateWith([]core.Encoded{{Source: []int64{5, 6, 7}}, {Source: []int64{200, 201}}}, core.CollateOptions{NoLabels: true}, core.PadRight, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	in := core.EmbedBatch(bb, b)
	defer in.Drop()
	x, err := m.Transform(in, false)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Drop()
	w := m.LastWeights
	if len(w) != 2*4 {
		t.Fatalf("weights %v, want 2 rows of n+1 = 4", w)
	}
	for r := 0; r < 2; r++ {
		s := 0.0
		for j := 0; j < 4; j++ {
			s += float64(w[4*r+j])
		}
		if math.Abs(s-1) > 1e-5 {
			t.Errorf("row %d weights %v sum to %v", r, w[4*r:4*r+4], s)
		}
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

// The target's attention weight follows the target: the gradient of the loss reaches P_t
// through both the mixture and its own key.
func TestTargetKeyIsLive(t *testing.T) {
	coretest.LockThread(t)
	bb := coretest.NewEmbeddingOnly(300, 8)
	defer bb.Close()
	m := setup(t, bb, map[string]any{"sources": []any{"a"}, "length": 2, "temperature": 1, "attn_init_std": 0.5}, &coretest.Artefacts{D: 8, Names: artefactNames}, 8)
	defer m.Close()
	b, _ := core.CollateWith([]core.Encoded{{Source: []int64{5, 6, 7}}}, core.CollateOptions{NoLabels: true}, core.PadRight, 0)
	defer b.Close()
	in := core.EmbedBatch(bb, b)
	defer in.Drop()
	before, err := m.Weights(in)
	if err != nil {
		t.Fatal(err)
	}
	w0 := core.Float32s(before)
	before.MustDrop()
	ts.NoGrad(func() { m.Target().MustAddScalar_(ts.FloatScalar(5)) })
	after, err := m.Weights(in)
	if err != nil {
		t.Fatal(err)
	}
	defer after.MustDrop()
	if w1 := core.Float32s(after); w1[1] == w0[1] {
		t.Errorf("changing P_t left its attention weight at %v", w1[1])
	}
}
