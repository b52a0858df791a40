package ept

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
	"github.com/ptbench/ptbench/core/coretest"
)

// sourceStore serves one artefact: the tensors of a trained (here: randomised) EPT.
type sourceStore struct {
	tensors []core.NamedTensor
	asked   []core.ArtefactSpec
}

func (s *sourceStore) Artefact(spec core.ArtefactSpec) (*core.Artefact, error) {
	s.asked = append(s.asked, spec)
	art := &core.Artefact{Name: "ept.source"}
	for _, t := range s.tensors {
		art.Tensors = append(art.Tensors, core.NamedTensor{Name: t.Name, Tensor: t.Tensor.MustShallowClone()})
	}
	return art, nil
}

// With sources, every EPT tensor starts as the source run's; the source run is EPT with the
// same settings, no sources, trained multi-task on them at seed 42; without sources nothing is
// asked and the run key's config is unchanged.
func TestSourcesInitialiseEveryTensor(t *testing.T) {
	coretest.LockThread(t)
	bb := coretest.NewEmbeddingOnly(500, 32)
	defer bb.Close()
	// The "trained" source: a from-scratch EPT whose tensors are then randomised.
	src, err := core.NewMethod("ept", map[string]any{"init": "vocab", "length": 6, "rank": 4})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.Setup(core.SetupEnv{Backbone: bb, Seed: 9, MaxSourceLen: 16}); err != nil {
		t.Fatal(err)
	}
	store := &sourceStore{}
	for _, g := range src.ParamGroups() {
		for _, p := range g.Params {
			r := ts.MustRandn(p.Tensor.MustSize(), gotch.Float, gotch.CPU)
			store.tensors = append(store.tensors, core.NamedTensor{Name: p.Name, Tensor: r})
		}
	}
	defer core.DropNamed(store.tensors)

	m, err := core.NewMethod("ept", map[string]any{"init": "vocab", "length": 6, "rank": 4, "sources": []any{"mnli", "qnli"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	specs := m.(core.ArtefactUser).NeededArtefacts()
	if len(specs) != 1 || specs[0].Method != "ept" || strings.Join(specs[0].Tasks, ",") != "mnli,qnli" || specs[0].Seed != 42 {
		t.Fatalf("source spec %+v", specs)
	}
	if _, has := specs[0].Config["sources"]; has || specs[0].Config["length"] != float64(6) {
		t.Errorf("source config %v: want this run's settings without sources", specs[0].Config)
	}
	if err := m.Setup(core.SetupEnv{Backbone: bb, Seed: 1, MaxSourceLen: 16, Artefacts: store}); err != nil {
		t.Fatal(err)
	}
	want := map[string]*ts.Tensor{}
	for _, nt := range store.tensors {
		want[nt.Name] = nt.Tensor
	}
	n := 0
	for _, g := range m.ParamGroups() {
		for _, p := range g.Params {
			n++
			if !p.Tensor.MustEqual(want[p.Name], false) {
				t.Errorf("%s does not start as the source's", p.Name)
			}
			if !p.Tensor.MustRequiresGrad() {
				t.Errorf("%s no longer trains after the copy", p.Name)
			}
		}
	}
	if n != 7 {
		t.Errorf("%d tensors, want 7 (prompt, A, B, W_down, W_up, W_g, b_g)", n)
	}

	// A source of another shape is refused, naming the tensor.
	bad, _ := core.NewMethod("ept", map[string]any{"init": "vocab", "length": 7, "rank": 4, "sources": []any{"mnli"}})
	defer bad.Close()
	if err := bad.Setup(core.SetupEnv{Backbone: bb, Seed: 1, MaxSourceLen: 16, Artefacts: store}); err == nil || !strings.Contains(err.Error(), "prompt has shape") {
		t.Errorf("mismatched source: err = %v", err)
	}

	// Without sources: no artefact, and the key config does not mention them.
	plain, _ := core.NewMethod("ept", map[string]any{"init": "vocab"})
	defer plain.Close()
	if specs := plain.(core.ArtefactUser).NeededArtefacts(); len(specs) != 0 {
		t.Errorf("a plain EPT asks for %v", specs)
	}
	b, _ := json.Marshal(plain.(interface{ KeyConfig() any }).KeyConfig())
	if strings.Contains(string(b), "source") {
		t.Errorf("a plain EPT's key config mentions sources: %s", b)
	}
}
