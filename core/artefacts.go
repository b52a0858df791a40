package core

import (
	"crypto/sha256"
	"encoding/hex"
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

// ArtefactIdentity is everything an artefact's name is derived from, as recorded in the
// artefact file's metadata (`ptbench artefacts list`). Its name is RunIdentity.ArtefactName.
type ArtefactIdentity struct {
	Method   string       `json:"method"`
	Config   any          `json:"config"` // the method's resolved config
	Backbone string       `json:"backbone"`
	Tasks    []string     `json:"tasks"`
	DataHash string       `json:"data_hash"` // hash of the training examples of Tasks
	Seed     int64        `json:"seed"`
	Train    TrainOptions `json:"train"`
	Numerics *Numerics    `json:"numerics,omitempty"` // nil: the default numerics
}

// ArtefactName is the stable name of an identity: "<method>.<tasks>.s<seed>.<hash>", the hash
// over the whole identity (so another config, backbone, numerics, data or schedule is another
// name). It is RunIdentity.ArtefactName, so run keys and artefact names count the same options.
func ArtefactName(id ArtefactIdentity) (string, error) {
	rid := RunIdentity{Method: id.Method, Config: id.Config, Backbone: id.Backbone, Tasks: id.Tasks,
		DataHash: id.DataHash, Seed: id.Seed, Train: id.Train}
	if id.Numerics != nil {
		rid.Numerics = *id.Numerics
	}
	return rid.ArtefactName()
}

// DataHash fingerprints training examples (sources and targets, in order) so that a result
// or an artefact names the data it was trained on, not just the task.
func DataHash(examples ...[]Example) string {
	h := sha256.New()
	for _, exs := range examples {
		for _, e := range exs {
			h.Write([]byte(e.Source))
			h.Write([]byte{0})
			h.Write([]byte(e.Target))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
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
