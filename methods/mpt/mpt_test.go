package mpt_test

import (
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	_ "github.com/ptbench/ptbench/methods/attempt"
	"github.com/ptbench/ptbench/methods/mpt"
	_ "github.com/ptbench/ptbench/methods/spot"
)

// At step 0 MPT's prompt equals P*, and it trains l·d + l + d parameters.
func TestStartsAtTheSharedPrompt(t *testing.T) {
	coretest.LockThread(t)
	bb := coretest.NewEmbeddingOnly(5000, 768)
	defer bb.Close()
	store := &coretest.Artefacts{D: 768}
	m, err := core.NewMethod("mpt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, Artefacts: store}); err != nil {
		t.Fatal(err)
	}
	if n := core.TrainableParams(m); n != 77668 {
		t.Errorf("MPT trains %d parameters, want 77,668", n)
	}
	mm := m.(*mpt.Method)
	p := mm.Prompt()
	defer p.MustDrop()
	got := core.Float32s(p)
	want := core.Float32s(store.Stored(mm.NeededArtefacts()[0]))
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("value %d: P = %v, P* = %v", i, got[i], want[i])
		}
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
	if err := m.Setup(core.SetupEnv{Backbone: bb, Tasks: []string{"a"}, Artefacts: &coretest.Artefacts{D: 64}}); err == nil {
		t.Fatal("mpt-source set up on one task of two")
	}
	store := &coretest.Artefacts{D: 64}
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
	for name, want := range map[string]int64{"mpt": 77668, "attempt": 231936, "spot": 76800} {
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
