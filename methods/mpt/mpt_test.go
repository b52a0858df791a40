package mpt_test

import (
	"fmt"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	_ "github.com/ptbench/ptbench/methods/attempt"
	"github.com/ptbench/ptbench/methods/mpt"
	_ "github.com/ptbench/ptbench/methods/spot"
)

// artefactNames are the tensors the fake artefact store hands out: source prompts are PT's
// "prompt", MPT's stage-1 state its "prompt_shared".
var artefactNames = map[string]string{"pt": "prompt", "mpt-source": "prompt_shared"}

// stage1 is a store holding a stage-1 artefact with known P*, u_k and v_k (K = 2, l = 3,
// d = 4): u_1 = 1,2,3, u_2 = 3,4,5; v_1 = 1…4, v_2 = 2…5.
type stage1 struct{ asked int }

func (s *stage1) Artefact(spec core.ArtefactSpec) (*core.Artefact, error) {
	s.asked++
	mk := func(vals []float32, shape ...int64) *ts.Tensor {
		return ts.MustOfSlice(vals).MustView(shape, true)
	}
	return &core.Artefact{Name: "stage1", Tensors: []core.NamedTensor{
		{Name: "prompt_shared", Tensor: mk([]float32{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}, 3, 4)},
		{Name: "u", Tensor: mk([]float32{1, 2, 3, 3, 4, 5}, 2, 3)},
		{Name: "v", Tensor: mk([]float32{1, 2, 3, 4, 2, 3, 4, 5}, 2, 4)},
	}}, nil
}

// u and v start from stage 1's factors as PEFT's init choices say: "average" the mean over
// the sources, "exact" one source's, "ones" ones; P* is stage 1's.
func TestTargetFactorsStartFromTheSourceFactors(t *testing.T) {
	coretest.LockThread(t)
	bb := coretest.NewEmbeddingOnly(50, 4)
	defer bb.Close()
	for _, c := range []struct {
		raw  map[string]any
		u, v []float32
	}{
		{map[string]any{}, []float32{2, 3, 4}, []float32{1.5, 2.5, 3.5, 4.5}},
		{map[string]any{"init": "exact", "init_task": 1}, []float32{3, 4, 5}, []float32{2, 3, 4, 5}},
		{map[string]any{"init": "ones"}, []float32{1, 1, 1}, []float32{1, 1, 1, 1}},
	} {
		c.raw["sources"], c.raw["length"] = []any{"a", "b"}, 3
		m, err := core.NewMethod("mpt", c.raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, Artefacts: &stage1{}}); err != nil {
			t.Fatal(err)
		}
		got := map[string][]float32{}
		for _, g := range m.ParamGroups() {
			for _, p := range g.Params {
				got[p.Name] = core.Float32s(p.Tensor)
			}
		}
		for name, want := range map[string][]float32{"u": c.u, "v": c.v, "prompt_shared": {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}} {
			if fmt.Sprint(got[name]) != fmt.Sprint(want) {
				t.Errorf("%v: %s = %v, want %v", c.raw["init"], name, got[name], want)
			}
		}
		m.Close()
	}
	if _, err := core.NewMethod("mpt", map[string]any{"init": "exact", "init_task": 6}); err == nil {
		t.Error("init_task beyond the sources was accepted")
	}
}

// MPT trains l·d + l + d parameters on t5-base (77,668).
func TestCountOnT5Base(t *testing.T) {
	coretest.LockThread(t)
	bb := coretest.NewEmbeddingOnly(5000, 768)
	defer bb.Close()
	m, err := core.NewMethod("mpt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, Artefacts: &core.UntrainedArtefacts{Backbone: bb}}); err != nil {
		t.Fatal(err)
	}
	if n := core.TrainableParams(m); n != 77668 {
		t.Errorf("MPT trains %d parameters, want 77,668", n)
	}
	if c := mpt.DefaultConfig(); c.Init != "average" {
		t.Errorf("default init %q, want average (PEFT's AVERAGE_SOURCE_TASKS)", c.Init)
	}
}

func TestSourceStageNeedsItsSourcesAsTasks(t *testing.T) {
	coretest.LockThread(t)
	bb := coretest.NewEmbeddingOnly(300, 64)
	defer bb.Close()
	m, err := core.NewMethod("mpt-source", map[string]any{"sources": []any{"a", "b"}, "length": 4})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Setup(core.SetupEnv{Backbone: bb, Tasks: []string{"a"}, Artefacts: &coretest.Artefacts{D: 64, Names: artefactNames}}); err == nil {
		t.Fatal("mpt-source set up on one task of two")
	}
	store := &coretest.Artefacts{D: 64, Names: artefactNames}
	if err := m.Setup(core.SetupEnv{Backbone: bb, Tasks: []string{"a", "b"}, Artefacts: store}); err != nil {
		t.Fatal(err)
	}
	// P* (l·d) + u_k (K·l) + v_k (K·d).
	if n := core.TrainableParams(m); n != 4*64+2*4+2*64 {
		t.Errorf("stage 1 trains %d", n)
	}
}

// With an untrained store (what `ptbench params` uses) the counts come out without training.
func TestCountsWithUntrainedArtefacts(t *testing.T) {
	coretest.LockThread(t)
	bb := coretest.NewEmbeddingOnly(5000, 768)
	defer bb.Close()
	for name, want := range map[string]int64{"mpt": 77668, "attempt": 230400, "spot": 76800} {
		m, err := core.NewMethod(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, Artefacts: &core.UntrainedArtefacts{Backbone: bb}}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n := core.TrainableParams(m); n != want {
			t.Errorf("%s: %d trainable, want %d", name, n, want)
		}
		m.Close()
	}
}
