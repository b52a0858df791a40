package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/ptbench/ptbench/core"
)

// packStub is an input method that declares packable rows; the variants below add one
// interface each that must keep a run out of a pack.
type packStub struct{ packs bool }

func (*packStub) Setup(core.SetupEnv) error                           { return nil }
func (*packStub) ParamGroups() []core.ParamGroup                      { return nil }
func (*packStub) Config() any                                         { return nil }
func (*packStub) Close()                                              {}
func (*packStub) Transform(in core.Input, _ bool) (core.Input, error) { return in, nil }
func (s *packStub) PacksRows() bool                                   { return s.packs }

type hookedStub struct{ packStub }

func (*hookedStub) Hooks() *core.Hooks { return nil }

// plainStub declares rows but is neither an input nor a hook method; hookOnly is a hook
// method without a Transform (LoRA-like).
type plainStub struct{ packs bool }

func (*plainStub) Setup(core.SetupEnv) error      { return nil }
func (*plainStub) ParamGroups() []core.ParamGroup { return nil }
func (*plainStub) Config() any                    { return nil }
func (*plainStub) Close()                         {}
func (s *plainStub) PacksRows() bool              { return s.packs }

type hookOnly struct{ plainStub }

func (*hookOnly) Hooks() *core.Hooks { return nil }

type lossStub struct{ packStub }

func (*lossStub) TrainingLoss(core.Backbone, core.Input, *core.Batch) (*ts.Tensor, error) {
	return nil, nil
}

type editorStub struct{ packStub }

func (*editorStub) EditsWeights() bool { return true }

type artefactStub struct{ packStub }

func (*artefactStub) NeededArtefacts() []core.ArtefactSpec { return []core.ArtefactSpec{{}} }

type beginStub struct{ packStub }

func (*beginStub) Begin(*core.Batch) error { return nil }

// backboneStub answers Info; packerStub is also a core.Packer.
type backboneStub struct{ core.Backbone }

func (backboneStub) Info() core.BackboneInfo { return core.BackboneInfo{Name: "stub"} }

type packerStub struct{ backboneStub }

func (packerStub) PackPadSide() core.PadSide                    { return core.PadRight }
func (packerStub) PackSlack() float64                           { return core.DefaultPackSlack }
func (packerStub) PackAuto(core.PackShape, int64) (int, string) { return core.PackAutoOf(false, 0, 0) }
func (packerStub) BlockLosses(core.Input, *ts.Tensor, []int64) (*ts.Tensor, []float64, error) {
	return nil, nil, nil
}

func TestPackableAdmitsOnlyDeclaredRowIndependentMethods(t *testing.T) {
	t5like := packerStub{}
	cases := []struct {
		name string
		bb   core.Backbone
		m    core.Method
		want string // "" = packable; else a part of the refusal
	}{
		{"declared input method", t5like, &packStub{packs: true}, ""},
		{"undeclared", t5like, &packStub{packs: false}, "core.RowPacker"},
		{"declared input method with hooks", t5like, &hookedStub{packStub{true}}, ""},
		{"declared hook method", t5like, &hookOnly{plainStub{true}}, ""},
		{"undeclared hook method", t5like, &hookOnly{plainStub{false}}, "core.RowPacker"},
		{"neither input nor hook method", t5like, &plainStub{true}, "neither"},
		{"own loss", t5like, &lossStub{packStub{true}}, "own loss"},
		{"edits weights", t5like, &editorStub{packStub{true}}, "weights"},
		{"artefacts", t5like, &artefactStub{packStub{true}}, "artefacts"},
		{"declared, with a per-batch Begin", t5like, &beginStub{packStub{true}}, ""},
		{"backbone that does not pack", backboneStub{}, &packStub{packs: true}, "core.Packer"},
	}
	for _, c := range cases {
		err := Packable(c.bb, c.m)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want a refusal naming %q", c.name, err, c.want)
		}
	}
}

func TestLengthGroupsBoundPadding(t *testing.T) {
	cases := []struct {
		lengths []int64
		slack   float64
		want    string
	}{
		{[]int64{130, 90, 95, 131}, core.DefaultPackSlack, "[[1 2] [0 3]]"}, // PT (100 + s) apart from DePT (60 + s)
		{[]int64{100, 110, 125}, core.DefaultPackSlack, "[[0 1 2]]"},        // within 1.25× of the shortest: one pass
		{[]int64{100, 126}, core.DefaultPackSlack, "[[0] [1]]"},             // just beyond
		{[]int64{50}, core.DefaultPackSlack, "[[0]]"},
		{[]int64{130, 90, 300}, 0, "[[0 1 2]]"}, // a Packer's slack ≤ 1: every length in one pass
		{[]int64{130, 90, 300}, 2, "[[0 1] [2]]"},
	}
	for _, c := range cases {
		members := make([]int, len(c.lengths))
		for i := range members {
			members[i] = i
		}
		got := fmt.Sprint(lengthGroups(members, func(k int) int64 { return c.lengths[k] }, c.slack))
		if got != c.want {
			t.Errorf("lengthGroups(%v) = %s, want %s", c.lengths, got, c.want)
		}
	}
}
