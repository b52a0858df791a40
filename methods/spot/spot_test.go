package spot_test

import (
	"testing"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
	"github.com/ptbench/ptbench/methods/internal/promptbank"
	_ "github.com/ptbench/ptbench/methods/spot"
)

// artefactNames are the tensors the fake artefact store hands out: source prompts are PT's
// "prompt", MPT's stage-1 state its "prompt_shared".
var artefactNames = map[string]string{"pt": "prompt", "mpt-source": "prompt_shared"}

// SPoT's initial prompt is the stored source prompt bit for bit; its budget is PT's.
func TestStartsFromTheSourcePrompt(t *testing.T) {
	coretest.LockThread(t)
	bb := coretest.NewEmbeddingOnly(5000, 768)
	defer bb.Close()
	store := &coretest.Artefacts{D: 768, Names: artefactNames}
	m, err := core.NewMethod("spot", map[string]any{"source": "sst2"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, Artefacts: store}); err != nil {
		t.Fatal(err)
	}
	if n := core.TrainableParams(m); n != 76800 {
		t.Errorf("SPoT trains %d parameters, want 76,800", n)
	}
	want := core.Float32s(store.Stored(promptbank.SourceSpec("sst2", 100, 42, 0)))
	got := core.Float32s(m.ParamGroups()[0].Params[0].Tensor)
	if len(got) != len(want) {
		t.Fatalf("prompt has %d values, source %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("value %d: %v, source %v", i, got[i], want[i])
		}
	}
	// Without a store the error says how to get the source.
	m2, _ := core.NewMethod("spot", nil)
	defer m2.Close()
	if err := m2.Setup(core.SetupEnv{Backbone: bb}); err == nil {
		t.Fatal("Setup without an artefact store succeeded")
	}
}
