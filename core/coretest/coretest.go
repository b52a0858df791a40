// Package coretest holds test doubles shared by method tests: a backbone whose only real
// part is its embedding table, enough to create and count a method's parameters at real
// model widths (t5-base's d = 768) without building the model.
package coretest

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// LockThread pins the test's goroutine to one OS thread: libtorch's grad mode is per thread.
func LockThread(t testing.TB) {
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
}

// OpenPreset opens a registered backbone preset (the caller's package imports its backbone)
// with weight seed 1 and the test's thread locked, and closes it when the test ends.
func OpenPreset(t testing.TB, name string) core.Backbone {
	t.Helper()
	LockThread(t)
	bb, err := core.OpenBackbone(name, core.BackboneOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bb.Close)
	return bb
}

// EmbeddingOnly is a core.Backbone with an embedding table and nothing else; Loss and
// Generate fail.
type EmbeddingOnly struct {
	table *ts.Tensor
	d     int64
}

// NewEmbeddingOnly makes a [vocab, d] random table.
func NewEmbeddingOnly(vocab, d int64) *EmbeddingOnly {
	ts.ManualSeed(1)
	return &EmbeddingOnly{table: ts.MustRandn([]int64{vocab, d}, gotch.Float, gotch.CPU), d: d}
}

func (b *EmbeddingOnly) Info() core.BackboneInfo {
	return core.BackboneInfo{Name: "embedding-only", DModel: b.d, Vocab: b.table.MustSize()[0]}
}
func (b *EmbeddingOnly) Tokenizer() core.Tokenizer            { return byteTok{} }
func (b *EmbeddingOnly) EncodeSource(s string, n int) []int64 { return nil }
func (b *EmbeddingOnly) EncodeTarget(s string, n int) []int64 { return nil }
func (b *EmbeddingOnly) DecodeTarget(ids []int64) string      { return "" }
func (b *EmbeddingOnly) Collate(rows []core.Encoded, o core.CollateOptions) (*core.Batch, error) {
	return core.CollateWith(rows, o, core.PadRight, 0)
}
func (b *EmbeddingOnly) Embed(ids *ts.Tensor) *ts.Tensor {
	return ts.MustEmbedding(b.table, ids, -1, false, false)
}
func (b *EmbeddingOnly) Weights() []core.NamedTensor { return nil }
func (b *EmbeddingOnly) HookSites() []core.HookSite  { return nil }
func (b *EmbeddingOnly) SetHooks(*core.Hooks)        {}
func (b *EmbeddingOnly) Device() core.Device         { return core.CPU }
func (b *EmbeddingOnly) Close()                      { b.table.MustDrop() }
func (b *EmbeddingOnly) Loss(core.Input, *ts.Tensor) (*ts.Tensor, error) {
	panic("coretest.EmbeddingOnly has no model")
}
func (b *EmbeddingOnly) Generate(core.Input, core.GenerateOptions) ([][]int64, error) {
	panic("coretest.EmbeddingOnly has no model")
}

type byteTok struct{}

func (byteTok) Encode(s string) []int {
	out := make([]int, len(s))
	for i := range s {
		out[i] = int(s[i]) + 3
	}
	return out
}
func (byteTok) Decode(ids []int) string { return "" }
func (byteTok) VocabSize() int          { return 259 }

// Artefacts is an in-memory core.ArtefactStore for method tests: every spec gets one random
// [length, D] tensor under the name its method stores it (Names, given by the test: PT's
// "prompt", MPT stage 1's "prompt_shared"), the same values for the same spec. Asked counts
// calls.
type Artefacts struct {
	D     int64
	Names map[string]string // method → the name of the tensor its artefacts hold
	Asked int
	made  map[string][]core.NamedTensor
}

// Artefact returns copies of the spec's tensors (caller closes the artefact).
func (a *Artefacts) Artefact(spec core.ArtefactSpec) (*core.Artefact, error) {
	a.Asked++
	if a.made == nil {
		a.made = map[string][]core.NamedTensor{}
	}
	key := fmt.Sprintf("%s %v %v %d", spec.Method, spec.Config, spec.Tasks, spec.Seed)
	if _, ok := a.made[key]; !ok {
		length := int64(100)
		if l, ok := spec.Config["length"].(int); ok {
			length = int64(l)
		}
		name := a.Names[spec.Method]
		if name == "" {
			return nil, fmt.Errorf("coretest.Artefacts: no tensor name for method %q (set Names)", spec.Method)
		}
		ts.ManualSeed(int64(len(a.made) + 11))
		a.made[key] = []core.NamedTensor{{Name: name, Tensor: ts.MustRandn([]int64{length, a.D}, gotch.Float, gotch.CPU)}}
	}
	art := &core.Artefact{Name: key}
	for _, t := range a.made[key] {
		art.Tensors = append(art.Tensors, core.NamedTensor{Name: t.Name, Tensor: t.Tensor.MustShallowClone()})
	}
	return art, nil
}

// Stored returns the tensor the store made for spec (not a copy).
func (a *Artefacts) Stored(spec core.ArtefactSpec) *ts.Tensor {
	key := fmt.Sprintf("%s %v %v %d", spec.Method, spec.Config, spec.Tasks, spec.Seed)
	if ts := a.made[key]; len(ts) > 0 {
		return ts[0].Tensor
	}
	return nil
}
