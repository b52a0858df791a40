package core

import (
	"fmt"
	"strings"
)

// ArtefactSpec asks for a trained method state by what it is, not by a file: "the PT prompt
// (these settings) trained on sst2 with seed 42 over this backbone". The harness completes
// the identity with the backbone, the data and its own training options.
type ArtefactSpec struct {
	Method string         `json:"method"`           // the registered method's name
	Config map[string]any `json:"config,omitempty"` // raw settings; the method resolves them
	Tasks  []string       `json:"tasks"`            // trained on these (several = multi-task)
	Seed   int64          `json:"seed"`
	Steps  int            `json:"steps,omitempty"` // 0: the harness's --steps
}

// Artefact is a stored method state.
type Artefact struct {
	Name    string            // stable name (see ArtefactName)
	Tensors []NamedTensor     // the method's tensors; Close frees them
	Meta    map[string]string // method, config, tasks, backbone, seed, data hash
}

// Close frees the tensors.
func (a *Artefact) Close() {
	if a != nil {
		DropNamed(a.Tensors)
		a.Tensors = nil
	}
}

// Tensor returns the tensor called name, or an error naming what the artefact holds.
func (a *Artefact) Tensor(name string) (NamedTensor, error) {
	var have []string
	for _, t := range a.Tensors {
		if t.Name == name {
			return t, nil
		}
		have = append(have, t.Name)
	}
	return NamedTensor{}, fmt.Errorf("artefact %s has no tensor %q (has %v)", a.Name, name, have)
}

// ArtefactStore finds a stored artefact, or trains it first (as its own run, recorded with
// the other results) when it is missing. The same spec never trains twice.
type ArtefactStore interface {
	Artefact(spec ArtefactSpec) (*Artefact, error)
}

// UntrainedArtefacts is an ArtefactStore that trains nothing: it sets the artefact's method up
// on the backbone and hands out its freshly initialised parameters. Counting parameters or
// checking shapes (`ptbench params`) needs the artefacts' shapes, not their training.
type UntrainedArtefacts struct {
	Backbone Backbone
	Seed     int64
}

// Artefact returns the untrained parameters of spec's method (caller closes).
func (u *UntrainedArtefacts) Artefact(spec ArtefactSpec) (*Artefact, error) {
	m, err := NewMethod(spec.Method, spec.Config)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if err := m.Setup(SetupEnv{Backbone: u.Backbone, Seed: spec.Seed, MaxSourceLen: 256, Task: strings.Join(spec.Tasks, "+"),
		Tasks: spec.Tasks, Artefacts: u}); err != nil {
		return nil, err
	}
	art := &Artefact{Name: "untrained." + spec.Method}
	for _, g := range m.ParamGroups() {
		for _, p := range g.Params {
			art.Tensors = append(art.Tensors, NamedTensor{Name: p.Name, Tensor: DetachedCopy(p.Tensor)})
		}
	}
	return art, nil
}
